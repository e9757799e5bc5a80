output "endpoint_arn" {
  description = "ARN of the primary SageMaker endpoint (null without one)."
  value       = local.endpoint_arn
}

output "endpoint_name" {
  description = "Name of the primary SageMaker endpoint (null without one)."
  value       = local.endpoint_name
}

output "model_endpoint_arns" {
  description = "ARNs of every SageMaker endpoint the model routes invoke."
  value       = local.model_endpoint_arns
}

output "models_json" {
  description = "The routing table rendered as the prediction function reads it."
  value       = local.models_json
}

output "actuals_function_name" {
  description = "Name of the actuals reporting function (null when actuals_reporting is off)."
  value       = try(module.s3_pipeline["actuals"].function_name, null)
}

output "actuals_failure_queue_arn" {
  description = "Queue receiving actuals events the function failed on after its retries."
  value       = try(module.s3_pipeline["actuals"].failure_queue_arn, null)
}

output "actuals_token_secret_arn" {
  description = "Secret holding the actuals API token: the one passed in, or the one created (set its value outside Terraform)."
  value       = local.actuals_secret_arn
}

output "package_size" {
  description = "Size in bytes of the shared Lambda deployment package."
  value       = module.package.size
}

output "api_id" {
  description = "ID of the REST API (null without one)."
  value       = try(module.api[0].rest_api_id, null)
}

output "api_invoke_urls" {
  description = "Invoke URL of each stage."
  value       = try(module.api[0].invoke_urls, {})
}

output "api_key_ids" {
  description = "ID of each API key."
  value       = try(module.api[0].api_key_ids, {})
}

output "api_key_values" {
  description = "Value of each API key, for handing to clients."
  value       = try(module.api[0].api_key_values, {})
  sensitive   = true
}

output "api_openapi" {
  description = "The REST API's OpenAPI 3.0.1 document (JSON text, exactly the API's body; null without an API): the output to read the document from. make openapi writes it to a file."
  value       = try(module.api[0].openapi, null)
}

output "invoke_url" {
  description = "Invoke URL of the prod stage (or the first stage): what `make smoke` calls."
  value       = try(lookup(module.api[0].invoke_urls, "prod", values(module.api[0].invoke_urls)[0]), null)
}

output "predict_function_name" {
  description = "Name of the prediction function (null without models or API)."
  value       = try(module.predict[0].function_name, null)
}

output "endpoint_model_name" {
  description = "Name of the SageMaker model behind the created endpoint, for Batch Transform (null for an existing endpoint)."
  value       = try(module.endpoint[0].model_name, null)
}

output "endpoint_role_arn" {
  description = "Execution role of the created endpoint's model (null for an existing endpoint)."
  value       = try(module.endpoint[0].role_arn, null)
}

output "batch_function_name" {
  description = "Name of the batch prediction function (null when batch_prediction is off)."
  value       = try(module.s3_pipeline["batch"].function_name, null)
}

output "batch_failure_queue_arn" {
  description = "Queue receiving batch events the function failed on after its retries."
  value       = try(module.s3_pipeline["batch"].failure_queue_arn, null)
}

output "api_custom_domain_urls" {
  description = "URL of each stage on the API's custom domain, keyed by stage name ({} without api.custom_domain)."
  value       = try(module.api[0].custom_domain_url, {})
}

output "api_custom_domain_target" {
  description = "Where DNS must point the API's custom domain when Route 53 records are not created: domain_name and its hosted zone_id (null without api.custom_domain)."
  value       = try(module.api[0].custom_domain_target, null)
}

output "rest_api" {
  description = "Every output of the REST API module (modules/rest-api) except the key values, which are in api_key_values: openapi, stages, usage_plans, api_keys, invoke_urls and the rest (null without an API). Local mode reads the API from here; to read the document, use api_openapi (the same text)."
  value       = local.api_enabled ? { for name, value in module.api[0] : name => value if name != "api_key_values" } : null
}

output "s3_triggers" {
  description = "Every output of the S3 triggers module (modules/s3-triggers) of each bucket, keyed by bucket name: trigger_rules, watched_prefixes, rule_arns, bucket_arn. Local mode reads the triggers from here."
  value       = module.s3_triggers
}

output "monitoring_alarms" {
  description = "Every alarm monitoring creates, keyed by its short name (the alarm is named <name>-<key>): alarm_name, namespace, metric_name, dimensions and statistic (null for a metric-math alarm), expression and the metrics it reads (by query id), threshold, comparison, treat_missing_data, period, evaluation_periods and datapoints_to_alarm. Empty when monitoring is off."
  value = {
    for key, alarm in local.alarms : key => {
      alarm_name          = "${var.name}-${key}"
      namespace           = try(alarm.single.namespace, null)
      metric_name         = try(alarm.single.metric_name, null)
      dimensions          = try(alarm.single.dimensions, null)
      statistic           = try(alarm.single.stat, null)
      expression          = alarm.single == null ? one([for q in values(alarm.metrics) : q.expression if q.return_data]) : null
      metrics             = { for id, q in alarm.metrics : id => { namespace = q.namespace, metric_name = q.metric_name, dimensions = q.dimensions, statistic = q.stat } if q.expression == null }
      threshold           = alarm.threshold
      comparison          = alarm.comparison
      treat_missing_data  = alarm.treat_missing_data
      period              = alarm.period
      evaluation_periods  = alarm.evaluation_periods
      datapoints_to_alarm = alarm.datapoints_to_alarm
    }
  }
}

output "monitoring_topic_arn" {
  description = "SNS topic the alarms notify (null when monitoring is off): subscribe your pager or e-mail to it."
  value       = local.alarm_topic_arn
}

output "monitoring_dashboard_name" {
  description = "Name of the CloudWatch dashboard (null when monitoring or its dashboard is off)."
  value       = try(aws_cloudwatch_dashboard.this[0].dashboard_name, null)
}
