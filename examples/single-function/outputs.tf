output "function_name" {
  description = "Name of the deployed function."
  value       = module.predict.function_name
}

output "failure_queue_arn" {
  description = "Queue that receives events the function failed to process."
  value       = module.predict.failure_queue_arn
}
