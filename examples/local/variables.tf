variable "actuals_api_url" {
  description = "Base URL of the MLOps platform that receives actuals (local mode points the function at its own receiver)."
  type        = string
  default     = "https://app.datarobot.com"
}

variable "endpoint_name" {
  description = "SageMaker endpoint of the classifier behind /predict and batch prediction (iris features in, class out). Local mode serves a bundled model under this name; on AWS, name your own endpoint."
  type        = string
  default     = "iris"
}

variable "name" {
  description = "Prefix of every resource name; the data bucket is <name>-<account id>-<region>."
  type        = string
  default     = "mlgw-local"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name)) && length("${var.name}-123456789012-${var.region}") <= 63
    error_message = "name must be 2 to 32 lower-case letters, digits or hyphens starting with a letter, and short enough that <name>-<account id>-<region> stays within S3's 63-character bucket names."
  }
}

variable "ratings_endpoint_name" {
  description = "SageMaker endpoint that rates (user, item) pairs in object2vec's JSON instances format, behind the direct ratings route. Local mode serves a bundled model under this name; on AWS, name your own endpoint."
  type        = string
  default     = "ratings"
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}
