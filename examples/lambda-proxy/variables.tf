variable "account_cloudwatch_role" {
  description = "The region's API Gateway CloudWatch role: \"none\" (no stage logging), \"existing\" (the account has it: the stage logs) or \"create\" (this stack sets it for every REST API of the region)."
  type        = string
  default     = "none"
}

variable "daily_quota" {
  description = "Requests the example key may make per day."
  type        = number
  default     = 1000
}

variable "endpoint_name" {
  description = "Name of your SageMaker endpoint: JSON records in, JSON predictions out."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be a SageMaker endpoint name: 1 to 63 letters, digits or hyphens."
  }
}

variable "log_retention_in_days" {
  description = "Retention of the API's access and execution logs."
  type        = number
  default     = 30
}

variable "name" {
  description = "Name of the API; the function is <name>-predict."
  type        = string
  default     = "mlgw-example"
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}
