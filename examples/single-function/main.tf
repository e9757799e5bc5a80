provider "aws" {
  region = var.region

  default_tags {
    tags = { project = "ml-gateway-example" }
  }
}

# One function from the shared handler package, with the module's defaults: arm64,
# python3.13, the pinned Powertools layer, a 30-day log group and a failure queue.
module "predict" {
  source = "../../modules/lambda-function"

  name        = var.name
  description = "Real-time predictions for ${var.endpoint_name}"
  handler     = "mlgw.handlers.predict.lambda_handler"
  memory_size = 512
  timeout     = 25

  # The prediction function reads one settings document with every field set
  # (lambda_src/mlgw/predict/settings.py); the root module renders it from api.predict.
  environment = {
    MLGW_SETTINGS = jsonencode({
      models                = { default = { backend = "sagemaker", endpoint_name = var.endpoint_name } }
      models_parameter      = null
      default_endpoint_name = null
      model_call            = { connect_timeout_seconds = 2, read_timeout_seconds = 8, max_attempts = 2 }
      retry_after_seconds   = 1
      log_request_bodies    = false
    })
    POWERTOOLS_METRICS_NAMESPACE = "MlGateway"
  }

  policy_statements = {
    InvokeModel = {
      actions   = ["sagemaker:InvokeEndpoint"]
      resources = ["arn:aws:sagemaker:${var.region}:${data.aws_caller_identity.current.account_id}:endpoint/${lower(var.endpoint_name)}"]
    }
  }
}

data "aws_caller_identity" "current" {}
