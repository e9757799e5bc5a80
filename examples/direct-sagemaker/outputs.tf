output "api_key_values" {
  description = "API keys by client (partner: prod, tester: test): terraform output -json api_key_values."
  value       = module.api.api_key_values
  sensitive   = true
}

output "invoke_urls" {
  description = "Base URL of each stage."
  value       = module.api.invoke_urls
}

output "sagemaker_role_arn" {
  description = "Role API Gateway assumes to invoke the endpoint."
  value       = module.api.sagemaker_role_arn
}
