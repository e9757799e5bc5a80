data "aws_partition" "current" {}
data "aws_caller_identity" "current" {}

locals {
  bucket_arn = "arn:${data.aws_partition.current.partition}:s3:::${var.bucket}"

  # Both delivery modes invoke the functions for every object-created event.
  events = ["s3:ObjectCreated:*"]

  # S3 notification filters take one suffix each: one rule per (trigger, suffix), with an id
  # unique in the bucket's configuration.
  notification_rules = flatten([
    for key, t in var.triggers : [
      for suffix in(length(t.suffixes) > 0 ? t.suffixes : [null]) : {
        id            = "${key}${suffix == null ? "" : "-${trimprefix(suffix, ".")}"}"
        key           = key
        function_arn  = t.function_arn
        function_name = t.function_name
        filter_prefix = t.prefix
        filter_suffix = suffix
      }
    ]
  ])
}

resource "aws_lambda_permission" "s3" {
  for_each = var.mode == "notification" ? var.triggers : {}

  statement_id   = "${var.name}-s3-${each.key}"
  action         = "lambda:InvokeFunction"
  function_name  = each.value.function_name
  principal      = "s3.amazonaws.com"
  source_arn     = local.bucket_arn
  source_account = data.aws_caller_identity.current.account_id
}

resource "aws_s3_bucket_notification" "this" {
  count = var.manage_notification ? 1 : 0

  bucket      = var.bucket
  eventbridge = var.mode == "eventbridge" ? true : null

  dynamic "lambda_function" {
    for_each = var.mode == "notification" ? local.notification_rules : []
    content {
      id                  = lambda_function.value.id
      lambda_function_arn = lambda_function.value.function_arn
      events              = local.events
      filter_prefix       = lambda_function.value.filter_prefix
      filter_suffix       = lambda_function.value.filter_suffix
    }
  }

  # S3 checks that it may invoke each function when the configuration is written.
  depends_on = [aws_lambda_permission.s3]
}

resource "aws_cloudwatch_event_rule" "this" {
  for_each = var.mode == "eventbridge" ? var.triggers : {}

  name        = "${var.name}-${each.key}"
  description = "Objects created under s3://${var.bucket}/${each.value.prefix}"
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail = {
      bucket = { name = [var.bucket] }
      object = {
        key = length(each.value.suffixes) > 0 ? [
          for suffix in each.value.suffixes : { wildcard = "${each.value.prefix}*${suffix}" }
        ] : [{ prefix = each.value.prefix }]
      }
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "this" {
  for_each = aws_cloudwatch_event_rule.this

  rule      = each.value.name
  target_id = "invoke"
  arn       = var.triggers[each.key].function_arn
}

resource "aws_lambda_permission" "eventbridge" {
  for_each = aws_cloudwatch_event_rule.this

  statement_id  = "${var.name}-events-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = var.triggers[each.key].function_name
  principal     = "events.amazonaws.com"
  source_arn    = each.value.arn
}
