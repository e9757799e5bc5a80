variable "actuals_api_url" {
  description = "Base URL of the MLOps platform that receives actuals (local mode points the function at its own receiver)."
  type        = string
  default     = "https://app.datarobot.com"
}

variable "bucket" {
  description = "Data bucket the example creates: batch/in/ for batch files, upload_actuals/ for actuals."
  type        = string
  default     = "mlgw-local-data"
}

variable "endpoint_name" {
  description = "Existing SageMaker endpoint of the classifier behind /predict and batch prediction (iris features in, class out)."
  type        = string
  default     = "iris"
}

variable "name" {
  description = "Prefix of every resource name."
  type        = string
  default     = "mlgw-local"
}

variable "ratings_endpoint_name" {
  description = "Existing SageMaker endpoint that rates (user, item) pairs in object2vec's JSON instances format, behind the direct ratings route."
  type        = string
  default     = "ratings"
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "us-east-1"
}
