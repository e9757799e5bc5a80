variable "expirations" {
  description = "Lifecycle expirations, keyed by rule name: objects under prefix are deleted after days (e.g. outputs and error reports)."
  type = map(object({
    prefix = string
    days   = number
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for r in values(var.expirations) : r.days >= 1 && floor(r.days) == r.days])
    error_message = "expirations days must be a whole number of days, at least 1."
  }

  validation {
    condition     = alltrue([for r in values(var.expirations) : endswith(r.prefix, "/") && !startswith(r.prefix, "/")])
    error_message = "expirations prefix must be a key prefix ending with \"/\", e.g. \"batch/out/\"."
  }
}

variable "force_destroy" {
  description = "Allow terraform destroy to delete a bucket that still holds objects. Off by default: data is not thrown away by accident."
  type        = bool
  default     = false
  nullable    = false
}

variable "kms_key_arn" {
  description = "Customer managed KMS key for default encryption (SSE-KMS with a bucket key). Null: SSE-S3."
  type        = string
  default     = null
}

variable "logging" {
  description = "Server access logging target: an existing log bucket and a prefix. Null: no access logs."
  type = object({
    target_bucket = string
    target_prefix = optional(string, "")
  })
  default = null
}

variable "name" {
  description = "Name of the bucket, unique in its partition: include the account id and region (e.g. churn-data-123456789012-eu-west-1) so two stacks never claim the same name."
  type        = string
  nullable    = false

  # S3's general purpose bucket naming rules:
  # https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.name))
    error_message = "name must be an S3 bucket name: 3 to 63 lower-case letters, digits, dots or hyphens, beginning and ending with a letter or digit."
  }

  validation {
    condition     = !strcontains(var.name, "..") && !can(regex("^[0-9]+[.][0-9]+[.][0-9]+[.][0-9]+$", var.name))
    error_message = "name must not hold two adjacent dots or look like an IP address (192.168.5.4): S3 refuses such bucket names."
  }

  validation {
    condition = (
      !anytrue([for p in ["xn--", "sthree-", "amzn-s3-demo-"] : startswith(var.name, p)]) &&
      !anytrue([for s in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] : endswith(var.name, s)])
    )
    error_message = "name must not start with xn--, sthree- or amzn-s3-demo-, nor end with -s3alias, --ol-s3, .mrap, --x-s3 or --table-s3: S3 reserves them."
  }
}

variable "noncurrent_version_days" {
  description = "Days after which non-current object versions are deleted."
  type        = number
  default     = 30
  nullable    = false

  validation {
    condition     = var.noncurrent_version_days >= 1
    error_message = "noncurrent_version_days must be at least 1."
  }
}

variable "tags" {
  description = "Tags for the bucket."
  type        = map(string)
  default     = {}
  nullable    = false
}
