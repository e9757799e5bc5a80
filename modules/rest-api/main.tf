data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id

  templates_dir = "${path.module}/templates"
  # The integration responses of every sagemaker route: one table shared with the template tests.
  integration_table = jsondecode(file("${local.templates_dir}/integration_responses.json"))

  # Routes with their path split into segments and the request parameters API Gateway declares.
  routes = {
    for k, r in var.routes : k => merge(r, {
      method   = upper(r.method)
      path     = trim(r.path, "/")
      segments = split("/", trim(r.path, "/"))
      # The ratings mapping reads ?items=, so the validator requires it.
      query_parameters = r.type == "sagemaker" && r.mapping == "ratings" ? merge(r.query_parameters, { items = true }) : r.query_parameters
      path_parameters  = [for s in split("/", trim(r.path, "/")) : trimsuffix(trim(s, "{}"), "+") if startswith(s, "{")]
    })
  }
  lambda_routes    = { for k, r in local.routes : k => r if r.type == "lambda_proxy" }
  sagemaker_routes = { for k, r in local.routes : k => r if r.type == "sagemaker" }

  method_request_parameters = {
    for k, r in local.routes : k => merge(
      { for p in r.path_parameters : "method.request.path.${p}" => true },
      { for q, required in r.query_parameters : "method.request.querystring.${q}" => required },
      { for h, required in r.header_parameters : "method.request.header.${h}" => required },
      r.type == "sagemaker" && r.mapping == "passthrough" && length(r.content_types) > 1 ? { "method.request.header.Content-Type" = false } : {},
      r.forward_custom_attributes ? { "method.request.header.X-Amzn-SageMaker-Custom-Attributes" = false } : {},
    )
  }

  # One request validator per kind of check some route needs.
  route_validators = {
    for k, r in local.routes : k => (
      anytrue(values(local.method_request_parameters[k])) && r.request_schema != null ? "body-and-parameters" :
      anytrue(values(local.method_request_parameters[k])) ? "parameters" :
      r.request_schema != null ? "body" : null
    )
  }
  validators = {
    for kind in distinct(compact(values(local.route_validators))) : kind => {
      body       = kind != "parameters"
      parameters = kind != "body"
    }
  }

  # Model names: letters and digits only, e.g. route "batch-score" -> "BatchScoreRequest".
  models = {
    for k, r in local.routes : k => {
      name   = "${replace(title(replace(k, "/[-_]/", " ")), " ", "")}Request"
      schema = r.request_schema
    } if r.request_schema != null
  }

  sagemaker_endpoints = toset([for r in values(local.sagemaker_routes) : coalesce(r.endpoint_name, var.default_endpoint_name)])
  # SageMaker endpoint ARNs use the lower-cased endpoint name.
  # A route that addresses an inference component needs it as a resource of InvokeEndpoint too.
  # Whether SageMaker lower-cases inference component names in the ARN it authorizes, as it
  # does endpoint names, is not documented; CloudWatch exporters match them lower-cased
  # (https://github.com/prometheus-community/yet-another-cloudwatch-exporter/pull/1793).
  # Both spellings name the same component, so both are granted.
  sagemaker_inference_component_arns = sort(distinct(flatten([
    for r in values(local.sagemaker_routes) : [
      for name in distinct([r.inference_component, lower(r.inference_component)]) :
      "arn:${local.partition}:sagemaker:${local.region}:${local.account_id}:inference-component/${name}"
    ] if r.inference_component != null
  ])))
  sagemaker_endpoint_arns = {
    for e in local.sagemaker_endpoints : e => "arn:${local.partition}:sagemaker:${local.region}:${local.account_id}:endpoint/${lower(e)}"
  }

  cors_origin = var.cors == null ? null : "'${var.cors.allow_origin}'"

  # Integration settings of direct SageMaker routes, resolved from the route and the template
  # files (embedded with file(), so the template tests and the document read the same bytes).
  integrations = {
    for k, r in local.sagemaker_routes : k => {
      uri = "arn:${local.partition}:apigateway:${local.region}:runtime.sagemaker:path/endpoints/${coalesce(r.endpoint_name, var.default_endpoint_name)}/invocations"
      request_parameters = merge(
        {
          "integration.request.header.Content-Type" = (
            r.mapping == "ratings" ? "'application/json'" :
            length(r.content_types) == 1 ? "'${r.content_types[0]}'" : "method.request.header.Content-Type"
          )
          "integration.request.header.Accept" = "'${r.accept}'"
        },
        r.target_variant == null ? {} : { "integration.request.header.X-Amzn-SageMaker-Target-Variant" = "'${r.target_variant}'" },
        r.target_model == null ? {} : { "integration.request.header.X-Amzn-SageMaker-Target-Model" = "'${r.target_model}'" },
        r.inference_component == null ? {} : { "integration.request.header.X-Amzn-SageMaker-Inference-Component" = "'${r.inference_component}'" },
        r.forward_custom_attributes ? { "integration.request.header.X-Amzn-SageMaker-Custom-Attributes" = "method.request.header.X-Amzn-SageMaker-Custom-Attributes" } : {},
      )
      request_templates = (
        r.request_template != null ? { for c in r.content_types : c => r.request_template } :
        r.mapping == "ratings" ? { "application/json" = file("${local.templates_dir}/ratings_request.vtl") } :
        { for c in r.content_types : c => file("${local.templates_dir}/passthrough_request.vtl") }
      )
    }
  }

  # Direct SageMaker routes map every request through a template, and API Gateway cannot put a
  # binary payload (one whose Content-Type a binary media type covers; under */* a request with
  # no Content-Type too) through a template: the request fails with 500 "Unable to transform
  # request" (https://github.com/aws/chalice/issues/1310,
  # https://github.com/clebert/aws-simple/issues/167,
  # https://github.com/brefphp/bref/issues/922). CONVERT_TO_TEXT would hand the template
  # base64 text instead of the body
  # (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings-workflow.html),
  # which the model cannot read. So a binary media type must not cover such a route's content
  # types. A media type covers another when equal, type/* of the same type, or */*.
  binary_template_conflicts = {
    for k, integration in local.integrations : k => [
      for pair in setproduct(sort(keys(integration.request_templates)), var.binary_media_types) : "${pair[0]} (binary media type ${pair[1]})"
      if lower(pair[1]) == "*/*" || lower(pair[1]) == lower(pair[0]) || lower(pair[1]) == "${lower(split("/", pair[0])[0])}/*"
    ]
  }

  # The success response template of each sagemaker route; null passes the model's body through.
  success_templates = {
    for k, r in local.sagemaker_routes : k => (
      r.response_template != null ? r.response_template :
      r.mapping == "ratings" ? file("${local.templates_dir}/ratings_response.vtl") : null
    )
  }

  integration_responses = merge([
    for k, r in local.sagemaker_routes : {
      for entry, spec in local.integration_table : "${k}/${entry}" => {
        route             = k
        status_code       = spec.status_code
        selection_pattern = spec.selection_pattern
        template          = spec.template != null ? file("${local.templates_dir}/${spec.template}") : local.success_templates[k]
        response_parameters = merge(
          { for h, v in spec.response_headers : "method.response.header.${h}" => v },
          var.cors == null ? {} : { "method.response.header.Access-Control-Allow-Origin" = local.cors_origin },
        )
      }
    }
  ]...)

  # One method response per distinct status, declaring every header its entries set.
  method_responses = merge([
    for k, r in local.sagemaker_routes : {
      for status in distinct([for spec in values(local.integration_table) : spec.status_code]) : "${k}/${status}" => {
        route       = k
        status_code = status
        response_parameters = merge(
          merge([for spec in values(local.integration_table) : { for h in keys(spec.response_headers) : "method.response.header.${h}" => true } if spec.status_code == status]...),
          var.cors == null ? {} : { "method.response.header.Access-Control-Allow-Origin" = true },
        )
      }
    }
  ]...)

  # Invoke permissions of lambda_proxy routes: one per route and stage, scoped to the method
  # and the path ({parameters} match any value).
  lambda_permissions = merge([
    for k, r in local.lambda_routes : {
      for stage in keys(var.stages) : "${k}/${stage}" => {
        route  = k
        stage  = stage
        method = r.method == "ANY" ? "*" : r.method
        path   = join("/", [for s in r.segments : startswith(s, "{") ? "*" : s])
      }
    }
  ]...)

  cors_paths = var.cors == null ? {} : {
    for p in distinct([for r in values(local.routes) : r.path]) : p => sort(distinct(concat(
      ["OPTIONS"],
      flatten([for r in values(local.routes) : r.method == "ANY" ? ["DELETE", "GET", "HEAD", "PATCH", "POST", "PUT"] : [r.method] if r.path == p]),
    )))
  }
}
