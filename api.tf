locals {
  api_enabled     = var.api != null
  predict_enabled = local.api_enabled && length(var.models) > 0

  # Lambda-proxy routes of the prediction function, created from the models table.
  predict_routes = {
    for key, route in {
      # GET answers depend on ?data= (and {model}): they key the stage cache, so a cached
      # answer is never served for other features or another model.
      predict           = { path = "predict", method = "POST", query_parameters = tomap({}), cache_key_parameters = tolist([]) }
      predict-get       = { path = "predict", method = "GET", query_parameters = tomap({ data = true }), cache_key_parameters = tolist(["method.request.querystring.data"]) }
      predict-model     = { path = "predict/{model}", method = "POST", query_parameters = tomap({}), cache_key_parameters = tolist([]) }
      predict-model-get = { path = "predict/{model}", method = "GET", query_parameters = tomap({ data = true }), cache_key_parameters = tolist(["method.request.path.model", "method.request.querystring.data"]) }
    } : key => merge(route, { type = "lambda_proxy" }) if local.predict_enabled
  }

  # Routes that address an inference component need it as a resource of InvokeEndpoint too.
  # Whether SageMaker lower-cases inference component names in the ARN it authorizes, as it
  # does endpoint names, is not documented; CloudWatch exporters match them lower-cased
  # (https://github.com/prometheus-community/yet-another-cloudwatch-exporter/pull/1793).
  # Both spellings name the same component, so both are granted.
  inference_component_arns = distinct(flatten([
    for model in values(local.models) : [
      for name in distinct([model.inference_component, lower(model.inference_component)]) :
      "arn:${local.partition}:sagemaker:${local.region}:${local.account_id}:inference-component/${name}"
    ] if model.backend == "sagemaker" && try(model.inference_component, null) != null
  ]))

  predict_models_parameter = try(var.api.predict.models_parameter, null)
  # SSM parameter ARNs name the parameter without its leading "/"
  # (https://github.com/aws/aws-cdk/commit/e26a36c, fix of https://github.com/aws/aws-cdk/issues/4672).
  predict_models_parameter_arn = local.predict_models_parameter == null ? null : (
    "arn:${local.partition}:ssm:${local.region}:${local.account_id}:parameter/${trimprefix(local.predict_models_parameter.name, "/")}"
  )

  # The prediction function's settings document (lambda_src/mlgw/predict/settings.py reads it).
  predict_settings = !local.predict_enabled ? null : {
    models                = local.predict_models_parameter == null ? local.models : null
    models_parameter      = local.predict_models_parameter == null ? null : { name = local.predict_models_parameter.name, cache_ttl_seconds = local.predict_models_parameter.cache_ttl_seconds }
    default_endpoint_name = local.endpoint_name
    model_call            = var.api.predict.model_call
    retry_after_seconds   = var.api.predict.retry_after_seconds
    log_request_bodies    = var.api.predict.log_request_bodies
  }

  amazon_ml_model_arns = distinct([
    for model in values(local.models) :
    "arn:${local.partition}:machinelearning:${local.region}:${local.account_id}:mlmodel/${model.model_id}"
    if model.backend == "amazon-ml"
  ])
}

module "predict" {
  source = "./modules/lambda-function"
  count  = local.predict_enabled ? 1 : 0

  name        = "${var.name}-predict"
  description = "Real-time predictions routed by model name"
  handler     = "mlgw.handlers.predict.lambda_handler"
  package     = local.package
  memory_size = var.api.predict.memory_size
  timeout     = var.api.predict.timeout
  tags        = var.tags

  iam_role = {
    arn                      = lookup(var.iam_roles.arns, "predict", null)
    name_prefix              = lookup(var.iam_roles.arns, "predict", null) == null ? local.role_name_prefixes["predict"] : null
    path                     = var.iam_roles.path
    permissions_boundary_arn = var.iam_roles.permissions_boundary_arn
  }

  # Invoked synchronously by API Gateway: there is no asynchronous event to retry or keep.
  async_invocation = {
    create_failure_queue   = false
    maximum_retry_attempts = 0
  }

  environment = {
    MLGW_SETTINGS                = jsonencode(local.predict_settings)
    POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
  }

  policy_statements = merge(
    length(local.model_endpoint_arns) == 0 ? {} : {
      InvokeModelEndpoints = {
        actions   = ["sagemaker:InvokeEndpoint"]
        resources = concat(local.model_endpoint_arns, local.inference_component_arns)
      }
    },
    length(local.amazon_ml_model_arns) == 0 ? {} : {
      PredictAmazonMl = {
        actions   = ["machinelearning:Predict"]
        resources = local.amazon_ml_model_arns
      }
    },
    local.predict_models_parameter == null ? {} : {
      ReadRoutingTable = {
        actions   = ["ssm:GetParameter"]
        resources = [local.predict_models_parameter_arn]
      }
    },
    try(local.predict_models_parameter.kms_key_arn, null) == null ? {} : {
      # GetParameter with decryption decrypts a SecureString with the parameter's key.
      DecryptRoutingTable = {
        actions   = ["kms:Decrypt"]
        resources = [local.predict_models_parameter.kms_key_arn]
      }
    },
  )
}

module "api" {
  source = "./modules/rest-api"
  count  = local.api_enabled ? 1 : 0

  name                         = var.name
  description                  = coalesce(var.api.description, "Predictions of ${var.name}")
  tags                         = var.tags
  default_endpoint_name        = local.endpoint_name
  endpoint_configuration       = var.api.endpoint_configuration
  resource_policy              = var.api.resource_policy
  account_cloudwatch_role      = var.api.account_cloudwatch_role
  authorizers                  = var.api.authorizers
  cors                         = var.api.cors
  custom_domain                = var.api.custom_domain
  binary_media_types           = var.api.binary_media_types
  minimum_compression_size     = var.api.minimum_compression_size
  disable_execute_api_endpoint = var.api.disable_execute_api_endpoint
  stages                       = var.api.stages
  usage_plans                  = var.api.usage_plans
  api_keys                     = var.api.api_keys
  iam_role = {
    arn                      = lookup(var.iam_roles.arns, "api_sagemaker", null)
    name_prefix              = lookup(var.iam_roles.arns, "api_sagemaker", null) == null ? local.role_name_prefixes["apigateway"] : null
    path                     = var.iam_roles.path
    permissions_boundary_arn = var.iam_roles.permissions_boundary_arn
  }

  lambda_function = local.predict_enabled ? {
    function_name = module.predict[0].function_name
    invoke_arn    = module.predict[0].invoke_arn
  } : null

  routes = merge(
    { for key, route in local.predict_routes : key => merge(route, { api_key_required = var.api.predict.api_key_required }) },
    var.api.routes,
  )
}
