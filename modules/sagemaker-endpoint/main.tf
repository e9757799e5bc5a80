data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id

  log_group_name = "/aws/sagemaker/Endpoints/${var.name}"
  log_group_arn  = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${local.log_group_name}"

  # <name>-sagemaker-<region>, and a path hash outside "/": see modules/iam-role-name.
  create_role = var.iam_role.arn == null
  role_name   = var.iam_role.name_prefix != null ? null : coalesce(var.iam_role.name, module.role_name.names["this"])
  # Built from the role's path and name, so the model's content hash is known at plan time.
  # With name_prefix IAM completes the name at apply; the prefix stands in for it in the hash.
  role_arn = !local.create_role ? var.iam_role.arn : (
    local.role_name != null ? "arn:${local.partition}:iam::${local.account_id}:role${var.iam_role.path}${local.role_name}" : "name_prefix:${var.iam_role.path}${var.iam_role.name_prefix}"
  )

  serverless = anytrue([for v in values(var.variants) : v.serverless != null])

  # Everything that defines the model. SageMaker models are immutable, so any change needs
  # a new model under a new name: the name carries a hash of this definition.
  model_definition = {
    enable_network_isolation = var.model.enable_network_isolation
    environment              = var.model.environment
    execution_role_arn       = local.role_arn
    image                    = var.model.image
    mode                     = var.model.mode
    model_data_url           = var.model.model_data_url
    vpc_config = var.model.vpc_config == null ? null : {
      security_group_ids = sort(var.model.vpc_config.security_group_ids)
      subnet_ids         = sort(var.model.vpc_config.subnet_ids)
    }
  }
  model_name = "${var.name}-${substr(sha256(jsonencode(local.model_definition)), 0, 8)}"

  production_variants = [
    for name, v in var.variants : {
      container_startup_health_check_timeout_in_seconds = v.container_startup_health_check_timeout_in_seconds
      initial_instance_count                            = v.serverless == null ? coalesce(v.initial_instance_count, 1) : null
      initial_variant_weight                            = v.initial_weight
      instance_type                                     = v.instance_type
      model_data_download_timeout_in_seconds            = v.model_data_download_timeout_in_seconds
      model_name                                        = local.model_name
      serverless                                        = v.serverless
      variant_name                                      = name
      volume_size_in_gb                                 = v.volume_size_in_gb
    }
  ]

  shadow_variants = var.shadow_variant == null ? [] : [{
    initial_instance_count = var.shadow_variant.serverless == null ? coalesce(var.shadow_variant.initial_instance_count, 1) : null
    initial_variant_weight = var.shadow_variant.initial_weight
    instance_type          = var.shadow_variant.instance_type
    model_name             = coalesce(var.shadow_variant.model_name, local.model_name)
    serverless             = var.shadow_variant.serverless
    variant_name           = var.shadow_variant.name
  }]

  data_capture = var.data_capture == null ? null : merge(var.data_capture, {
    csv_content_types  = sort(distinct(var.data_capture.csv_content_types))
    json_content_types = sort(distinct(var.data_capture.json_content_types))
  })

  # Everything that defines the endpoint configuration (also immutable in SageMaker); the
  # model's name is part of it, so a new model means a new configuration too.
  config_definition = {
    async_inference     = var.async_inference
    data_capture        = local.data_capture
    kms_key_arn         = var.kms_key_arn
    production_variants = local.production_variants
    shadow_variants     = local.shadow_variants
  }
  config_name = "${var.name}-${substr(sha256(jsonencode(local.config_definition)), 0, 8)}"
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:KMS encryption is opt-in through logging.kms_key_arn; CloudWatch Logs encrypts at rest by default.
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (logging.retention_in_days, default 30 days); a year of container logs is rarely wanted.
  name              = local.log_group_name
  retention_in_days = var.logging.retention_in_days
  kms_key_id        = var.logging.kms_key_arn
  tags              = var.tags
}

resource "aws_sagemaker_model" "this" {
  #checkov:skip=CKV_AWS_370:Network isolation is opt-in (model.enable_network_isolation): many inference containers download tokenizers or call other services at start-up.
  name                     = local.model_name
  execution_role_arn       = local.create_role ? aws_iam_role.this[0].arn : var.iam_role.arn
  enable_network_isolation = var.model.enable_network_isolation

  primary_container {
    image          = var.model.image
    model_data_url = var.model.model_data_url
    environment    = var.model.environment
    mode           = var.model.mode
  }

  dynamic "vpc_config" {
    for_each = var.model.vpc_config == null ? [] : [var.model.vpc_config]
    content {
      subnets            = vpc_config.value.subnet_ids
      security_group_ids = vpc_config.value.security_group_ids
    }
  }

  tags = var.tags

  # A changed model gets a new name (the content hash): it is created, the endpoint moves
  # to it through a new configuration, and only then the old one is deleted.
  lifecycle {
    create_before_destroy = true
  }

  # The role can read the artifact and pull the image before SageMaker first tries.
  depends_on = [aws_iam_role_policy.this]
}

