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
