variable "cache_size" {
  description = "Size in GB of the prod stage's cache cluster (0.5, 1.6, ...), billed per hour; null for no cache."
  type        = string
  default     = null
}

variable "endpoint_name" {
  description = "Name of your SageMaker endpoint that takes one CSV row of features (for example an iris classifier)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be a SageMaker endpoint name: 1 to 63 letters, digits or hyphens."
  }
}

variable "name" {
  description = "Name of the API; the function is <name>-predict."
  type        = string
  default     = "mlgw-query"
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}
