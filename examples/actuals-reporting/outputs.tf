output "function_name" {
  description = "Name of the actuals reporting function."
  value       = module.ml_gateway.actuals_function_name
}

output "token_secret_arn" {
  description = "Secret to put the actuals API token into."
  value       = module.ml_gateway.actuals_token_secret_arn
}

output "bucket" {
  description = "The bucket the example created: drop files under upload_actuals/<deployment_id>/."
  value       = module.actuals_bucket.name
}
