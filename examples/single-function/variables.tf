variable "endpoint_name" {
  description = "Name of your SageMaker endpoint the function invokes."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be a SageMaker endpoint name: 1 to 63 letters, digits or hyphens."
  }
}

variable "name" {
  description = "Name of the function."
  type        = string
  default     = "mlgw-example-predict"
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}
