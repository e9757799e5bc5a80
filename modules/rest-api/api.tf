# The API is its OpenAPI document (openapi.tf), imported with PutRestApi in overwrite mode, the
# provider's default for put_rest_api_mode: the document replaces the API's whole definition, and
# anything it leaves out is deleted, API-level settings included (resourceRestAPIUpdate in
# https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/apigateway/rest_api.go;
# https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-import-api-update.html).
# So no route-level resource (resource, method, integration, their responses, models,
# validators, gateway responses, authorizers) is managed beside it: the provider's documentation
# warns that an import overwrites such resources, and overwrite mode removes them.
#
# Which API settings are arguments and which live in the document:
# - After each import the provider re-applies the arguments that are set (name, description,
#   api_key_source, binary_media_types, disable_execute_api_endpoint, minimum_compression_size,
#   policy, endpoint_configuration) where they differ from what the import left; an argument
#   wins over the document. It skips arguments that are unset or zero (false, [], null), so only
#   the document can carry those values through an overwrite import.
# - Hence api key source, binary media types, minimum compression size, execute-api switch-off
#   and VPC endpoint ids are only in the document: one value each, correct through every import.
# - The endpoint type is an argument: the document cannot express it.
# - The resource policy is the policy argument, not an aws_api_gateway_rest_api_policy: since
#   hashicorp/aws 6.48.0 a body update wipes a policy set by that separate resource
#   (https://github.com/hashicorp/terraform-provider-aws/issues/49672), while a policy argument
#   present in the configuration is re-applied after the import
#   (https://github.com/hashicorp/terraform-provider-aws/pull/48118).
resource "aws_api_gateway_rest_api" "this" {
  name        = var.name
  description = var.description
  body        = local.openapi_json

  endpoint_configuration {
    types            = [var.endpoint_configuration.type]
    vpc_endpoint_ids = var.endpoint_configuration.type == "PRIVATE" ? var.endpoint_configuration.vpc_endpoint_ids : null
  }

  policy = local.resource_policy

  tags = var.tags

  # A replacement API (new endpoint type, for example) is built before the old one goes.
  lifecycle {
    create_before_destroy = true

    # The document builds the invoke URIs from the function names; an invoke ARN given beside
    # them must be the same function.
    precondition {
      condition     = var.lambda_function == null || try(var.lambda_function.invoke_arn == local.lambda_invoke_uris["route"], true)
      error_message = "lambda_function: invoke_arn does not match function_name (the document invokes ${try(local.lambda_invoke_uris["route"], "")}); pass the function's own name (or ARN) and invoke ARN, for example modules/lambda-function's function_name and invoke_arn."
    }
    precondition {
      condition     = alltrue([for conflicts in values(local.binary_template_conflicts) : length(conflicts) == 0])
      error_message = "binary_media_types covers the content types of direct SageMaker route(s) ${join("; ", [for k, c in local.binary_template_conflicts : "${k}: ${join(", ", c)}" if length(c) > 0])}. API Gateway cannot pass a binary request through the route's mapping template (it answers 500); serve those content types from a lambda_proxy route, or remove the binary media type."
    }
    precondition {
      condition     = alltrue([for k, a in var.authorizers : a.type == "COGNITO_USER_POOLS" || a.function_invoke_arn == local.lambda_invoke_uris["authorizer/${k}"]])
      error_message = "authorizers: function_invoke_arn does not match function_name for authorizer(s) ${join(", ", [for k, a in var.authorizers : k if a.type != "COGNITO_USER_POOLS" && a.function_invoke_arn != try(local.lambda_invoke_uris["authorizer/${k}"], "")])}; pass the function's own name (or ARN) and invoke ARN."
    }
  }

  # The integrations name the SageMaker role, which must exist when the document is imported.
  depends_on = [aws_iam_role.sagemaker]
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

# The resource policy moved into the API's policy argument. Forget the former separate resource
# rather than destroy it: destroying it removes the policy the API now carries.
removed {
  from = aws_api_gateway_rest_api_policy.this

  lifecycle {
    destroy = false
  }
}

# The route-level resources of earlier versions of this module: the overwrite import of the
# document replaces them in AWS, so Terraform forgets them rather than destroys them. Destroying
# them would run after the import (the old deployment was create_before_destroy and depended on
# them) and act on what the document just created:
# - the provider deletes a model by API id and name
#   (https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/apigateway/model.go),
#   and API Gateway refuses to delete a model a method request references, with ConflictException
#   "Cannot delete model ..., is referenced in method request"
#   (https://github.com/amazon-archives/aws-apigateway-importer/issues/89,
#   https://github.com/amazon-archives/aws-apigateway-importer/issues/113);
# - the provider deletes a gateway response by API id and response type
#   (https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/apigateway/gateway_response.go),
#   which resets the response the document just imported to API Gateway's default.
# The import already removed or redefined every one of them (overwrite mode, see above), so
# forgetting them leaves nothing behind.
removed {
  from = aws_api_gateway_resource.depth1
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_api_gateway_resource.depth2
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_api_gateway_resource.depth3
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_api_gateway_resource.depth4
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_api_gateway_resource.depth5
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_api_gateway_method.this
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_api_gateway_method.cors
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_api_gateway_integration.this
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_api_gateway_integration.cors
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_api_gateway_method_response.sagemaker
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_api_gateway_method_response.cors
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_api_gateway_integration_response.sagemaker
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_api_gateway_integration_response.cors
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_api_gateway_gateway_response.this
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_api_gateway_model.this
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_api_gateway_request_validator.this
  lifecycle {
    destroy = false
  }
}

removed {
  from = aws_api_gateway_authorizer.this
  lifecycle {
    destroy = false
  }
}

# Lambda authorizers: API Gateway may invoke the function for this API's authorizers. The
# authorizer ids are assigned by the import, so the permission names every authorizer of the API
# (an authorizer's invocations come from <execution ARN>/authorizers/<authorizer id>,
# https://repost.aws/questions/QUueKWr4bAR3eDw9nVqhJLlQ/http-authorizer-lambda-permissions).
resource "aws_lambda_permission" "authorizer" {
  for_each = { for k, a in var.authorizers : k => a if a.type != "COGNITO_USER_POOLS" }

  statement_id  = "${var.name}-authorizer-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = each.value.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_api_gateway_rest_api.this.execution_arn}/authorizers/*"
}
