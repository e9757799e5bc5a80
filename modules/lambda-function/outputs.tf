output "failure_queue_arn" {
  description = "ARN of the SQS queue that receives failed asynchronous events (null when the module did not create one)."
  value       = try(aws_sqs_queue.failures[0].arn, null)
}

output "function_arn" {
  description = "ARN of the function."
  value       = aws_lambda_function.this.arn
}

output "function_name" {
  description = "Name of the function."
  value       = aws_lambda_function.this.function_name
}

output "invoke_arn" {
  description = "ARN that API Gateway integrations use to invoke the function."
  value       = aws_lambda_function.this.invoke_arn
}

output "log_group_name" {
  description = "Name of the function's CloudWatch log group."
  value       = aws_cloudwatch_log_group.this.name
}

output "qualified_arn" {
  description = "ARN of the function including its version."
  value       = aws_lambda_function.this.qualified_arn
}

output "role_arn" {
  description = "ARN of the function's execution role: the created one, or iam_role.arn."
  value       = local.role_arn
}

output "role_name" {
  description = "Name of the function's execution role, for attaching further policies: the created one, or the last segment of iam_role.arn."
  value       = local.create_role ? aws_iam_role.this[0].name : element(split("/", var.iam_role.arn), length(split("/", var.iam_role.arn)) - 1)
}

output "role_policy_json" {
  description = "The permissions the function needs, as an IAM policy document: attached to the created role, or to be granted to the role you bring through iam_role.arn."
  value       = data.aws_iam_policy_document.this.json
}

output "source_code_hash" {
  description = "Base64 SHA-256 of the deployment package."
  value       = local.package.source_code_hash
}
