variable "async_inference" {
  description = <<-EOT
    Asynchronous inference: requests are queued and results written under output_s3_uri
    (failures under failure_s3_uri), with optional SNS notifications. Instance variants
    only. The created role may write to both prefixes and publish to both topics.
  EOT
  type = object({
    error_topic_arn                         = optional(string)
    failure_s3_uri                          = optional(string)
    include_inference_response_in           = optional(list(string), [])
    kms_key_arn                             = optional(string)
    max_concurrent_invocations_per_instance = optional(number)
    output_s3_uri                           = string
    success_topic_arn                       = optional(string)
  })
  default = null

  validation {
    condition = var.async_inference == null || alltrue([
      for uri in compact([try(var.async_inference.output_s3_uri, null), try(var.async_inference.failure_s3_uri, null)]) :
      can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", uri))
    ])
    error_message = "async_inference.output_s3_uri and failure_s3_uri must be S3 URIs: s3://bucket/prefix/."
  }

  validation {
    condition     = var.async_inference == null || try(var.async_inference.max_concurrent_invocations_per_instance, null) == null || try(var.async_inference.max_concurrent_invocations_per_instance >= 1 && var.async_inference.max_concurrent_invocations_per_instance <= 1000, false)
    error_message = "async_inference.max_concurrent_invocations_per_instance must be between 1 and 1000."
  }

  validation {
    condition     = var.async_inference == null || alltrue([for v in try(var.async_inference.include_inference_response_in, []) : contains(["SUCCESS_NOTIFICATION_TOPIC", "ERROR_NOTIFICATION_TOPIC"], v)])
    error_message = "async_inference.include_inference_response_in may hold SUCCESS_NOTIFICATION_TOPIC and ERROR_NOTIFICATION_TOPIC only."
  }

  validation {
    condition     = var.async_inference == null || !anytrue([for v in values(var.variants) : v.serverless != null])
    error_message = "async_inference: serverless endpoints take no asynchronous inference; use instance variants (instance_type) instead."
  }
}

variable "data_capture" {
  description = <<-EOT
    Data capture of requests and responses to destination_s3_uri (for Model Monitor and
    ground truth merges): the sampling percentage, what to capture, the content types to
    record as text (CSV or JSON) rather than base64, and an optional KMS key. The created
    role may write under the destination. Instance endpoints only.
  EOT
  type = object({
    capture_modes       = optional(list(string), ["Input", "Output"])
    csv_content_types   = optional(list(string), [])
    destination_s3_uri  = string
    enabled             = optional(bool, true)
    json_content_types  = optional(list(string), [])
    kms_key_arn         = optional(string)
    sampling_percentage = optional(number, 100)
  })
  default = null

  validation {
    condition     = var.data_capture == null || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", var.data_capture.destination_s3_uri))
    error_message = "data_capture.destination_s3_uri must be an S3 URI: s3://bucket/prefix/."
  }

  validation {
    condition     = var.data_capture == null || try(var.data_capture.sampling_percentage >= 0 && var.data_capture.sampling_percentage <= 100 && floor(var.data_capture.sampling_percentage) == var.data_capture.sampling_percentage, false)
    error_message = "data_capture.sampling_percentage must be a whole number between 0 and 100."
  }

  validation {
    condition = var.data_capture == null || try(
      length(var.data_capture.capture_modes) > 0 && alltrue([for m in var.data_capture.capture_modes : contains(["Input", "Output"], m)]) && length(distinct(var.data_capture.capture_modes)) == length(var.data_capture.capture_modes),
      false,
    )
    error_message = "data_capture.capture_modes must name Input, Output or both, each once."
  }

  validation {
    condition     = var.data_capture == null || !anytrue([for v in values(var.variants) : v.serverless != null])
    error_message = "data_capture: serverless endpoints take no data capture; use instance variants (instance_type) to capture requests."
  }
}

