output "endpoint_arn" {
  description = "ARN of the endpoint."
  value       = aws_sagemaker_endpoint.this.arn
}

output "endpoint_config_name" {
  description = "Name of the endpoint configuration in use (<name>-<content hash>)."
  value       = aws_sagemaker_endpoint_configuration.this.name
}

output "endpoint_name" {
  description = "Name of the endpoint, stable across model and configuration updates."
  value       = aws_sagemaker_endpoint.this.name
}

output "log_group_name" {
  description = "Name of the endpoint's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "model_name" {
  description = "Name of the model (<name>-<content hash>), for Batch Transform jobs."
  value       = aws_sagemaker_model.this.name
}

output "role_arn" {
  description = "ARN of the model's execution role: the created one, or iam_role.arn."
  value       = local.create_role ? aws_iam_role.this[0].arn : var.iam_role.arn
}

output "role_name" {
  description = "Name of the created execution role, for attaching further policies (null when iam_role.arn was given)."
  value       = try(aws_iam_role.this[0].name, null)
}

output "role_policy_json" {
  description = "The permissions the model's role needs, as an IAM policy document: attached to the created role, or to be granted to the role you bring through iam_role.arn."
  value       = data.aws_iam_policy_document.this.json
}

output "shadow_variant_name" {
  description = "Name of the shadow variant (null without one)."
  value       = try(var.shadow_variant.name, null)
}

output "variant_names" {
  description = "Names of the production variants."
  value       = keys(var.variants)
}
