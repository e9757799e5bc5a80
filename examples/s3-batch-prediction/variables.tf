variable "bucket" {
  description = "Name of the bucket to create for batch files."
  type        = string
  default     = "example-ml-batch"
}

variable "endpoint_name" {
  description = "Name of the SageMaker endpoint that scores the files (CSV in, CSV out)."
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
