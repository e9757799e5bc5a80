locals {
  endpoint_create = try(var.endpoint.create, null)

  # Batch Transform jobs run as the model's role: they read the rows the batch function stages
  # under the staging prefix and write their results there; the function writes the output.
  endpoint_batch_access = local.batch_transform_enabled && try(var.batch_prediction.transform.model_name, null) == null ? {
    read_prefixes  = ["s3://${local.batch.bucket}/${local.batch.staging_prefix}"]
    write_prefixes = ["s3://${local.batch.bucket}/${local.batch.staging_prefix}"]
    kms_key_arns   = compact([local.batch.bucket_kms_key_arn])
  } : { read_prefixes = [], write_prefixes = [], kms_key_arns = [] }
}

# The primary endpoint, when Terraform owns it. Everything else refers to it by name (known
# at plan time), so an existing endpoint and a created one are wired the same way.
module "endpoint" {
  source = "./modules/sagemaker-endpoint"
  count  = local.endpoint_create != null ? 1 : 0

  name            = var.endpoint.name
  tags            = var.tags
  model           = local.endpoint_create.model
  variants        = local.endpoint_create.variants
  shadow_variant  = local.endpoint_create.shadow_variant
  data_capture    = local.endpoint_create.data_capture
  async_inference = local.endpoint_create.async_inference
  kms_key_arn     = local.endpoint_create.kms_key_arn
  logging         = local.endpoint_create.logging
  iam_role = {
    arn                      = local.endpoint_create.execution_role_arn
    name_prefix              = local.endpoint_create.execution_role_arn == null ? local.role_name_prefixes["sagemaker"] : null
    path                     = var.iam_roles.path
    permissions_boundary_arn = try(coalesce(local.endpoint_create.permissions_boundary_arn, var.iam_roles.permissions_boundary_arn), null)
  }
  # With monitoring on, the endpoint's own 5XX-rate and latency alarms roll a deployment back
  # unless it names its own (monitoring.tf).
  deployment = merge(
    local.endpoint_create.deployment,
    length(local.endpoint_create.deployment.rollback_alarm_names) == 0 && length(local.endpoint_rollback_alarm_keys) > 0 ? {
      rollback_alarm_names = [for key in local.endpoint_rollback_alarm_keys : aws_cloudwatch_metric_alarm.this[key].alarm_name]
    } : {},
  )
  s3_access = {
    read_prefixes  = distinct(concat(local.endpoint_create.s3_access.read_prefixes, local.endpoint_batch_access.read_prefixes))
    write_prefixes = distinct(concat(local.endpoint_create.s3_access.write_prefixes, local.endpoint_batch_access.write_prefixes))
    kms_key_arns   = distinct(concat(local.endpoint_create.s3_access.kms_key_arns, local.endpoint_batch_access.kms_key_arns))
  }
}
