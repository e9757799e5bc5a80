output "batch_function_name" {
  description = "Name of the batch prediction function."
  value       = module.ml_gateway.batch_function_name
}

output "failure_queue_arn" {
  description = "Queue receiving events the function failed on (endpoint down, for example)."
  value       = module.ml_gateway.batch_failure_queue_arn
}

output "bucket" {
  description = "The bucket the example created: drop files under batch/in/."
  value       = local.bucket
}
