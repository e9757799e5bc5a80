variable "architecture" {
  description = "Instruction set of the function: arm64 (cheaper per GB-second) or x86_64."
  type        = string
  default     = "arm64"
  nullable    = false

  validation {
    condition     = contains(["arm64", "x86_64"], var.architecture)
    error_message = "architecture must be arm64 or x86_64."
  }
}

variable "async_invocation" {
  description = <<-EOT
    Asynchronous invocation (S3 and EventBridge triggers): retries after a failed attempt,
    the age after which an event is dropped, and where failed events go. By default the
    module creates an encrypted SQS queue for them; set failure_destination_arn to use an
    existing SQS queue, SNS topic, Lambda function or EventBridge bus instead, or
    create_failure_queue = false with no destination to keep no record of failures.
  EOT
  type = object({
    create_failure_queue         = optional(bool, true)
    failure_destination_arn      = optional(string)
    failure_queue_kms_key_arn    = optional(string)
    failure_queue_retention_days = optional(number, 14)
    maximum_event_age_in_seconds = optional(number, 21600)
    maximum_retry_attempts       = optional(number, 2)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.async_invocation.maximum_retry_attempts >= 0 && var.async_invocation.maximum_retry_attempts <= 2 && floor(var.async_invocation.maximum_retry_attempts) == var.async_invocation.maximum_retry_attempts
    error_message = "async_invocation.maximum_retry_attempts must be 0, 1 or 2: Lambda retries an asynchronous event at most twice."
  }

  validation {
    condition     = var.async_invocation.maximum_event_age_in_seconds >= 60 && var.async_invocation.maximum_event_age_in_seconds <= 21600
    error_message = "async_invocation.maximum_event_age_in_seconds must be between 60 and 21600 (6 hours)."
  }

  validation {
    condition     = var.async_invocation.failure_queue_retention_days >= 1 && var.async_invocation.failure_queue_retention_days <= 14
    error_message = "async_invocation.failure_queue_retention_days must be between 1 and 14: SQS keeps messages at most 14 days."
  }

  validation {
    condition     = !(var.async_invocation.create_failure_queue && var.async_invocation.failure_destination_arn != null)
    error_message = "async_invocation: set either create_failure_queue = true or failure_destination_arn, not both."
  }

  validation {
    condition     = var.async_invocation.failure_destination_arn == null || can(regex("^arn:aws[a-z-]*:(sqs|sns|lambda|events):", var.async_invocation.failure_destination_arn))
    error_message = "async_invocation.failure_destination_arn must be the ARN of an SQS queue, SNS topic, Lambda function or EventBridge event bus."
  }
}

variable "description" {
  description = "Description of the function shown in the Lambda console."
  type        = string
  default     = null
}

variable "environment" {
  description = "Environment variables of the function. Secrets do not belong here: pass their ARNs and read them at run time."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "handler" {
  description = "Entry point inside the package, as module.function, e.g. mlgw.handlers.predict.lambda_handler."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[A-Za-z_][A-Za-z0-9_.]*\\.[A-Za-z_][A-Za-z0-9_]*$", var.handler))
    error_message = "handler must look like package.module.function, e.g. mlgw.handlers.predict.lambda_handler."
  }
}

variable "iam_role" {
  description = <<-EOT
    The function's execution role. By default the module creates one named
    <name>-<region>: IAM names are global to the account, so the region keeps two deployments
    of one name apart (a name that would pass IAM's 64 characters keeps the region and a hash
    of the full name). name sets the created role's exact name instead; name_prefix lets IAM
    complete it with a unique suffix (the name and ARN are then known only after apply);
    path and permissions_boundary_arn apply to the created role. arn brings an existing role:
    the module then creates no role and attaches nothing, so that role must trust
    lambda.amazonaws.com and allow what the role_policy_json output lists. A new name or path
    replaces the role, the new one first: change the name along with the path of a role
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
  description = "KMS key that encrypts the environment variables at rest (default: the AWS managed key). The role gets kms:Decrypt on it."
  type        = string
  default     = null
}

variable "layers" {
  description = "Additional layer version ARNs, after the Powertools layer. Lambda allows 5 layers in all."
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = length(var.layers) <= 4
    error_message = "layers can hold at most 4 ARNs: Lambda allows 5 layers and one is the Powertools layer."
  }
}

variable "logging" {
  description = "CloudWatch Logs: retention, optional KMS key of the log group, and the application log level."
  type = object({
    kms_key_arn       = optional(string)
    level             = optional(string, "INFO")
    retention_in_days = optional(number, 30)
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.logging.retention_in_days)
    error_message = "logging.retention_in_days must be one of the values CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }

  validation {
    condition     = contains(["DEBUG", "INFO", "WARN", "ERROR"], var.logging.level)
    error_message = "logging.level must be DEBUG, INFO, WARN or ERROR (Lambda's application log levels)."
  }
}

variable "memory_size" {
  description = "Memory in MB; CPU is allocated in proportion."
  type        = number
  default     = 256
  nullable    = false

  validation {
    condition     = var.memory_size >= 128 && var.memory_size <= 10240 && floor(var.memory_size) == var.memory_size
    error_message = "memory_size must be a whole number of MB between 128 and 10240."
  }
}

variable "name" {
  description = "Name of the function, its log group and its failure queue, and the start of its role's name: lower-case letters, digits and hyphens, at most 56 characters."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,54}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 56 lower-case letters, digits or hyphens, starting with a letter and not ending with a hyphen (it also names the failure queue and starts the role name)."
  }
}

