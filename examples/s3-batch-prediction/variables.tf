variable "endpoint_name" {
  description = "Name of your SageMaker endpoint that scores the files: CSV feature rows in (no header), one prediction per row out."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be a SageMaker endpoint name: 1 to 63 letters, digits or hyphens."
  }
}

variable "id_column" {
  description = "Header column that identifies a row: copied to the output, never sent to the model."
  type        = string
  default     = "id"
}

variable "name" {
  description = "Prefix of every resource name; the bucket is <name>-batch-<account id>-<region>."
  type        = string
  default     = "churn"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name)) && length("${var.name}-batch-123456789012-${var.region}") <= 63
    error_message = "name must be 2 to 32 lower-case letters, digits or hyphens starting with a letter, and short enough that <name>-batch-<account id>-<region> stays within S3's 63-character bucket names."
  }
}

variable "region" {
  description = "AWS region to deploy to (the endpoint's region)."
  type        = string
  default     = "us-east-1"
}
