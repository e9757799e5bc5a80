locals {
  # 123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1.4.0 -> the repository's ARN. Images
  # outside ECR (a private registry reached through the VPC) get no ECR statements.
  ecr_image          = try(regex("^(?P<account>[0-9]{12})\\.dkr\\.ecr(?:-fips)?\\.(?P<region>[a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?/(?P<repository>[^:@]+)", var.model.image), null)
  ecr_repository_arn = local.ecr_image == null ? null : "arn:${local.partition}:ecr:${local.ecr_image.region}:${local.ecr_image.account}:repository/${local.ecr_image.repository}"

  # The artifact's prefix: the folder of a model.tar.gz, or the MultiModel prefix itself.
  artifact_bucket = var.model.model_data_url == null ? null : regex("^s3://([^/]+)/", var.model.model_data_url)[0]
  artifact_key    = var.model.model_data_url == null ? null : regex("^s3://[^/]+/(.*)$", var.model.model_data_url)[0]
  artifact_prefix = local.artifact_key == null ? null : (
    endswith(local.artifact_key, "/") ? local.artifact_key : (length(regexall("/", local.artifact_key)) > 0 ? replace(local.artifact_key, "/[^/]+$/", "") : "")
  )
  artifact_object_arns = local.artifact_key == null ? [] : [
    local.artifact_prefix == "" ? "arn:${local.partition}:s3:::${local.artifact_bucket}/${local.artifact_key}" : "arn:${local.partition}:s3:::${local.artifact_bucket}/${local.artifact_prefix}*"
  ]

  # Batch Transform inputs are read (and listed); its outputs, data capture and asynchronous
  # results are written. Every URI becomes bucket + prefix ending in "/" ("" = whole bucket).
  read_uris = distinct(var.s3_access.read_prefixes)
  write_uris = distinct(compact(concat(
    var.s3_access.write_prefixes,
    [try(var.data_capture.destination_s3_uri, null), try(var.async_inference.output_s3_uri, null), try(var.async_inference.failure_s3_uri, null)],
  )))
  s3_locations = {
    for uri in distinct(concat(local.read_uris, local.write_uris)) : uri => {
      bucket = regex("^s3://([^/]+)", uri)[0]
      prefix = trimprefix("${trimsuffix(try(regex("^s3://[^/]+/(.*)$", uri)[0], ""), "/")}/", "/")
    }
  }
  read_buckets = distinct([for uri in local.read_uris : local.s3_locations[uri].bucket])

  kms_key_arns = distinct(compact(concat(
    var.s3_access.kms_key_arns,
    [try(var.data_capture.kms_key_arn, null), try(var.async_inference.kms_key_arn, null)],
  )))
  topic_arns = distinct(compact([try(var.async_inference.success_topic_arn, null), try(var.async_inference.error_topic_arn, null)]))
}

# SageMaker documents the confused-deputy condition for the role of real-time, serverless and
# asynchronous inference as aws:SourceArn like arn:<partition>:sagemaker:<region>:<account>:*,
# and for Batch Transform as ...:transform-job/*, which the former covers:
# https://docs.aws.amazon.com/sagemaker/latest/dg/security-confused-deputy-prevention.html
data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "SageMakerAssumeRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${local.partition}:sagemaker:${local.region}:${local.account_id}:*"]
    }
  }
}

resource "aws_iam_role" "this" {
  count = local.create_role ? 1 : 0

  name                 = local.role_name
  name_prefix          = var.iam_role.name_prefix
  path                 = var.iam_role.path
  description          = "Execution role of the ${var.name} SageMaker model and its Batch Transform jobs in ${local.region}"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  permissions_boundary = var.iam_role.permissions_boundary_arn
  tags                 = var.tags

  # A new name or path replaces the role: the new model moves to it before the old role is
  # deleted. A default name changes with the path (modules/iam-role-name); an explicit name
  # must change along with the path.
  lifecycle {
    create_before_destroy = true
  }
}