variable "deployment" {
  description = <<-EOT
    How the endpoint moves to a new endpoint configuration: a blue/green deployment that
    shifts traffic all at once, in a canary step (canary_size) or in linear steps
    (linear_step_size), waits wait_interval_in_seconds between steps and after the last one
    (the baking period), and rolls back when any of rollback_alarm_names goes into ALARM.
  EOT
  type = object({
    canary_size = optional(object({
      type  = optional(string, "CAPACITY_PERCENT")
      value = number
    }))
    linear_step_size = optional(object({
      type  = optional(string, "CAPACITY_PERCENT")
      value = number
    }))
    maximum_execution_timeout_in_seconds = optional(number)
    rollback_alarm_names                 = optional(list(string), [])
    termination_wait_in_seconds          = optional(number, 0)
    traffic_shifting                     = optional(string, "ALL_AT_ONCE")
    wait_interval_in_seconds             = optional(number, 300)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["ALL_AT_ONCE", "CANARY", "LINEAR"], var.deployment.traffic_shifting)
    error_message = "deployment.traffic_shifting must be ALL_AT_ONCE, CANARY or LINEAR."
  }

  validation {
    condition     = (var.deployment.traffic_shifting == "CANARY") == (var.deployment.canary_size != null) && (var.deployment.traffic_shifting == "LINEAR") == (var.deployment.linear_step_size != null)
    error_message = "deployment: CANARY needs canary_size and LINEAR needs linear_step_size; set neither with ALL_AT_ONCE, and only the one that matches traffic_shifting."
  }

  validation {
    condition = var.deployment.canary_size == null || try(
      contains(["CAPACITY_PERCENT", "INSTANCE_COUNT"], var.deployment.canary_size.type) && var.deployment.canary_size.value >= 1 && (var.deployment.canary_size.type != "CAPACITY_PERCENT" || var.deployment.canary_size.value <= 50),
      false,
    )
    error_message = "deployment.canary_size: type must be CAPACITY_PERCENT or INSTANCE_COUNT and value at least 1 (at most 50 percent): the canary is at most half the fleet."
  }

  validation {
    condition = var.deployment.linear_step_size == null || try(
      contains(["CAPACITY_PERCENT", "INSTANCE_COUNT"], var.deployment.linear_step_size.type) && var.deployment.linear_step_size.value >= 1 && (var.deployment.linear_step_size.type != "CAPACITY_PERCENT" || (var.deployment.linear_step_size.value >= 10 && var.deployment.linear_step_size.value <= 50)),
      false,
    )
    error_message = "deployment.linear_step_size: type must be CAPACITY_PERCENT (value 10 to 50) or INSTANCE_COUNT (value at least 1)."
  }

  validation {
    condition     = var.deployment.wait_interval_in_seconds >= 0 && var.deployment.wait_interval_in_seconds <= 3600 && var.deployment.termination_wait_in_seconds >= 0 && var.deployment.termination_wait_in_seconds <= 3600
    error_message = "deployment.wait_interval_in_seconds and termination_wait_in_seconds must be between 0 and 3600."
  }

  validation {
    condition     = var.deployment.maximum_execution_timeout_in_seconds == null || try(var.deployment.maximum_execution_timeout_in_seconds >= 600 && var.deployment.maximum_execution_timeout_in_seconds <= 28800, false)
    error_message = "deployment.maximum_execution_timeout_in_seconds must be between 600 and 28800."
  }

  validation {
    condition     = length(var.deployment.rollback_alarm_names) <= 10 && alltrue([for a in var.deployment.rollback_alarm_names : length(a) > 0])
    error_message = "deployment.rollback_alarm_names holds at most 10 CloudWatch alarm names (a SageMaker limit), none empty."
  }
}

