provider "aws" {
  region = var.region

  default_tags {
    tags = { project = "ml-gateway-example" }
  }
}

data "aws_caller_identity" "current" {}

locals {
  # The prediction function's routing table: POST /predict serves "default", POST
  # /predict/{model} serves any other key.
  models = {
    default = { backend = "sagemaker", endpoint_name = var.endpoint_name }
  }
}

module "predict" {
  source = "../../modules/lambda-function"

  name        = "${var.name}-predict"
  description = "Real-time predictions for ${var.endpoint_name}"
  handler     = "mlgw.handlers.predict.lambda_handler"
  memory_size = 512
  timeout     = 25 # under API Gateway's 29 s integration timeout

  # The prediction function reads one settings document with every field set
  # (lambda_src/mlgw/predict/settings.py); the root module renders it from api.predict.
  environment = {
    MLGW_SETTINGS = jsonencode({
      models                = local.models
      models_parameter      = null
      default_endpoint_name = var.endpoint_name
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

module "api" {
  source = "../../modules/rest-api"

  name        = var.name
  description = "Predictions of ${var.endpoint_name} behind API keys"

  lambda_function = {
    function_name = module.predict.function_name
    invoke_arn    = module.predict.invoke_arn
  }

  routes = {
    predict = {
      type           = "lambda_proxy"
      path           = "predict"
      request_schema = jsonencode({ type = "object", minProperties = 1 })
    }
    predict-model = {
      type           = "lambda_proxy"
      path           = "predict/{model}"
      request_schema = jsonencode({ type = "object", minProperties = 1 })
    }
  }

  stages = {
    prod = {
      throttle              = { rate = 50, burst = 100 }
      log_retention_in_days = var.log_retention_in_days
    }
  }

  usage_plans = {
    standard = {
      stages   = ["prod"]
      throttle = { rate = 10, burst = 20 }
      quota    = { limit = var.daily_quota, period = "DAY" }
    }
  }

  api_keys = {
    example-client = { usage_plan = "standard", description = "Key of the example client" }
  }

  account_cloudwatch_role = var.account_cloudwatch_role
}
