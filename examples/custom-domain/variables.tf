variable "certificate_arn" {
  description = "ARN of the ACM certificate that covers domain_name: in the deployment's region for a REGIONAL domain, in us-east-1 for an EDGE one."
  type        = string
  nullable    = false
}

variable "domain_name" {
  description = "The host name clients call, such as api.example.com."
  type        = string
  nullable    = false
}

variable "endpoint_name" {
  description = "Name of the SageMaker endpoint you already run (JSON in, JSON out on POST /predict)."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint_name))
    error_message = "endpoint_name must be a SageMaker endpoint name: 1 to 63 letters, digits or hyphens."
  }
}

variable "endpoint_type" {
  description = "REGIONAL (served from the deployment's region) or EDGE (through a CloudFront distribution API Gateway manages)."
  type        = string
  default     = "REGIONAL"
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

variable "route53_zone_id" {
  description = "ID of the public Route 53 hosted zone of domain_name, where the alias records are created; null when you manage DNS elsewhere (point it at the dns_target output)."
  type        = string
  default     = null
}
