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
