output "actuals_token_secret_arn" {
  description = "Secret to put the DataRobot API token into."
  value       = module.ml_gateway.actuals_token_secret_arn
}

output "api_key" {
  description = "The mobile app's API key."
  value       = module.ml_gateway.api_key_values["mobile-app"]
  sensitive   = true
}

output "bucket" {
  description = "The data bucket: batch/in/, batch/out/, upload_actuals/, data-capture/."
  value       = module.data_bucket.name
}

output "endpoint_name" {
  description = "Name of the endpoint Terraform owns."
  value       = module.ml_gateway.endpoint_name
}

output "invoke_url" {
  description = "Base URL of the prod stage."
  value       = module.ml_gateway.invoke_url
}

output "monitoring_topic_arn" {
  description = "SNS topic of the alarms: subscribe your pager or e-mail to it."
  value       = module.ml_gateway.monitoring_topic_arn
}

output "monitoring_alarms" {
  description = "The alarms and what each reads."
  value       = module.ml_gateway.monitoring_alarms
}
