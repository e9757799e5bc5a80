variable "actuals_api_url" {
  description = "Base URL of the MLOps platform that receives actuals."
  type        = string
  default     = "https://app.datarobot.com"
}

variable "bucket" {
  description = "Existing data bucket: actuals uploads, data capture."
  type        = string
  default     = "example-ml-data"
}

variable "image" {
  description = "Inference image of the model."
  type        = string
  default     = "123456789012.dkr.ecr.us-east-1.amazonaws.com/churn:1.4.0"
}

variable "model_data_url" {
  description = "S3 URI of the model artifact."
  type        = string
  default     = "s3://example-ml-artifacts/churn/v3/model.tar.gz"
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

variable "rollback_alarm_names" {
  description = "CloudWatch alarms that roll a model update back while traffic shifts."
  type        = list(string)
  default     = []
}
