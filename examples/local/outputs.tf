output "api_key_values" {
  description = "API key of each client: terraform output -json api_key_values."
  value       = module.ml_gateway.api_key_values
  sensitive   = true
}

output "invoke_url" {
  description = "Base URL of the prod stage."
  value       = module.ml_gateway.invoke_url
}

output "actuals_token_secret_arn" {
  description = "Secret to put the actuals API token into."
  value       = module.ml_gateway.actuals_token_secret_arn
}
