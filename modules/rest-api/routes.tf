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