variable "iam_role" {
  description = <<-EOT
    The model's execution role (Batch Transform jobs of the model run as it too). By default
    the module creates a least-privilege role named <name>-sagemaker-<region>: IAM names are
    global to the account, so the region keeps two deployments of one name apart (a name
    that would pass IAM's 64 characters keeps the region and a hash). name sets the created
    role's exact name instead; name_prefix lets IAM complete it with a unique suffix (known
    only after apply); path and permissions_boundary_arn apply to the created role. arn
    brings an existing role: nothing is created, so that role must trust
    sagemaker.amazonaws.com and allow what the role_policy_json output lists. A new name or
    path replaces the role, the new one first: change the name along with the path of a role
    named explicitly.
  EOT
  type = object({
    arn                      = optional(string)
    name                     = optional(string)
    name_prefix              = optional(string)
    path                     = optional(string, "/")
    permissions_boundary_arn = optional(string)
  })
  default  = {}
  nullable = false

  # Validated where every module's role is named: modules/iam-role-name.
}

variable "kms_key_arn" {
  description = "KMS key that encrypts the ML storage volumes of the endpoint's instances (default: an AWS managed key). Leave null for instance types with local NVMe storage, which SageMaker encrypts itself."
  type        = string
  default     = null
}

variable "logging" {
  description = "The endpoint's CloudWatch log group, /aws/sagemaker/Endpoints/<name>: retention and an optional KMS key."
  type = object({
    kms_key_arn       = optional(string)
    retention_in_days = optional(number, 30)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.logging.retention_in_days)
    error_message = "logging.retention_in_days must be one of the values CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }
}

variable "model" {
  description = <<-EOT
    The model's primary container: image (an ECR image URI; the created role may pull from
    that repository only), model_data_url (the s3:// artifact, a .tar.gz for SingleModel or
    a prefix ending in / for MultiModel; the created role may read under its prefix), the
    container environment, and kms_key_arn when the artifact is encrypted with a customer
    managed key. Optional VPC config and network isolation.
  EOT
  type = object({
    enable_network_isolation = optional(bool, false)
    environment              = optional(map(string), {})
    image                    = string
    kms_key_arn              = optional(string)
    mode                     = optional(string, "SingleModel")
    model_data_url           = optional(string)
    vpc_config = optional(object({
      security_group_ids = list(string)
      subnet_ids         = list(string)
    }))
  })
  nullable = false

  validation {
    condition     = length(trimspace(var.model.image)) > 0
    error_message = "model.image must be a container image URI, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1.4.0."
  }

  validation {
    condition     = contains(["SingleModel", "MultiModel"], var.model.mode)
    error_message = "model.mode must be SingleModel or MultiModel."
  }

  validation {
    condition     = var.model.model_data_url == null || can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+$", var.model.model_data_url))
    error_message = "model.model_data_url must be an S3 URI with a key: s3://bucket/path/model.tar.gz (SingleModel) or s3://bucket/path/ (MultiModel)."
  }

  validation {
    condition     = var.model.mode != "MultiModel" || try(endswith(var.model.model_data_url, "/"), false)
    error_message = "model.model_data_url must be an S3 prefix ending in / when mode is MultiModel: the endpoint loads every model under it."
  }

  validation {
    condition     = var.model.vpc_config == null || (length(try(var.model.vpc_config.subnet_ids, [])) > 0 && length(try(var.model.vpc_config.security_group_ids, [])) > 0)
    error_message = "model.vpc_config needs at least one subnet id and one security group id."
  }

  validation {
    condition     = !anytrue([for v in values(var.variants) : v.serverless != null]) || (var.model.vpc_config == null && !var.model.enable_network_isolation && var.model.mode == "SingleModel")
    error_message = "model: serverless endpoints take no vpc_config, no network isolation and no MultiModel mode; use instance variants (instance_type) for these."
  }
}

variable "name" {
  description = "Name of the endpoint. The model and the endpoint configuration are named <name>-<content hash> and the created role <name>-sagemaker-<region>, hence at most 54 characters."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,53}$", var.name))
    error_message = "name must be 1 to 54 letters, digits or hyphens, starting and ending with a letter or digit (the model and endpoint configuration add a 9-character hash suffix to it)."
  }
}

