variable "actuals_api_url" {
  description = "Base URL of the DataRobot installation that receives actuals (https://app.datarobot.com, https://app.eu.datarobot.com, or your own)."
  type        = string
  default     = "https://app.datarobot.com"
}

variable "feature_names" {
  description = "The model's feature columns in training order, without the label: JSON requests are turned into CSV in this order, and batch files carry them as header columns."
  type        = list(string)
  nullable    = false

  validation {
    condition     = length(var.feature_names) > 0 && length(distinct(var.feature_names)) == length(var.feature_names)
    error_message = "feature_names must list the model's feature columns, each once."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete the data bucket with every object (and version) in it. Leave false unless the data may go."
  type        = bool
  default     = false
}

variable "image" {
  description = "Inference image: SageMaker's XGBoost image of the region (see terraform.tfvars.example) or your own ECR image."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[^:@]+[:@].+$", var.image))
    error_message = "image must be an ECR image URI with a tag or digest, e.g. 683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1."
  }
}

variable "model_data_url" {
  description = "S3 URI of your trained model.tar.gz (an XGBoost binary:logistic model for the built-in image), in this account and region."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/.+\\.tar\\.gz$", var.model_data_url))
    error_message = "model_data_url must be the S3 URI of a model.tar.gz, e.g. s3://my-ml-artifacts/churn/output/model.tar.gz."
  }
}

variable "name" {
  description = "Prefix of every resource name; the data bucket is <name>-<account id>-<region>."
  type        = string
  default     = "churn"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name)) && length("${var.name}-123456789012-${var.region}") <= 63
    error_message = "name must be 2 to 32 lower-case letters, digits or hyphens starting with a letter, and short enough that <name>-<account id>-<region> stays within S3's 63-character bucket names."
  }
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}

variable "rollback_alarm_names" {
  description = "CloudWatch alarms (existing, on this endpoint's metrics) that roll a model update back while traffic shifts; empty uses the endpoint's own 5XX-rate and latency alarms that monitoring creates."
  type        = list(string)
  default     = []
}
