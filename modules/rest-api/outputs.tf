output "access_log_group_names" {
  description = "Access log group of each stage, keyed by stage name (stages without access logs are absent)."
  value       = { for k, g in aws_cloudwatch_log_group.access : k => g.name }
}

output "api_key_ids" {
  description = "ID of each API key, keyed by key name."
  value       = { for k, key in aws_api_gateway_api_key.this : k => key.id }
}

output "api_keys" {
  description = "Each API key as planned, keyed by key name: name (the key's name in API Gateway), enabled, and usage_plan (its key in usage_plans). Values are in api_key_values. Local mode reads its keys from this output."
  value = {
    for k, key in aws_api_gateway_api_key.this : k => {
      name       = key.name
      enabled    = key.enabled
      usage_plan = local.api_keys[k].usage_plan
    }
  }
}

output "api_key_values" {
  description = "Value of each API key, keyed by key name: the supplied one or the one API Gateway generated."
  value       = { for k, key in aws_api_gateway_api_key.this : k => key.value }
  sensitive   = true
}

output "cloudwatch_role_arn" {
  description = "ARN of the account-level API Gateway CloudWatch role (null unless account_cloudwatch_role is \"create\")."
  value       = try(aws_iam_role.cloudwatch[0].arn, null)
}

output "deployment_id" {
  description = "ID of the deployment the stages serve."
  value       = aws_api_gateway_deployment.this.id
}

output "deployment_hash" {
  description = "SHA-1 of everything the deployment snapshots; a new value means a new deployment."
  value       = local.deployment_hash
}

output "execution_arn" {
  description = "Execution ARN of the API, the prefix of execute-api permissions and policies."
  value       = aws_api_gateway_rest_api.this.execution_arn
}

output "execution_log_group_names" {
  description = "Execution log group of each stage with execution logging, keyed by stage name."
  value       = { for k, g in aws_cloudwatch_log_group.execution : k => g.name }
}

output "invoke_urls" {
  description = "Invoke URL of each stage, keyed by stage name."
  value       = { for k, s in aws_api_gateway_stage.this : k => s.invoke_url }
}

output "lambda_permission_scopes" {
  description = "What each invoke permission of the Lambda-proxy function admits below the API's execution ARN, as stage/method/path ('*' for ANY and for path parameters), keyed by route/stage."
  value       = { for k, p in local.lambda_permissions : k => "${p.stage}/${p.method}/${p.path}" }
}

output "openapi" {
  description = "The API as one OpenAPI 3.0.1 document with API Gateway's extensions, as JSON text: exactly the REST API's body. Render docs or clients from it, or import it elsewhere."
  value       = local.openapi_json
}

output "rest_api_arn" {
  description = "ARN of the REST API."
  value       = aws_api_gateway_rest_api.this.arn
}

output "rest_api_id" {
  description = "ID of the REST API."
  value       = aws_api_gateway_rest_api.this.id
}

output "route_urls" {
  description = "URL of each route in each stage, keyed by route name then stage name; {parameters} are left in place."
  value = {
    for k, r in local.routes : k => { for s, stage in aws_api_gateway_stage.this : s => "${stage.invoke_url}/${r.path}" }
  }
}

output "sagemaker_role_arn" {
  description = "ARN of the role API Gateway assumes for direct SageMaker routes: the created one or iam_role.arn (null without such routes)."
  value       = local.sagemaker_role_arn
}

output "stages" {
  description = "Each stage as planned, keyed by stage name: name, variables, invoke_url, and method_settings keyed by method path as API Gateway names them (\"*/*\" for every method, \"~1predict~1{model}/POST\" for one), each with throttling_rate_limit and throttling_burst_limit (-1 when not set), caching and logging. Local mode reads its stages from this output."
  value = {
    for k, s in aws_api_gateway_stage.this : k => {
      name       = s.stage_name
      variables  = s.variables == null ? {} : s.variables
      invoke_url = s.invoke_url
      method_settings = {
        for m in concat(values(aws_api_gateway_method_settings.all), values(aws_api_gateway_method_settings.route)) :
        m.method_path => one(m.settings) if m.stage_name == s.stage_name
      }
    }
  }
}

output "stage_arns" {
  description = "ARN of each stage, keyed by stage name (for WAF associations made elsewhere)."
  value       = { for k, s in aws_api_gateway_stage.this : k => s.arn }
}

output "usage_plans" {
  description = "Each usage plan as planned, keyed by plan name: name, api_stages (stage, and throttle keyed by \"/<resource path>/<METHOD>\" with rate_limit and burst_limit), throttle (rate_limit, burst_limit; null without one), quota (limit, offset, period; null without one) and api_keys (the names, keys of api_keys, of the keys this module attaches). Local mode reads its usage plans from this output."
  value = {
    for k, p in aws_api_gateway_usage_plan.this : k => {
      name = p.name
      api_stages = [
        for s in p.api_stages : {
          stage    = s.stage
          throttle = { for t in s.throttle : t.path => { rate_limit = t.rate_limit, burst_limit = t.burst_limit } }
        }
      ]
      throttle = one(p.throttle_settings)
      quota    = one(p.quota_settings)
      api_keys = sort([for name, key in local.api_keys : name if key.usage_plan == k])
    }
  }
}

output "usage_plan_ids" {
  description = "ID of each usage plan, keyed by plan name."
  value       = { for k, p in aws_api_gateway_usage_plan.this : k => p.id }
}

output "custom_domain_name" {
  description = "The custom domain name (null without custom_domain)."
  value       = try(aws_api_gateway_domain_name.this[0].domain_name, null)
}

output "custom_domain_target" {
  description = "Where DNS must point the custom domain when you manage DNS yourself: domain_name (the regional endpoint of a REGIONAL domain, the CloudFront distribution of an EDGE one) and the Route 53 hosted zone_id of that target for an alias record, or use domain_name as a CNAME value elsewhere (null without custom_domain)."
  value = try({
    domain_name = local.edge_domain ? aws_api_gateway_domain_name.this[0].cloudfront_domain_name : aws_api_gateway_domain_name.this[0].regional_domain_name
    zone_id     = local.edge_domain ? aws_api_gateway_domain_name.this[0].cloudfront_zone_id : aws_api_gateway_domain_name.this[0].regional_zone_id
  }, null)
}

output "custom_domain_url" {
  description = "URL of each stage served on the custom domain, keyed by stage name: https://<domain>/<base path>, without a trailing slash ({} without custom_domain)."
  value = {
    for stage, path in local.custom_domain_base_paths : stage => trimsuffix("https://${aws_api_gateway_domain_name.this[0].domain_name}/${path}", "/")
  }
}