data "aws_iam_policy_document" "this" {
  statement {
    sid       = "WriteEndpointLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    resources = ["${local.log_group_arn}:*"]
  }

  # AWS lists cloudwatch:PutMetricData among the permissions of a CreateModel execution role
  # (https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms);
  # the action has no resource-level permissions, so "*" is its only resource.
  statement {
    sid       = "PutMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
  }

  # Deployment guardrails read the auto-rollback alarms as this role (same page, its note on
  # deployment guardrails); DescribeAlarms can be scoped to the alarms' ARNs.
  dynamic "statement" {
    for_each = length(var.deployment.rollback_alarm_names) > 0 ? [var.deployment.rollback_alarm_names] : []
    content {
      sid       = "ReadRollbackAlarms"
      actions   = ["cloudwatch:DescribeAlarms"]
      resources = [for alarm in statement.value : "arn:${local.partition}:cloudwatch:${local.region}:${local.account_id}:alarm:${alarm}"]
    }
  }

  # Batch Transform jobs run as this role and log to their own, shared log group.
  dynamic "statement" {
    for_each = length(var.s3_access.read_prefixes) + length(var.s3_access.write_prefixes) > 0 ? [1] : []
    content {
      sid       = "WriteTransformJobLogs"
      actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
      resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/sagemaker/TransformJobs:*"]
    }
  }

  dynamic "statement" {
    for_each = length(local.artifact_object_arns) > 0 ? [local.artifact_object_arns] : []
    content {
      sid       = "ReadModelArtifact"
      actions   = ["s3:GetObject"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = var.model.kms_key_arn == null ? [] : [var.model.kms_key_arn]
    content {
      sid       = "DecryptModelArtifact"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]
    }
  }

  dynamic "statement" {
    for_each = local.ecr_repository_arn == null ? [] : [local.ecr_repository_arn]
    content {
      sid       = "PullModelImage"
      actions   = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]
      resources = [statement.value]
    }
  }

  # ecr:GetAuthorizationToken has no resource-level permissions: AWS documents "*" only.
  dynamic "statement" {
    for_each = local.ecr_repository_arn == null ? [] : [1]
    content {
      sid       = "GetRegistryToken"
      actions   = ["ecr:GetAuthorizationToken"]
      resources = ["*"]
    }
  }

  dynamic "statement" {
    for_each = length(local.read_uris) > 0 ? [local.read_uris] : []
    content {
      sid       = "ReadPrefixes"
      actions   = ["s3:GetObject"]
      resources = [for uri in statement.value : "arn:${local.partition}:s3:::${local.s3_locations[uri].bucket}/${local.s3_locations[uri].prefix}*"]
    }
  }

  # One ListBucket statement per bucket, limited to that bucket's read prefixes.
  dynamic "statement" {
    for_each = local.read_buckets
    content {
      sid       = "ListReadPrefixes${statement.key}"
      actions   = ["s3:ListBucket"]
      resources = ["arn:${local.partition}:s3:::${statement.value}"]
      condition {
        test     = "StringLike"
        variable = "s3:prefix"
        values   = [for uri in local.read_uris : "${local.s3_locations[uri].prefix}*" if local.s3_locations[uri].bucket == statement.value]
      }
    }
  }

  dynamic "statement" {
    for_each = length(local.write_uris) > 0 ? [local.write_uris] : []
    content {
      sid       = "WritePrefixes"
      actions   = ["s3:PutObject"]
      resources = [for uri in statement.value : "arn:${local.partition}:s3:::${local.s3_locations[uri].bucket}/${local.s3_locations[uri].prefix}*"]
    }
  }

  dynamic "statement" {
    for_each = length(local.kms_key_arns) > 0 ? [local.kms_key_arns] : []
    content {
      sid       = "UseDataKeys"
      actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
      resources = statement.value
    }
  }

  dynamic "statement" {
    for_each = length(local.topic_arns) > 0 ? [local.topic_arns] : []
    content {
      sid       = "PublishAsyncNotifications"
      actions   = ["sns:Publish"]
      resources = statement.value
    }
  }

  # VPC networking actions do not support resource-level permissions: AWS documents "*".
  dynamic "statement" {
    for_each = var.model.vpc_config == null ? [] : [1]
    content {
      sid = "ManageVpcInterfaces"
      actions = [
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSecurityGroups",
        "ec2:DescribeSubnets",
        "ec2:DescribeVpcs",
      ]
      resources = ["*"]
    }
  }
}

resource "aws_iam_role_policy" "this" {
  count = local.create_role ? 1 : 0

  name   = "${var.name}-permissions"
  role   = aws_iam_role.this[0].id
  policy = data.aws_iam_policy_document.this.json
}
