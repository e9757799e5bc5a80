data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id

  log_group_name = "/aws/lambda/${var.name}"
  log_group_arn  = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"

  package = var.package != null ? var.package : {
    filename         = module.package[0].filename
    source_code_hash = module.package[0].source_code_hash
  }

  # Powertools for AWS Lambda (Python) publishes its layer from one account in every commercial
  # region, from a different account in each GovCloud region, and in China only in cn-north-1:
  # https://github.com/aws-powertools/powertools-lambda-python/blob/develop/docs/getting-started/install.md
  # (published as https://docs.aws.amazon.com/powertools/python/latest/getting-started/install/).
  # A region missing here has no published layer: the precondition below says what to do.
  powertools_commercial_account = "017000801446"
  powertools_region_accounts = {
    "cn-north-1"    = "498634801083"
    "us-gov-east-1" = "165087284144"
    "us-gov-west-1" = "165093116878"
  }
  powertools_account = local.partition == "aws" ? local.powertools_commercial_account : lookup(local.powertools_region_accounts, local.region, null)
  powertools_layer_arn = var.powertools_layer.arn != null ? var.powertools_layer.arn : (
    local.powertools_account == null ? null : join(":", [
      "arn", local.partition, "lambda", local.region, local.powertools_account, "layer",
      "AWSLambdaPowertoolsPythonV3-${replace(var.runtime, ".", "")}-${var.architecture}",
      tostring(var.powertools_layer.version),
    ])
  )
  layers = concat(var.powertools_layer.enabled && local.powertools_layer_arn != null ? [local.powertools_layer_arn] : [], var.layers)

  # Decided from inputs alone, so plans never depend on values known only after apply.
  has_failure_destination = var.async_invocation.create_failure_queue || var.async_invocation.failure_destination_arn != null
  # Built from the queue's name, so the role policy and the destination are known at plan.
  failure_queue_arn       = var.async_invocation.create_failure_queue ? "arn:${local.partition}:sqs:${local.region}:${local.account_id}:${var.name}-failures" : null
  failure_destination_arn = var.async_invocation.create_failure_queue ? local.failure_queue_arn : var.async_invocation.failure_destination_arn

  environment = merge(
    {
      POWERTOOLS_SERVICE_NAME = var.name
      POWERTOOLS_LOG_LEVEL    = var.logging.level == "WARN" ? "WARNING" : var.logging.level
      # The handlers import the Tracer only when tracing is on, which keeps cold starts short.
      TRACING_ENABLED           = var.tracing_mode == "Active" ? "true" : "false"
      POWERTOOLS_TRACE_DISABLED = var.tracing_mode == "Active" ? "false" : "true"
    },
    var.environment,
  )
  # Lambda limits a function's environment variables to 4 KB in aggregate
  # (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html) and measures them
  # as the JSON object of names and values: its error quotes that string ("String measured:",
  # https://github.com/github-aws-runners/terraform-aws-github-runner/issues/3594).
  # jsonencode writes <, > and & as six-character escapes that Lambda's JSON does not, so they
  # are counted back as one character each.
  environment_size = length(jsonencode(local.environment)) - 5 * sum(concat([0], [
    for key, value in local.environment : length(regexall("[<>&]", "${key}${value}"))
  ]))
}

module "package" {
  source = "../lambda-package"
  count  = var.package == null ? 1 : 0

  source_dir  = var.source_dir
  output_path = "${path.root}/.build/${var.name}.zip"
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:KMS encryption is opt-in through logging.kms_key_arn; CloudWatch Logs encrypts at rest by default.
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (logging.retention_in_days, default 30 days); a year of handler logs is rarely wanted.
  name              = local.log_group_name
  retention_in_days = var.logging.retention_in_days
  kms_key_id        = var.logging.kms_key_arn
  tags              = var.tags
}

resource "aws_sqs_queue" "failures" {
  count = var.async_invocation.create_failure_queue ? 1 : 0

  name                      = "${var.name}-failures"
  message_retention_seconds = var.async_invocation.failure_queue_retention_days * 86400
  sqs_managed_sse_enabled   = var.async_invocation.failure_queue_kms_key_arn == null ? true : null
  kms_master_key_id         = var.async_invocation.failure_queue_kms_key_arn
  tags                      = var.tags
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:Failed asynchronous events go to the on-failure destination of aws_lambda_function_event_invoke_config, which also records the error; a DLQ would duplicate it.
  #checkov:skip=CKV_AWS_117:A VPC is opt-in through vpc_config; the handlers call public AWS endpoints.
  #checkov:skip=CKV_AWS_272:The package is zipped from source by Terraform; code signing needs a signing profile the caller owns.
  #checkov:skip=CKV_AWS_173:Environment variables hold no secrets (tokens are read from Secrets Manager); a customer managed key is opt-in through kms_key_arn.
  #checkov:skip=CKV_AWS_50:X-Ray is opt-in (tracing_mode = "Active"); tracing off keeps cold starts short.
  function_name = var.name
  description   = var.description
  # Referenced directly (not through local.role_arn), so a plan shows which role the function uses.
  role                           = local.create_role ? aws_iam_role.this[0].arn : var.iam_role.arn
  handler                        = var.handler
  runtime                        = var.runtime
  architectures                  = [var.architecture]
  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions
  layers                         = local.layers
  filename                       = local.package.filename
  source_code_hash               = local.package.source_code_hash
  kms_key_arn                    = var.kms_key_arn

  environment {
    variables = local.environment
  }

  logging_config {
    log_format            = "JSON"
    log_group             = aws_cloudwatch_log_group.this.name
    application_log_level = var.logging.level
    system_log_level      = "WARN"
  }

  tracing_config {
    mode = var.tracing_mode
  }

  dynamic "vpc_config" {
    for_each = var.vpc_config == null ? [] : [var.vpc_config]
    content {
      subnet_ids         = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = local.environment_size <= 4096
      error_message = "The function's environment variables come to ${local.environment_size} characters (names and values, as the JSON object Lambda measures), above Lambda's 4 KB limit: drop or shorten variables. Through the root module the largest is usually MLGW_SETTINGS, the settings document, which holds the models routing table: remove routes or optional fields it does not need."
    }
    precondition {
      condition     = !var.powertools_layer.enabled || local.powertools_layer_arn != null
      error_message = "Powertools for AWS Lambda publishes no layer in ${local.region}: set powertools_layer.arn to a copy of the layer published in this region, or powertools_layer.enabled = false and ship aws-lambda-powertools in your own layer."
    }
  }

  # The log group exists first, so the first invocation's logs keep the module's retention,
  # and the role can write logs before the function ever runs.
  depends_on = [aws_cloudwatch_log_group.this, aws_iam_role_policy.this]
}

resource "aws_lambda_function_event_invoke_config" "this" {
  function_name                = aws_lambda_function.this.function_name
  maximum_retry_attempts       = var.async_invocation.maximum_retry_attempts
  maximum_event_age_in_seconds = var.async_invocation.maximum_event_age_in_seconds

  dynamic "destination_config" {
    for_each = local.has_failure_destination ? [local.failure_destination_arn] : []
    content {
      on_failure {
        destination = destination_config.value
      }
    }
  }

  depends_on = [aws_sqs_queue.failures]
}

# Lambda stops a function that it detects calling itself in a loop (for example through the
# bucket it writes to). Terminate is the default; stating it makes the guard visible and fixed.
# A function that continues its own work by invoking itself needs Allow (var.recursive_loop).
resource "aws_lambda_function_recursion_config" "this" {
  function_name  = aws_lambda_function.this.function_name
  recursive_loop = var.recursive_loop
}
