variable "api_url" {
  description = "Base URL of the MLOps platform's API."
  type        = string
  default     = "https://app.datarobot.com"
}

variable "bucket" {
  description = "Existing bucket that receives the actuals files."
  type        = string
  default     = "example-ml-actuals"
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "mlgw-actuals"
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}
