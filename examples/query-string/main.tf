provider "aws" {
  region = var.region

  default_tags {
    tags = { project = "ml-gateway-example" }
  }
}

data "aws_caller_identity" "current" {}

# The features travel in the query string (GET /predict?data=5.1,3.5,1.4,0.2): the model's
# columns in order, as the endpoint's CSV contract expects them.
module "predict" {
  source = "../../modules/lambda-function"

  name        = "${var.name}-predict"
  description = "Query-string predictions for ${var.endpoint_name}"
  handler     = "mlgw.handlers.predict.lambda_handler"
  memory_size = 512
  timeout     = 25

  # The prediction function reads one settings document with every field set
  # (lambda_src/mlgw/predict/settings.py); the root module renders it from api.predict.
  environment = {
    MLGW_SETTINGS = jsonencode({
      models                = { default = { backend = "sagemaker", endpoint_name = var.endpoint_name, content_type = "text/csv" } }
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

module "api" {
  source = "../../modules/rest-api"

  name        = var.name
  description = "Predictions from query-string features"

  lambda_function = {
    function_name = module.predict.function_name
    invoke_arn    = module.predict.invoke_arn
  }

  routes = {
    predict = {
      type             = "lambda_proxy"
      path             = "predict"
      method           = "GET"
      query_parameters = { data = true } # API Gateway answers 400 before Lambda runs when it is missing
      # With a stage cache, identical feature vectors are answered from the cache.
      cache_key_parameters = ["method.request.querystring.data"]
    }
  }

  stages = {
    prod = {
      throttle = { rate = 20, burst = 40 }
      cache    = var.cache_size == null ? null : { size = var.cache_size, ttl_in_seconds = 300 }
    }
  }

  usage_plans = {
    basic = { stages = ["prod"], throttle = { rate = 5, burst = 10 }, quota = { limit = 500, period = "DAY" } }
  }

  api_keys = {
    example-client = { usage_plan = "basic" }
  }
}
