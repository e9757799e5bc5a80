# The REST API as one OpenAPI 3.0.1 document with API Gateway's extensions
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions.html).
# It is the API's body: every path, method, integration, validator, model, authorizer and gateway
# response lives here, and nothing route-level is managed beside it (see api.tf).
#
# Everything in it is known at plan time: ARNs are built from names, account, region and
# partition, never read from resources created in the same apply.
#
# Optional keys are left out rather than written as null: each object is built with its optional
# entries set to null and then filtered ({ for k, v in {...} : k => v if v != null }).

locals {
  # Lambda-proxy routes invoke lambda_function through its invoke URI,
  # arn:<partition>:apigateway:<region>:lambda:path/2015-03-31/functions/<function ARN>/invocations
  # (authorizerUri in https://docs.aws.amazon.com/apigateway/latest/api/API_Authorizer.html
  # documents the form). A function given by ARN keeps the ARN's region.
  lambda_function_arns = {
    for key, fn in merge(
      var.lambda_function == null ? {} : { route = var.lambda_function.function_name },
      { for k, a in var.authorizers : "authorizer/${k}" => a.function_name if a.type != "COGNITO_USER_POOLS" },
    ) : key => startswith(fn, "arn:") ? fn : "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${fn}"
  }
  lambda_invoke_uris = {
    for key, arn in local.lambda_function_arns : key => "arn:${local.partition}:apigateway:${split(":", arn)[3]}:lambda:path/2015-03-31/functions/${arn}/invocations"
  }

  # method.request.<location>.<name> -> OpenAPI parameter location.
  parameter_locations = { path = "path", querystring = "query", header = "header" }

  # Authorizers are security schemes named as the authorizers were: <name>-<key>.
  authorizer_schemes = { for k, a in var.authorizers : k => "${var.name}-${k}" }
  # AWS_IAM routes: SigV4-signed requests (x-amazon-apigateway-authtype awsSigv4,
  # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-authtype.html).
  iam_scheme = "sigv4"

  security_schemes = merge(
    # API keys are read from the x-api-key header (x-amazon-apigateway-api-key-source HEADER).
    anytrue([for r in values(local.routes) : r.api_key_required]) ? {
      api_key = { type = "apiKey", name = "x-api-key", in = "header" }
    } : {},
    anytrue([for r in values(local.routes) : r.authorization == "AWS_IAM"]) ? {
      (local.iam_scheme) = { type = "apiKey", name = "Authorization", in = "header", "x-amazon-apigateway-authtype" = "awsSigv4" }
    } : {},
    {
      # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-authorizer.html
      for k, a in var.authorizers : local.authorizer_schemes[k] => {
        type = "apiKey"
        # The header the identity comes from; a REQUEST authorizer with several sources names none.
        name                           = can(regex("^method\\.request\\.header\\.[^,]+$", a.identity_source)) ? trimprefix(a.identity_source, "method.request.header.") : "Unused"
        in                             = "header"
        "x-amazon-apigateway-authtype" = a.type == "COGNITO_USER_POOLS" ? "cognito_user_pools" : "custom"
        "x-amazon-apigateway-authorizer" = { for field, v in {
          type                         = lower(a.type)
          providerARNs                 = a.type == "COGNITO_USER_POOLS" ? a.provider_arns : null
          authorizerUri                = a.type == "COGNITO_USER_POOLS" ? null : local.lambda_invoke_uris["authorizer/${k}"]
          identitySource               = a.identity_source
          identityValidationExpression = a.identity_validation_expression
          authorizerResultTtlInSeconds = a.result_ttl_in_seconds
        } : field => v if v != null }
      }
    },
  )

  # The success and error responses of direct SageMaker routes: one method response per status,
  # declaring every header its integration responses set.
  sagemaker_statuses = distinct([for spec in values(local.integration_table) : spec.status_code])
  sagemaker_status_headers = {
    for status in local.sagemaker_statuses : status => sort(distinct(concat(
      flatten([for spec in values(local.integration_table) : keys(spec.response_headers) if spec.status_code == status]),
      var.cors == null ? [] : ["Access-Control-Allow-Origin"],
    )))
  }

  integrations_doc = merge(
    {
      for k, r in local.lambda_routes : k => { for field, v in {
        type                = "aws_proxy"
        httpMethod          = "POST"
        uri                 = local.lambda_invoke_uris["route"]
        timeoutInMillis     = r.timeout_milliseconds
        cacheKeyParameters  = length(r.cache_key_parameters) > 0 ? r.cache_key_parameters : null
        passthroughBehavior = "when_no_match"
      } : field => v if v != null }
    },
    {
      for k, r in local.sagemaker_routes : k => { for field, v in {
        type        = "aws"
        httpMethod  = "POST"
        uri         = local.integrations[k].uri
        credentials = local.sagemaker_role_arn
        # A direct SageMaker route sends only bodies its templates map; anything else is 415.
        passthroughBehavior = "never"
        requestParameters   = local.integrations[k].request_parameters
        requestTemplates    = local.integrations[k].request_templates
        timeoutInMillis     = r.timeout_milliseconds
        cacheKeyParameters  = length(r.cache_key_parameters) > 0 ? r.cache_key_parameters : null
        # Keyed by selection pattern; "default" is the entry without one.
        responses = {
          for entry, spec in local.integration_table : coalesce(spec.selection_pattern, "default") => { for field, v in {
            statusCode         = spec.status_code
            responseParameters = length(local.integration_responses["${k}/${entry}"].response_parameters) > 0 ? local.integration_responses["${k}/${entry}"].response_parameters : null
            responseTemplates  = local.integration_responses["${k}/${entry}"].template == null ? null : { "application/json" = local.integration_responses["${k}/${entry}"].template }
          } : field => v if v != null }
        }
      } : field => v if v != null }
    },
  )

  # A Lambda-proxy route answers whatever the function returns; a direct SageMaker route
  # declares one method response per status its integration responses map to.
  route_responses = merge(
    {
      for k in keys(local.lambda_routes) : k => {
        "200" = { description = "The function's answer: a Lambda-proxy integration passes its status, headers and body through." }
      }
    },
    {
      for k in keys(local.sagemaker_routes) : k => {
        for status in local.sagemaker_statuses : status => { for field, v in {
          description = "Status ${status} of a direct SageMaker route (templates/integration_responses.json)."
          headers     = length(local.sagemaker_status_headers[status]) == 0 ? null : { for h in local.sagemaker_status_headers[status] : h => { schema = { type = "string" } } }
        } : field => v if v != null }
      }
    },
  )

  operations = {
    for k, r in local.routes : k => { for field, v in {
      operationId = k
      parameters = length(local.method_request_parameters[k]) == 0 ? null : [
        for p, required in local.method_request_parameters[k] : {
          name     = regex("^method\\.request\\.[a-z]+\\.(.+)$", p)[0]
          in       = local.parameter_locations[split(".", p)[2]]
          required = required
          schema   = { type = "string" }
        }
      ]
      requestBody = contains(keys(local.models), k) ? {
        content = { "application/json" = { schema = { "$ref" = "#/components/schemas/${local.models[k].name}" } } }
      } : null
      responses                               = local.route_responses[k]
      security                                = length(local.route_security[k]) == 0 ? null : [local.route_security[k]]
      "x-amazon-apigateway-request-validator" = local.route_validators[k] == null ? null : "${var.name}-${local.route_validators[k]}"
      "x-amazon-apigateway-integration"       = local.integrations_doc[k]
    } : field => v if v != null }
  }

  # One security requirement per operation: every scheme in it applies (API key and authorizer).
  route_security = {
    for k, r in local.routes : k => merge(
      r.api_key_required ? { api_key = [] } : {},
      r.authorization == "AWS_IAM" ? { (local.iam_scheme) = [] } : {},
      r.authorizer == null ? {} : { (local.authorizer_schemes[r.authorizer]) = r.authorization == "COGNITO_USER_POOLS" ? r.authorization_scopes : [] },
    )
  }

  # CORS preflight: OPTIONS on every route path, answered by API Gateway itself (mock
  # integration), with no API key and no authorization.
  cors_operations = {
    # Every path parameter of the path is declared on each of its operations (OpenAPI 3.0.1,
    # Path Item Object: path templating requires it).
    for p, methods in local.cors_paths : p => merge(length(regexall("\\{[^}]+\\}", p)) == 0 ? {} : {
      parameters = [
        for name in flatten(regexall("\\{([^}+]+)\\+?\\}", p)) : { name = name, in = "path", required = true, schema = { type = "string" } }
      ]
      }, {
      operationId = "cors-${replace(replace(replace(p, "/", "-"), "{", ""), "}", "")}"
      responses = {
        "200" = {
          description = "CORS preflight answer."
          headers = {
            for h in ["Access-Control-Allow-Headers", "Access-Control-Allow-Methods", "Access-Control-Allow-Origin", "Access-Control-Max-Age"] : h => { schema = { type = "string" } }
          }
        }
      }
      "x-amazon-apigateway-integration" = {
        type                = "mock"
        passthroughBehavior = "when_no_match"
        # A preflight carries no Content-Type; when a binary media type covers it (*/* does), the
        # request is binary, and a binary request cannot go through the mapping template: the
        # preflight fails with 500 "Execution failed due to configuration error: Unable to
        # transform request" (https://github.com/clebert/aws-simple/issues/167,
        # https://github.com/aws/chalice/issues/1310,
        # https://github.com/squidfunk/terraform-aws-api-gateway-enable-cors/issues/10).
        # CONVERT_TO_TEXT base64-encodes a binary payload before the template and leaves text as
        # it is (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings-workflow.html),
        # so the preflight answers whatever the binary media types are.
        contentHandling  = "CONVERT_TO_TEXT"
        requestTemplates = { "application/json" = jsonencode({ statusCode = 200 }) }
        responses = {
          default = {
            statusCode = "200"
            responseParameters = {
              "method.response.header.Access-Control-Allow-Headers" = "'${join(",", var.cors.allow_headers)}'"
              "method.response.header.Access-Control-Allow-Methods" = "'${join(",", methods)}'"
              "method.response.header.Access-Control-Allow-Origin"  = local.cors_origin
              "method.response.header.Access-Control-Max-Age"       = "'${var.cors.max_age}'"
            }
          }
        }
      }
    })
  }

  openapi = { for field, v in {
    openapi = "3.0.1"
    info = { for f, v in {
      title       = var.name
      description = var.description
      version     = "1.0"
    } : f => v if v != null }
    # API-level settings the document carries (x-amazon-apigateway-endpoint-configuration goes
    # under the Server object in OpenAPI 3.0,
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-endpoint-configuration.html).
    servers = [{
      url = "/"
      "x-amazon-apigateway-endpoint-configuration" = { for f, v in {
        disableExecuteApiEndpoint = var.disable_execute_api_endpoint
        vpcEndpointIds            = var.endpoint_configuration.type == "PRIVATE" ? var.endpoint_configuration.vpc_endpoint_ids : null
      } : f => v if v != null }
    }]
    paths = {
      for p in distinct([for r in values(local.routes) : r.path]) : "/${p}" => merge(
        {
          for k, r in local.routes : (r.method == "ANY" ? "x-amazon-apigateway-any-method" : lower(r.method)) => local.operations[k] if r.path == p
        },
        var.cors == null ? {} : { options = local.cors_operations[p] },
      )
    }
    components = { for f, v in {
      schemas         = length(local.models) == 0 ? null : { for k, m in local.models : m.name => jsondecode(m.schema) }
      securitySchemes = length(local.security_schemes) == 0 ? null : local.security_schemes
    } : f => v if v != null }
    # Clients identify themselves with the x-api-key header; usage plans meter them by it.
    "x-amazon-apigateway-api-key-source"     = "HEADER"
    "x-amazon-apigateway-binary-media-types" = var.binary_media_types
    # Null leaves compression off (the extension's absence disables it).
    "x-amazon-apigateway-minimum-compression-size" = var.minimum_compression_size
    "x-amazon-apigateway-request-validators" = length(local.validators) == 0 ? null : {
      for kind, v in local.validators : "${var.name}-${kind}" => {
        validateRequestBody       = v.body
        validateRequestParameters = v.parameters
      }
    }
    "x-amazon-apigateway-gateway-responses" = {
      for type, template in local.gateway_response_templates : type => { for f, v in {
        # DEFAULT_4XX and DEFAULT_5XX keep each error's own status.
        statusCode         = try(local.gateway_responses[type].status_code, null)
        responseTemplates  = { "application/json" = template }
        responseParameters = length(local.gateway_response_parameters[type]) == 0 ? null : local.gateway_response_parameters[type]
      } : f => v if v != null }
    }
  } : field => v if v != null }

  openapi_json = jsonencode(local.openapi)
}
