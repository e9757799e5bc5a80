locals {
  endpoint_create = try(var.endpoint.create, null)
}

# The primary endpoint, when Terraform owns it. Everything else refers to it by name (known
# at plan time), so an existing endpoint and a created one are wired the same way.
module "endpoint" {
  source = "./modules/sagemaker-endpoint"
  count  = local.endpoint_create != null ? 1 : 0

  name                     = var.endpoint.name
  tags                     = var.tags
  model                    = local.endpoint_create.model
  variants                 = local.endpoint_create.variants
  shadow_variant           = local.endpoint_create.shadow_variant
  data_capture             = local.endpoint_create.data_capture
  async_inference          = local.endpoint_create.async_inference
  deployment               = local.endpoint_create.deployment
  execution_role_arn       = local.endpoint_create.execution_role_arn
  permissions_boundary_arn = local.endpoint_create.permissions_boundary_arn
  kms_key_arn              = local.endpoint_create.kms_key_arn
  logging                  = local.endpoint_create.logging
  s3_access                = local.endpoint_create.s3_access
}
