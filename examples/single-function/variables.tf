variable "endpoint_name" {
  description = "Name of an existing SageMaker endpoint the function invokes."
  type        = string
  default     = "iris-classifier"
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
