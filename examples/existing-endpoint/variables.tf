variable "endpoint_name" {
  description = "Name of the SageMaker endpoint you already run (JSON in, JSON out on POST /predict)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be a SageMaker endpoint name: 1 to 63 letters, digits or hyphens."
  }
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "churn"
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}
