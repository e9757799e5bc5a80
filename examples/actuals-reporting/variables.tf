variable "api_url" {
  description = "Base URL of the DataRobot installation that receives the actuals (https://app.datarobot.com, https://app.eu.datarobot.com, or your own)."
  type        = string
  default     = "https://app.datarobot.com"
}

variable "force_destroy" {
  description = "Let terraform destroy delete the bucket with every object (and version) in it."
  type        = bool
  default     = false
}

variable "name" {
  description = "Prefix of every resource name; the bucket is <name>-<account id>-<region>."
  type        = string
  default     = "mlgw-actuals"

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
