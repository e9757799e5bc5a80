output "bucket_arn" {
  description = "ARN of the bucket the triggers watch."
  value       = local.bucket_arn
}

output "rule_arns" {
  description = "EventBridge rule ARN per trigger (empty in notification mode)."
  value       = { for key, rule in aws_cloudwatch_event_rule.this : key => rule.arn }
}

output "watched_prefixes" {
  description = "The key prefix each trigger watches."
  value       = { for key, t in var.triggers : key => t.prefix }
}
