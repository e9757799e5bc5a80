output "api_key_id" {
  description = "ID of the example client's API key."
  value       = module.api.api_key_ids["example-client"]
}

output "api_key_value" {
  description = "The example client's API key, for the x-api-key header: terraform output -raw api_key_value."
  value       = module.api.api_key_values["example-client"]
  sensitive   = true
}

output "function_name" {
  description = "Name of the prediction function."
  value       = module.predict.function_name
}

output "invoke_url" {
  description = "Base URL of the prod stage."
  value       = module.api.invoke_urls["prod"]
}