variable "package" {
  description = "A prebuilt deployment package shared by several functions (filename and base64 SHA-256). Null: the module zips source_dir itself."
  type = object({
    filename         = string
    source_code_hash = string
  })
  default = null
}

variable "policy_statements" {
  description = "Extra IAM statements for the function's role, keyed by statement id. Scope resources to exact ARNs."
  type = map(object({
    actions   = list(string)
    resources = list(string)
    effect    = optional(string, "Allow")
    conditions = optional(list(object({
      test     = string
      variable = string
      values   = list(string)
    })), [])
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for sid in keys(var.policy_statements) : can(regex("^[A-Za-z0-9]+$", sid))])
    error_message = "policy_statements keys become statement ids: use letters and digits only."
  }

  validation {
    condition     = alltrue([for s in values(var.policy_statements) : contains(["Allow", "Deny"], s.effect)])
    error_message = "policy_statements effect must be Allow or Deny."
  }

  validation {
    condition     = alltrue([for s in values(var.policy_statements) : length(s.actions) > 0 && length(s.resources) > 0])
    error_message = "policy_statements each need at least one action and one resource."
  }
}

variable "powertools_layer" {
  description = <<-EOT
    AWS Lambda Powertools for Python from AWS's public layer. The ARN is built from the
    region, architecture and runtime with a layer version this module pins (27, the layer
    of aws-lambda-powertools 3.23.0, which the tests use), so plans never drift. Override
    version to move, or arn to use a copy of your own; enabled = false drops the layer.
  EOT
  type = object({
    arn     = optional(string)
    enabled = optional(bool, true)
    version = optional(number, 27)
  })
  default  = {}
  nullable = false

  validation {
    condition     = var.powertools_layer.version >= 1 && floor(var.powertools_layer.version) == var.powertools_layer.version
    error_message = "powertools_layer.version must be a positive whole number."
  }
}

variable "recursive_loop" {
  description = "Lambda's recursive loop detection: Terminate stops the function when it is found invoking itself in a loop (the default); Allow is for a function that bounds its own chain of invocations, such as one handing the rest of its work to a fresh invocation of itself."
  type        = string
  default     = "Terminate"
  nullable    = false

  validation {
    condition     = contains(["Terminate", "Allow"], var.recursive_loop)
    error_message = "recursive_loop must be Terminate or Allow."
  }
}

variable "reserved_concurrent_executions" {
  description = "Concurrency reserved for the function: -1 for none (shares the account pool), 0 to disable it."
  type        = number
  default     = -1
  nullable    = false

  validation {
    condition     = var.reserved_concurrent_executions >= -1 && floor(var.reserved_concurrent_executions) == var.reserved_concurrent_executions
    error_message = "reserved_concurrent_executions must be -1 (unreserved), 0 (disabled) or a positive whole number."
  }
}

variable "runtime" {
  description = "Python runtime of the function."
  type        = string
  default     = "python3.13"
  nullable    = false

  validation {
    condition     = contains(["python3.12", "python3.13", "python3.14"], var.runtime)
    error_message = "runtime must be python3.12, python3.13 or python3.14: the handlers and the Powertools layer need one of them."
  }
}

variable "source_dir" {
  description = "Directory zipped into the package when package is null (default: the repository's lambda_src)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "timeout" {
  description = "Timeout in seconds. Behind API Gateway keep it under 29 s, the integration timeout."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.timeout >= 1 && var.timeout <= 900 && floor(var.timeout) == var.timeout
    error_message = "timeout must be a whole number of seconds between 1 and 900."
  }
}

variable "tracing_mode" {
  description = "X-Ray tracing: Active samples and traces requests, PassThrough only follows upstream decisions."
  type        = string
  default     = "PassThrough"
  nullable    = false

  validation {
    condition     = contains(["Active", "PassThrough"], var.tracing_mode)
    error_message = "tracing_mode must be Active or PassThrough."
  }
}

variable "vpc_config" {
  description = "Subnets and security groups when the function must reach private resources (e.g. an internal model server)."
  type = object({
    security_group_ids = list(string)
    subnet_ids         = list(string)
  })
  default = null

  validation {
    condition     = var.vpc_config == null || (length(try(var.vpc_config.subnet_ids, [])) > 0 && length(try(var.vpc_config.security_group_ids, [])) > 0)
    error_message = "vpc_config needs at least one subnet id and one security group id."
  }
}
