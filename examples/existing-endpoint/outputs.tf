output "invoke_url" {
  description = "Base URL of the prod stage."
  value       = module.ml_gateway.invoke_url
}

output "api_key" {
  description = "The client's API key."
  value       = module.ml_gateway.api_key_values["client"]
  sensitive   = true
}
