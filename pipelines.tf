locals {
  # Every S3-triggered function (batch.tf, actuals.tf), wired the same way below: its Lambda
  # function with its role, the IAM every S3 pipeline needs, and its trigger (triggers.tf).
  s3_pipelines = merge(
    local.batch_enabled ? { batch = local.batch_pipeline } : {},
    local.actuals_enabled ? { actuals = local.actuals_pipeline } : {},
  )
}

module "s3_pipeline" {
  source   = "./modules/lambda-function"
  for_each = local.s3_pipelines

  name        = each.value.function_name
  description = each.value.description
  handler     = each.value.handler
  package     = local.package
  memory_size = each.value.memory_size
  timeout     = each.value.timeout
  tags        = var.tags

  # Only the batch function reserves concurrency (batch.tf); null keeps the module's -1 (none).
  reserved_concurrent_executions = try(each.value.reserved_concurrency, null)

  # Only the actuals function allows its own chain of invocations (actuals.tf).
  recursive_loop = try(each.value.recursive_loop, "Terminate")

  async_invocation = {
    maximum_retry_attempts = each.value.retries
  }

  iam_role = {
    arn                      = lookup(var.iam_roles.arns, each.value.role, null)
    name_prefix              = lookup(var.iam_roles.arns, each.value.role, null) == null ? local.role_name_prefixes[replace(each.value.role, "_", "-")] : null
    path                     = var.iam_roles.path
    permissions_boundary_arn = var.iam_roles.permissions_boundary_arn
  }

  environment = each.value.environment

  policy_statements = merge(
    each.value.policy_statements,
    {
      # S3 answers a missing key (a duplicate event's input, a first run's state object) with
      # 404 only to callers allowed s3:ListBucket on the bucket, otherwise 403
      # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html). A HEAD or GET
      # carries no s3:prefix condition key, so the grant cannot be narrowed to a prefix.
      ListBucketForNotFound = {
        actions   = ["s3:ListBucket"]
        resources = ["arn:${local.partition}:s3:::${each.value.bucket}"]
      }
    },
    each.value.bucket_kms_key_arn == null ? {} : {
      UseBucketKey = {
        actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
        resources = [each.value.bucket_kms_key_arn]
      }
    },
  )
}

moved {
  from = module.batch_predict[0]
  to   = module.s3_pipeline["batch"]
}

moved {
  from = module.report_actuals[0]
  to   = module.s3_pipeline["actuals"]
}
