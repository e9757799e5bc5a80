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

# <name>-<region>, and a path hash outside "/": see modules/iam-role-name.
module "role_name" {
  source = "../iam-role-name"

  bases  = { this = var.name }
  region = local.region
  role   = var.iam_role
}

locals {
  create_role = var.iam_role.arn == null
  role_name   = var.iam_role.name_prefix != null ? null : coalesce(var.iam_role.name, module.role_name.names["this"])
  role_arn    = local.create_role ? aws_iam_role.this[0].arn : var.iam_role.arn
}

resource "aws_iam_role" "this" {
  count = local.create_role ? 1 : 0

  name                 = local.role_name
  name_prefix          = var.iam_role.name_prefix
  path                 = var.iam_role.path
  description          = "Execution role of the ${var.name} function in ${local.region}"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.iam_role.permissions_boundary_arn
  tags                 = var.tags

  # A new name or path replaces the role: the function moves to the new role before the old
  # one is deleted, so it never runs with a deleted role. A default name changes with the path
  # (modules/iam-role-name); an explicit name must change along with the path.
  lifecycle {
    create_before_destroy = true
  }
}

moved {
  from = aws_iam_role.this
  to   = aws_iam_role.this[0]
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
  count = local.create_role ? 1 : 0

  name   = "${var.name}-permissions"
  role   = aws_iam_role.this[0].id
  policy = data.aws_iam_policy_document.this.json
}

moved {
  from = aws_iam_role_policy.this
  to   = aws_iam_role_policy.this[0]
}
