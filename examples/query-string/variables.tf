variable "cache_size" {
  description = "Size in GB of the prod stage's cache cluster (0.5, 1.6, ...), billed per hour; null for no cache."
  type        = string
  default     = null
}

variable "endpoint_name" {
  description = "Name of an existing SageMaker endpoint that takes CSV rows (for example the iris classifier)."
  type        = string
  default     = "iris-classifier"
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