variable "s3_access" {
  description = <<-EOT
    Extra S3 prefixes for the created execution role, as s3://bucket/prefix/ URIs. Batch
    Transform jobs run as the model's role: read_prefixes are their inputs (GetObject, and
    ListBucket limited to the prefix), write_prefixes their outputs (PutObject).
    kms_key_arns are the keys of those objects (Decrypt and GenerateDataKey).
  EOT
  type = object({
    kms_key_arns   = optional(list(string), [])
    read_prefixes  = optional(list(string), [])
    write_prefixes = optional(list(string), [])
  })
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for uri in concat(var.s3_access.read_prefixes, var.s3_access.write_prefixes) : can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", uri))])
    error_message = "s3_access prefixes must be S3 URIs: s3://bucket/prefix/."
  }
}

variable "shadow_variant" {
  description = <<-EOT
    A shadow variant: receives a copy of the production traffic, its responses are only
    logged (and captured), never returned. Needs exactly one production variant. Instance-based
    or serverless like a production variant; model_name serves another existing model (null:
    this module's model).
  EOT
  type = object({
    initial_instance_count = optional(number)
    initial_weight         = optional(number, 1)
    instance_type          = optional(string)
    model_name             = optional(string)
    name                   = string
    serverless = optional(object({
      max_concurrency         = number
      memory_size_in_mb       = number
      provisioned_concurrency = optional(number)
    }))
  })
  default = null

  validation {
    condition     = var.shadow_variant == null || can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.shadow_variant.name))
    error_message = "shadow_variant.name must be 1 to 63 letters, digits or hyphens, starting and ending with a letter or digit."
  }

  validation {
    condition     = var.shadow_variant == null || try(!contains(keys(var.variants), var.shadow_variant.name), false)
    error_message = "shadow_variant.name must differ from every production variant name."
  }

  validation {
    condition     = var.shadow_variant == null || try((var.shadow_variant.instance_type != null) != (var.shadow_variant.serverless != null) && (var.shadow_variant.serverless == null || var.shadow_variant.initial_instance_count == null), false)
    error_message = "shadow_variant is either instance-based (instance_type, initial_instance_count) or serverless (serverless), never both."
  }

  validation {
    condition     = var.shadow_variant == null || try(var.shadow_variant.initial_weight > 0, false)
    error_message = "shadow_variant.initial_weight must be positive."
  }

  validation {
    condition     = var.shadow_variant == null || try(var.shadow_variant.serverless == null || contains([1024, 2048, 3072, 4096, 5120, 6144], var.shadow_variant.serverless.memory_size_in_mb), false)
    error_message = "shadow_variant.serverless.memory_size_in_mb must be 1024, 2048, 3072, 4096, 5120 or 6144."
  }

  validation {
    condition     = var.shadow_variant == null || !anytrue([for v in values(var.variants) : v.serverless != null])
    error_message = "shadow_variant: serverless endpoints take a single variant and no shadow variant."
  }

  # https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html:
  # with ShadowProductionVariants, exactly one ProductionVariant and one shadow variant.
  validation {
    condition     = var.shadow_variant == null || length(var.variants) == 1
    error_message = "shadow_variant needs exactly one production variant in variants: SageMaker mirrors the traffic of a single production variant to the shadow."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "variants" {
  description = <<-EOT
    Production variants keyed by variant name (1 to 10). Each is instance-based
    (instance_type and initial_instance_count, default 1) or serverless (serverless: memory
    1024-6144 MB in steps of 1024, max concurrency 1-200, optional provisioned concurrency),
    never both, with a positive initial_weight. Instance variants may autoscale: target
    tracking on invocations per instance between min_capacity and max_capacity. Keep
    variant names stable: blue/green deployments need the same names in the new
    configuration.
  EOT
  type = map(object({
    autoscaling = optional(object({
      max_capacity                    = number
      min_capacity                    = optional(number, 1)
      scale_in_cooldown               = optional(number, 300)
      scale_out_cooldown              = optional(number, 60)
      target_invocations_per_instance = number
    }))
    container_startup_health_check_timeout_in_seconds = optional(number)
    initial_instance_count                            = optional(number)
    initial_weight                                    = optional(number, 1)
    instance_type                                     = optional(string)
    model_data_download_timeout_in_seconds            = optional(number)
    serverless = optional(object({
      max_concurrency         = number
      memory_size_in_mb       = number
      provisioned_concurrency = optional(number)
    }))
    volume_size_in_gb = optional(number)
  }))
  nullable = false

  validation {
    condition     = length(var.variants) >= 1 && length(var.variants) <= 10
    error_message = "variants must hold 1 to 10 production variants."
  }

  validation {
    condition     = alltrue([for k in keys(var.variants) : can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", k))])
    error_message = "variants keys are variant names: 1 to 63 letters, digits or hyphens, starting and ending with a letter or digit."
  }

  validation {
    condition = alltrue([
      for v in values(var.variants) :
      (v.instance_type != null) != (v.serverless != null) && (v.serverless == null || (v.initial_instance_count == null && v.volume_size_in_gb == null))
    ])
    error_message = "variants: each variant is either instance-based (instance_type, initial_instance_count, volume_size_in_gb) or serverless (serverless), never both and never neither."
  }

  validation {
    condition     = alltrue([for v in values(var.variants) : v.initial_weight > 0])
    error_message = "variants initial_weight must be positive: SageMaker routes traffic in proportion to the weights."
  }

  validation {
    condition     = alltrue([for v in values(var.variants) : v.initial_instance_count == null || try(v.initial_instance_count >= 1 && floor(v.initial_instance_count) == v.initial_instance_count, false)])
    error_message = "variants initial_instance_count must be a whole number of at least 1."
  }

  validation {
    condition     = alltrue([for v in values(var.variants) : v.serverless == null || contains([1024, 2048, 3072, 4096, 5120, 6144], try(v.serverless.memory_size_in_mb, 0))])
    error_message = "variants serverless.memory_size_in_mb must be 1024, 2048, 3072, 4096, 5120 or 6144 (1 to 6 GB in steps of 1024 MB)."
  }

  validation {
    condition = alltrue([
      for v in values(var.variants) :
      v.serverless == null || try(v.serverless.max_concurrency >= 1 && v.serverless.max_concurrency <= 200 && (v.serverless.provisioned_concurrency == null || (v.serverless.provisioned_concurrency >= 1 && v.serverless.provisioned_concurrency <= v.serverless.max_concurrency)), false)
    ])
    error_message = "variants serverless.max_concurrency must be between 1 and 200, and provisioned_concurrency between 1 and max_concurrency."
  }

  validation {
    condition     = alltrue([for v in values(var.variants) : v.autoscaling == null || v.serverless == null])
    error_message = "variants autoscaling applies to instance variants only: a serverless variant scales itself (set max_concurrency instead)."
  }

  validation {
    condition = alltrue([
      for v in values(var.variants) :
      v.autoscaling == null || try(
        v.autoscaling.min_capacity >= 1 && v.autoscaling.max_capacity >= v.autoscaling.min_capacity && v.autoscaling.target_invocations_per_instance > 0 && v.autoscaling.scale_in_cooldown >= 0 && v.autoscaling.scale_out_cooldown >= 0,
        false,
      )
    ])
    error_message = "variants autoscaling needs 1 <= min_capacity <= max_capacity, a positive target_invocations_per_instance and cooldowns of 0 seconds or more."
  }

  validation {
    condition = alltrue([
      for v in values(var.variants) :
      v.autoscaling == null || try(coalesce(v.initial_instance_count, 1) >= v.autoscaling.min_capacity && coalesce(v.initial_instance_count, 1) <= v.autoscaling.max_capacity, false)
    ])
    error_message = "variants initial_instance_count must lie between autoscaling.min_capacity and max_capacity: every new endpoint configuration starts the variant at that count."
  }

  validation {
    condition     = length(var.variants) == 1 || !anytrue([for v in values(var.variants) : v.serverless != null])
    error_message = "variants: serverless endpoints take a single variant; put instance and serverless variants on separate endpoints."
  }
}
