resource "aws_api_gateway_rest_api" "this" {
  name        = var.name
  description = var.description
  # Clients identify themselves with the x-api-key header; usage plans meter them by it.
  api_key_source = "HEADER"

  endpoint_configuration {
    types            = [var.endpoint_configuration.type]
    vpc_endpoint_ids = var.endpoint_configuration.type == "PRIVATE" ? var.endpoint_configuration.vpc_endpoint_ids : null
  }

  tags = var.tags

  # A replacement API (new endpoint type, for example) is built before the old one goes.
  lifecycle {
    create_before_destroy = true
  }
}

# A PRIVATE API admits only its VPC endpoints unless the caller brings a policy of its own.
data "aws_iam_policy_document" "private" {
  count = var.endpoint_configuration.type == "PRIVATE" && var.resource_policy == null ? 1 : 0

  statement {
    sid       = "InvokeThroughVpcEndpoints"
    actions   = ["execute-api:Invoke"]
    resources = ["execute-api:/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
  }

  statement {
    sid       = "DenyOtherNetworks"
    effect    = "Deny"
    actions   = ["execute-api:Invoke"]
    resources = ["execute-api:/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "StringNotEquals"
      variable = "aws:SourceVpce"
      values   = var.endpoint_configuration.vpc_endpoint_ids
    }
  }
}

locals {
  resource_policy = var.resource_policy != null ? var.resource_policy : try(data.aws_iam_policy_document.private[0].json, null)
}

resource "aws_api_gateway_rest_api_policy" "this" {
  count = var.resource_policy != null || var.endpoint_configuration.type == "PRIVATE" ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this.id
  policy      = local.resource_policy
}

# The path tree: one resource per distinct path prefix of the routes, one block per depth.
resource "aws_api_gateway_resource" "depth1" {
  for_each = local.prefixes_by_depth[1]

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = each.value.path_part
}

resource "aws_api_gateway_resource" "depth2" {
  for_each = local.prefixes_by_depth[2]

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.depth1[each.value.parent].id
  path_part   = each.value.path_part
}

resource "aws_api_gateway_resource" "depth3" {
  for_each = local.prefixes_by_depth[3]

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.depth2[each.value.parent].id
  path_part   = each.value.path_part
}

resource "aws_api_gateway_resource" "depth4" {
  for_each = local.prefixes_by_depth[4]

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.depth3[each.value.parent].id
  path_part   = each.value.path_part
}

resource "aws_api_gateway_resource" "depth5" {
  for_each = local.prefixes_by_depth[5]

  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_resource.depth4[each.value.parent].id
  path_part   = each.value.path_part
}

resource "aws_api_gateway_request_validator" "this" {
  for_each = local.validators

  rest_api_id                 = aws_api_gateway_rest_api.this.id
  name                        = "${var.name}-${each.key}"
  validate_request_body       = each.value.body
  validate_request_parameters = each.value.parameters
}

resource "aws_api_gateway_model" "this" {
  for_each = local.models

  rest_api_id  = aws_api_gateway_rest_api.this.id
  name         = each.value.name
  description  = "Request body of the ${each.key} route"
  content_type = "application/json"
  schema       = each.value.schema
}

resource "aws_api_gateway_authorizer" "this" {
  for_each = var.authorizers

  rest_api_id                      = aws_api_gateway_rest_api.this.id
  name                             = "${var.name}-${each.key}"
  type                             = each.value.type
  provider_arns                    = each.value.type == "COGNITO_USER_POOLS" ? each.value.provider_arns : null
  authorizer_uri                   = each.value.type == "COGNITO_USER_POOLS" ? null : each.value.function_invoke_arn
  identity_source                  = each.value.identity_source
  identity_validation_expression   = each.value.identity_validation_expression
  authorizer_result_ttl_in_seconds = each.value.result_ttl_in_seconds
}

resource "aws_lambda_permission" "authorizer" {
  for_each = { for k, a in var.authorizers : k => a if a.type != "COGNITO_USER_POOLS" }

  statement_id  = "${var.name}-authorizer-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/authorizers/${aws_api_gateway_authorizer.this[each.key].id}"
}
