resource "aws_api_gateway_method" "this" {
  for_each = local.routes

  rest_api_id          = aws_api_gateway_rest_api.this.id
  resource_id          = local.resource_ids[each.value.path]
  http_method          = each.value.method
  api_key_required     = each.value.api_key_required
  authorization        = each.value.authorization
  authorizer_id        = each.value.authorizer == null ? null : aws_api_gateway_authorizer.this[each.value.authorizer].id
  authorization_scopes = length(each.value.authorization_scopes) > 0 ? each.value.authorization_scopes : null
  request_parameters   = local.method_request_parameters[each.key]
  request_validator_id = local.route_validators[each.key] == null ? null : aws_api_gateway_request_validator.this[local.route_validators[each.key]].id
  request_models       = contains(keys(local.models), each.key) ? { "application/json" = aws_api_gateway_model.this[each.key].name } : null
}

resource "aws_api_gateway_integration" "this" {
  for_each = local.routes

  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_method.this[each.key].resource_id
  http_method             = aws_api_gateway_method.this[each.key].http_method
  type                    = local.integrations[each.key].type
  integration_http_method = local.integrations[each.key].integration_http_method
  uri                     = local.integrations[each.key].uri
  credentials             = local.integrations[each.key].credentials == null ? null : local.sagemaker_role_arn
  # A direct SageMaker route sends only bodies its templates map; anything else is 415.
  passthrough_behavior = local.integrations[each.key].passthrough_behavior
  request_parameters   = length(local.integrations[each.key].request_parameters) > 0 ? local.integrations[each.key].request_parameters : null
  request_templates    = length(local.integrations[each.key].request_templates) > 0 ? local.integrations[each.key].request_templates : null
  cache_key_parameters = length(each.value.cache_key_parameters) > 0 ? each.value.cache_key_parameters : null
  timeout_milliseconds = each.value.timeout_milliseconds
}

# Direct SageMaker routes: method responses per status, integration responses per entry of
# templates/integration_responses.json (model errors never come back as 200).
resource "aws_api_gateway_method_response" "sagemaker" {
  for_each = local.method_responses

  rest_api_id         = aws_api_gateway_rest_api.this.id
  resource_id         = aws_api_gateway_method.this[each.value.route].resource_id
  http_method         = aws_api_gateway_method.this[each.value.route].http_method
  status_code         = each.value.status_code
  response_parameters = length(each.value.response_parameters) > 0 ? each.value.response_parameters : null
}

resource "aws_api_gateway_integration_response" "sagemaker" {
  for_each = local.integration_responses

  rest_api_id         = aws_api_gateway_rest_api.this.id
  resource_id         = aws_api_gateway_method.this[each.value.route].resource_id
  http_method         = aws_api_gateway_method.this[each.value.route].http_method
  status_code         = aws_api_gateway_method_response.sagemaker["${each.value.route}/${each.value.status_code}"].status_code
  selection_pattern   = each.value.selection_pattern
  response_templates  = each.value.template == null ? null : { "application/json" = each.value.template }
  response_parameters = length(each.value.response_parameters) > 0 ? each.value.response_parameters : null

  depends_on = [aws_api_gateway_integration.this]
}

# Lambda-proxy routes: API Gateway may invoke the function for this method and path only, and
# only through the stages the module creates.
resource "aws_lambda_permission" "route" {
  for_each = local.lambda_permissions

  # Lambda limits statement ids to 100 characters: long route and stage names are hashed.
  statement_id  = length("${var.name}-${each.value.route}-${each.value.stage}") <= 100 ? "${var.name}-${each.value.route}-${each.value.stage}" : "${var.name}-${substr(sha256("${each.value.route}-${each.value.stage}"), 0, 32)}"
  action        = "lambda:InvokeFunction"
  function_name = var.lambda_function.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/${each.value.stage}/${each.value.method}/${each.value.path}"

  depends_on = [aws_api_gateway_stage.this]
}

# CORS preflight: OPTIONS on every route path, answered by API Gateway itself.
resource "aws_api_gateway_method" "cors" {
  #checkov:skip=CKV_AWS_59:Browsers send CORS preflight requests without credentials or API keys; the OPTIONS mock answers headers only and reaches no backend.
  #checkov:skip=CKV2_AWS_53:The OPTIONS preflight mock takes no parameters or body, so there is nothing to validate.
  for_each = local.cors_paths

  rest_api_id      = aws_api_gateway_rest_api.this.id
  resource_id      = local.resource_ids[each.key]
  http_method      = "OPTIONS"
  authorization    = "NONE"
  api_key_required = false
}

resource "aws_api_gateway_integration" "cors" {
  for_each = local.cors_paths

  rest_api_id       = aws_api_gateway_rest_api.this.id
  resource_id       = aws_api_gateway_method.cors[each.key].resource_id
  http_method       = aws_api_gateway_method.cors[each.key].http_method
  type              = "MOCK"
  request_templates = { "application/json" = jsonencode({ statusCode = 200 }) }
}

resource "aws_api_gateway_method_response" "cors" {
  for_each = local.cors_paths

  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_method.cors[each.key].resource_id
  http_method = aws_api_gateway_method.cors[each.key].http_method
  status_code = "200"
  response_parameters = {
    "method.response.header.Access-Control-Allow-Headers" = true
    "method.response.header.Access-Control-Allow-Methods" = true
    "method.response.header.Access-Control-Allow-Origin"  = true
    "method.response.header.Access-Control-Max-Age"       = true
  }
}

resource "aws_api_gateway_integration_response" "cors" {
  for_each = local.cors_paths

  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_method.cors[each.key].resource_id
  http_method = aws_api_gateway_method.cors[each.key].http_method
  status_code = aws_api_gateway_method_response.cors[each.key].status_code
  response_parameters = {
    "method.response.header.Access-Control-Allow-Headers" = "'${join(",", var.cors.allow_headers)}'"
    "method.response.header.Access-Control-Allow-Methods" = "'${join(",", each.value)}'"
    "method.response.header.Access-Control-Allow-Origin"  = local.cors_origin
    "method.response.header.Access-Control-Max-Age"       = "'${var.cors.max_age}'"
  }

  depends_on = [aws_api_gateway_integration.cors]
}
