variable "endpoint_name" {
  description = "Name of your SageMaker endpoint that rates (user, item) pairs in object2vec's JSON instances format (see the README)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be a SageMaker endpoint name: 1 to 63 letters, digits or hyphens."
  }
}

variable "name" {
  description = "Name of the API."
  type        = string
  default     = "mlgw-ratings"
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}
