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
  description = "ARN of the function's execution role."
  value       = aws_iam_role.this.arn
}

output "role_name" {
  description = "Name of the function's execution role, for attaching further policies."
  value       = aws_iam_role.this.name
}

output "source_code_hash" {
  description = "Base64 SHA-256 of the deployment package."
  value       = local.package.source_code_hash
}
