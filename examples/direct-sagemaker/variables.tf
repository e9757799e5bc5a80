variable "endpoint_name" {
  description = "Name of an existing SageMaker endpoint that rates (user, item) pairs in object2vec's JSON instances format."
  type        = string
  default     = "movie-ratings"
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