resource "aws_sagemaker_endpoint_configuration" "this" {
  #checkov:skip=CKV_AWS_98:A customer managed key for the instances' storage volumes is opt-in (kms_key_arn); SageMaker encrypts them with an AWS managed key otherwise, and instance types with local NVMe storage refuse a key.
  name        = local.config_name
  kms_key_arn = var.kms_key_arn

  dynamic "production_variants" {
    for_each = local.production_variants
    content {
      variant_name                                      = production_variants.value.variant_name
      model_name                                        = aws_sagemaker_model.this.name
      instance_type                                     = production_variants.value.instance_type
      initial_instance_count                            = production_variants.value.initial_instance_count
      initial_variant_weight                            = production_variants.value.initial_variant_weight
      volume_size_in_gb                                 = production_variants.value.volume_size_in_gb
      container_startup_health_check_timeout_in_seconds = production_variants.value.container_startup_health_check_timeout_in_seconds
      model_data_download_timeout_in_seconds            = production_variants.value.model_data_download_timeout_in_seconds

      dynamic "serverless_config" {
        for_each = production_variants.value.serverless == null ? [] : [production_variants.value.serverless]
        content {
          memory_size_in_mb       = serverless_config.value.memory_size_in_mb
          max_concurrency         = serverless_config.value.max_concurrency
          provisioned_concurrency = serverless_config.value.provisioned_concurrency
        }
      }
    }
  }

  dynamic "shadow_production_variants" {
    for_each = local.shadow_variants
    content {
      variant_name           = shadow_production_variants.value.variant_name
      model_name             = var.shadow_variant.model_name == null ? aws_sagemaker_model.this.name : shadow_production_variants.value.model_name
      instance_type          = shadow_production_variants.value.instance_type
      initial_instance_count = shadow_production_variants.value.initial_instance_count
      initial_variant_weight = shadow_production_variants.value.initial_variant_weight

      dynamic "serverless_config" {
        for_each = shadow_production_variants.value.serverless == null ? [] : [shadow_production_variants.value.serverless]
        content {
          memory_size_in_mb       = serverless_config.value.memory_size_in_mb
          max_concurrency         = serverless_config.value.max_concurrency
          provisioned_concurrency = serverless_config.value.provisioned_concurrency
        }
      }
    }
  }

  dynamic "data_capture_config" {
    for_each = local.data_capture == null ? [] : [local.data_capture]
    content {
      enable_capture              = data_capture_config.value.enabled
      destination_s3_uri          = data_capture_config.value.destination_s3_uri
      initial_sampling_percentage = data_capture_config.value.sampling_percentage
      kms_key_id                  = data_capture_config.value.kms_key_arn

      dynamic "capture_options" {
        for_each = data_capture_config.value.capture_modes
        content {
          capture_mode = capture_options.value
        }
      }

      dynamic "capture_content_type_header" {
        for_each = length(data_capture_config.value.csv_content_types) + length(data_capture_config.value.json_content_types) > 0 ? [1] : []
        content {
          csv_content_types  = length(data_capture_config.value.csv_content_types) > 0 ? data_capture_config.value.csv_content_types : null
          json_content_types = length(data_capture_config.value.json_content_types) > 0 ? data_capture_config.value.json_content_types : null
        }
      }
    }
  }

  dynamic "async_inference_config" {
    for_each = var.async_inference == null ? [] : [var.async_inference]
    content {
      dynamic "client_config" {
        for_each = async_inference_config.value.max_concurrent_invocations_per_instance == null ? [] : [async_inference_config.value.max_concurrent_invocations_per_instance]
        content {
          max_concurrent_invocations_per_instance = client_config.value
        }
      }

      output_config {
        s3_output_path  = async_inference_config.value.output_s3_uri
        s3_failure_path = async_inference_config.value.failure_s3_uri
        kms_key_id      = async_inference_config.value.kms_key_arn

        dynamic "notification_config" {
          for_each = async_inference_config.value.success_topic_arn != null || async_inference_config.value.error_topic_arn != null ? [1] : []
          content {
            success_topic                 = async_inference_config.value.success_topic_arn
            error_topic                   = async_inference_config.value.error_topic_arn
            include_inference_response_in = length(async_inference_config.value.include_inference_response_in) > 0 ? async_inference_config.value.include_inference_response_in : null
          }
        }
      }
    }
  }

  tags = var.tags

  # The endpoint still uses the old configuration while it moves to the new one: the new
  # configuration (new name, from the content hash) must exist first and the old one may
  # only go once the endpoint update has finished.
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_sagemaker_endpoint" "this" {
  name                 = var.name
  endpoint_config_name = aws_sagemaker_endpoint_configuration.this.name

  deployment_config {
    blue_green_update_policy {
      maximum_execution_timeout_in_seconds = var.deployment.maximum_execution_timeout_in_seconds
      termination_wait_in_seconds          = var.deployment.termination_wait_in_seconds

      traffic_routing_configuration {
        type                     = var.deployment.traffic_shifting
        wait_interval_in_seconds = var.deployment.wait_interval_in_seconds

        dynamic "canary_size" {
          for_each = var.deployment.canary_size == null ? [] : [var.deployment.canary_size]
          content {
            type  = canary_size.value.type
            value = canary_size.value.value
          }
        }

        dynamic "linear_step_size" {
          for_each = var.deployment.linear_step_size == null ? [] : [var.deployment.linear_step_size]
          content {
            type  = linear_step_size.value.type
            value = linear_step_size.value.value
          }
        }
      }
    }

    dynamic "auto_rollback_configuration" {
      for_each = length(var.deployment.rollback_alarm_names) > 0 ? [var.deployment.rollback_alarm_names] : []
      content {
        dynamic "alarms" {
          for_each = toset(auto_rollback_configuration.value)
          content {
            alarm_name = alarms.value
          }
        }
      }
    }
  }

  tags = var.tags

  # The log group exists first, so the containers' first logs keep the module's retention.
  depends_on = [aws_cloudwatch_log_group.this]
}

module "role_name" {
  source = "../iam-role-name"

  bases  = { this = "${var.name}-sagemaker" }
  region = local.region
  role   = var.iam_role
}
