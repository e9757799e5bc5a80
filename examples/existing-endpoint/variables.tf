variable "endpoint_name" {
  description = "Name of the SageMaker endpoint you already run."
  type        = string
  default     = "churn-prod"
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
