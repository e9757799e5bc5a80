data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssumeRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "this" {
  name                 = var.name
  description          = "Execution role of the ${var.name} function"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.permissions_boundary_arn
  tags                 = var.tags
}

locals {
  # The action that delivers a failed event to each kind of on-failure destination.
  destination_actions = {
    sqs    = "sqs:SendMessage"
    sns    = "sns:Publish"
    lambda = "lambda:InvokeFunction"
    events = "events:PutEvents"
  }
  destination_service = local.has_failure_destination ? (
    var.async_invocation.failure_destination_arn != null ? split(":", var.async_invocation.failure_destination_arn)[2] : "sqs"
  ) : null
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "WriteOwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.log_group_arn}:*"]
  }

  dynamic "statement" {
    for_each = local.has_failure_destination ? [local.failure_destination_arn] : []
    content {
      sid       = "SendFailedEvents"
      actions   = [local.destination_actions[local.destination_service]]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.async_invocation.failure_queue_kms_key_arn != null && var.async_invocation.create_failure_queue ? [var.async_invocation.failure_queue_kms_key_arn] : []
    content {
      sid       = "EncryptFailedEvents"
      actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = var.kms_key_arn != null ? [var.kms_key_arn] : []
    content {
      sid       = "DecryptEnvironment"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }

  # X-Ray and VPC networking actions do not support resource-level permissions: AWS
  # documents "*" as their only resource.
  dynamic "statement" {
    for_each = var.tracing_mode == "Active" ? [1] : []
    content {
      sid       = "WriteTraces"
      actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = var.vpc_config != null ? [1] : []
    content {
      sid = "ManageVpcInterfaces"
      actions = [
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
      ]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = var.policy_statements
    content {
      sid       = statement.key
      effect    = statement.value.effect
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = statement.value.conditions
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "this" {
  name   = "${var.name}-permissions"
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}
