locals {
  # What a deployment snapshots: the document, plus the API settings that live outside it (the
  # endpoint type and the resource policy take effect on the stages only with a new deployment).
  deployment_hash = sha1(jsonencode({
    openapi                = local.openapi_json
    endpoint_configuration = var.endpoint_configuration
    resource_policy        = local.resource_policy
  }))

  default_access_log_format = jsonencode({
    requestId          = "$context.requestId"
    extendedRequestId  = "$context.extendedRequestId"
    requestTime        = "$context.requestTime"
    ip                 = "$context.identity.sourceIp"
    apiKeyId           = "$context.identity.apiKeyId"
    caller             = "$context.identity.caller"
    user               = "$context.identity.user"
    httpMethod         = "$context.httpMethod"
    resourcePath       = "$context.resourcePath"
    path               = "$context.path"
    protocol           = "$context.protocol"
    status             = "$context.status"
    responseLength     = "$context.responseLength"
    responseLatency    = "$context.responseLatency"
    integrationStatus  = "$context.integration.status"
    integrationLatency = "$context.integration.latency"
    errorResponseType  = "$context.error.responseType"
    xrayTraceId        = "$context.xrayTraceId"
    wafStatus          = "$context.waf.status"
  })

  # Logging needs the region's API Gateway CloudWatch role; a stage that does not say otherwise
  # logs when the role is there and stays silent when it is not, so a fresh account applies.
  create_account_cloudwatch_role = var.account_cloudwatch_role == "create"
  logging_available              = var.account_cloudwatch_role != "none"

  stages = {
    for k, s in var.stages : k => merge(s, {
      logging_level       = coalesce(s.logging_level, local.logging_available ? "ERROR" : "OFF")
      access_logs         = coalesce(s.access_logs, local.logging_available)
      access_log_group    = "/aws/apigateway/${var.name}/${k}"
      execution_log_group = "API-Gateway-Execution-Logs_${aws_api_gateway_rest_api.this.id}/${k}"
    })
  }

  # API keys reach a stage only through a usage plan that covers it: a stage without any plan
  # refuses every keyed request. A plan's keys may be attached outside the module (output
  # usage_plan_ids; CreateUsagePlanKey), so a plan with no key here only warns, unless the plan
  # says external_keys.
  key_routes     = anytrue([for r in values(local.routes) : r.api_key_required])
  planned_stages = toset(flatten([for p in values(var.usage_plans) : p.stages]))
  keyed_stages   = toset(flatten([for name, p in var.usage_plans : p.stages if p.external_keys || anytrue([for k in values(local.api_keys) : k.enabled && k.usage_plan == name])]))
  keyless_stages = sort(tolist(setsubtract(local.planned_stages, local.keyed_stages)))

  # Per-route stage settings: a route's own throttle, and caching of GET routes when the stage
  # has a cache. POST bodies are never cache keys, so POST routes are never cached.
  # A method setting is addressed by the resource path with every "/" escaped as "~1", then
  # "/<METHOD>": POST /predict/{model} is "~1predict~1{model}/POST", as get-stage lists it
  # (https://github.com/hashicorp/terraform-provider-aws/issues/9738); an unescaped nested path
  # fails with "Invalid method setting path" (https://github.com/hashicorp/terraform-provider-aws/issues/15855).
  route_method_settings = merge([
    for stage, s in var.stages : {
      for k, r in local.routes : "${stage}/${k}" => {
        stage       = stage
        method_path = "~1${replace(r.path, "/", "~1")}/${r.method}"
        throttle    = lookup(s.method_throttles, k, s.throttle)
        caching     = s.cache != null && r.method == "GET"
      } if contains(keys(s.method_throttles), k) || (s.cache != null && r.method == "GET")
    }
  ]...)
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  description = "Configuration ${local.deployment_hash}"

  triggers = {
    redeployment = local.deployment_hash
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_cloudwatch_log_group" "access" {
  #checkov:skip=CKV_AWS_158:KMS encryption is opt-in through stages.log_kms_key_arn; CloudWatch Logs encrypts at rest by default.
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (stages.log_retention_in_days, default 30 days); a year of access logs is rarely wanted.
  for_each = { for k, s in local.stages : k => s if s.access_logs }

  name              = each.value.access_log_group
  retention_in_days = each.value.log_retention_in_days
  kms_key_id        = each.value.log_kms_key_arn
  tags              = var.tags
}

# API Gateway writes execution logs to this group and would create it without retention.
resource "aws_cloudwatch_log_group" "execution" {
  #checkov:skip=CKV_AWS_158:KMS encryption is opt-in through stages.log_kms_key_arn; CloudWatch Logs encrypts at rest by default.
  #checkov:skip=CKV_AWS_338:Retention is the caller's choice (stages.log_retention_in_days, default 30 days); a year of execution logs is rarely wanted.
  for_each = { for k, s in local.stages : k => s if s.logging_level != "OFF" || s.data_trace }

  name              = each.value.execution_log_group
  retention_in_days = each.value.log_retention_in_days
  kms_key_id        = each.value.log_kms_key_arn
  tags              = var.tags
}

resource "aws_api_gateway_stage" "this" {
  #checkov:skip=CKV_AWS_120:The cache cluster is opt-in per stage (stages.cache); caching predictions is only right for deterministic GET routes.
  #checkov:skip=CKV_AWS_73:X-Ray is opt-in per stage (stages.xray_tracing); tracing every request costs per trace.
  #checkov:skip=CKV2_AWS_29:A WAF web ACL is opt-in per stage (stages.web_acl_arn); the module does not own web ACLs.
  #checkov:skip=CKV2_AWS_4:The logging level of every method of the stage is set by aws_api_gateway_method_settings.all (stages.logging_level; ERROR by default where the region has the CloudWatch role, see account_cloudwatch_role).
  #checkov:skip=CKV2_AWS_77:The web ACL is the caller's (stages.web_acl_arn); its rule groups, Log4j protection included, are managed where the ACL is.
  #checkov:skip=CKV2_AWS_51:Client certificates authenticate API Gateway to HTTP backends; the integrations here are Lambda and SageMaker, signed with IAM.
  for_each = local.stages

  rest_api_id           = aws_api_gateway_rest_api.this.id
  deployment_id         = aws_api_gateway_deployment.this.id
  stage_name            = each.key
  description           = each.value.description
  variables             = length(each.value.variables) > 0 ? each.value.variables : null
  xray_tracing_enabled  = each.value.xray_tracing
  cache_cluster_enabled = each.value.cache != null
  cache_cluster_size    = try(each.value.cache.size, null)

  dynamic "access_log_settings" {
    for_each = each.value.access_logs ? [coalesce(each.value.access_log_format, local.default_access_log_format)] : []
    content {
      destination_arn = aws_cloudwatch_log_group.access[each.key].arn
      format          = access_log_settings.value
    }
  }

  tags = var.tags

  lifecycle {
    # API Gateway lets a request through a method that requires an API key only with a key of a
    # usage plan that covers the stage; on a stage no plan covers, every request is 403
    # (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-api-usage-plans.html).
    precondition {
      condition     = !local.key_routes || contains(local.planned_stages, each.key) || each.value.external_usage_plans
      error_message = "stages: routes require an API key (api_key_required is true by default), but no usage plan covers stage ${each.key}, so no key can ever be valid there and every request would get 403. Add the stage to a usage plan (its keys can be attached here with api_keys or elsewhere through the usage_plan_ids output), set external_usage_plans = true on the stage when a usage plan managed elsewhere covers it, or set api_key_required = false on the routes that need no key."
    }
  }

  depends_on = [aws_cloudwatch_log_group.execution, aws_api_gateway_account.this]
}

# Stage-wide defaults for every method.
resource "aws_api_gateway_method_settings" "all" {
  #checkov:skip=CKV_AWS_225:Caching is off by default: a cached POST prediction would answer another body's request. GET routes are cached per route when the stage has a cache.
  for_each = local.stages

  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this[each.key].stage_name
  method_path = "*/*"

  settings {
    logging_level          = each.value.logging_level
    data_trace_enabled     = each.value.data_trace
    metrics_enabled        = each.value.metrics_enabled
    throttling_rate_limit  = try(each.value.throttle.rate, null)
    throttling_burst_limit = try(each.value.throttle.burst, null)
    caching_enabled        = false
  }
}

resource "aws_api_gateway_method_settings" "route" {
  #checkov:skip=CKV_AWS_225:Caching is on only for GET routes of stages with a cache (stages.cache); other overrides only throttle.
  for_each = local.route_method_settings

  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this[each.value.stage].stage_name
  method_path = each.value.method_path

  settings {
    logging_level          = local.stages[each.value.stage].logging_level
    data_trace_enabled     = local.stages[each.value.stage].data_trace
    metrics_enabled        = local.stages[each.value.stage].metrics_enabled
    throttling_rate_limit  = try(each.value.throttle.rate, null)
    throttling_burst_limit = try(each.value.throttle.burst, null)
    caching_enabled        = each.value.caching
    cache_ttl_in_seconds   = each.value.caching ? local.stages[each.value.stage].cache.ttl_in_seconds : null
    cache_data_encrypted   = each.value.caching ? true : null
    # Clients may not flush the cache with Cache-Control: max-age=0 unless IAM-authorised.
    require_authorization_for_cache_control    = each.value.caching ? true : null
    unauthorized_cache_control_header_strategy = each.value.caching ? "FAIL_WITH_403" : null
  }

  depends_on = [aws_api_gateway_method_settings.all]
}

resource "aws_wafv2_web_acl_association" "this" {
  for_each = { for k, s in local.stages : k => s if s.web_acl_arn != null }

  resource_arn = aws_api_gateway_stage.this[each.key].arn
  web_acl_arn  = each.value.web_acl_arn
}

# A plan whose keys are all attached elsewhere is valid, so this only warns.
check "usage_plans_have_keys" {
  assert {
    condition     = !local.key_routes || length(local.keyless_stages) == 0
    error_message = "usage_plans: routes require an API key, but the usage plans of stage(s) ${join(", ", local.keyless_stages)} have no enabled key in api_keys, so requests there get 403 until a key is attached to one of those plans. Attach keys elsewhere (output usage_plan_ids) and set external_keys = true on the plan to say so, or add a key to api_keys."
  }
}
