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

output "trigger_rules" {
  description = "Every rule that invokes a function, keyed by rule id (the trigger name, plus \"-<suffix>\" for each of its suffixes): bucket, events, filter_prefix, filter_suffix (null for any key), function_name, function_arn, trigger (its key in triggers) and mode (notification or eventbridge). Local mode serves the bucket's triggers from this output."
  value = {
    for r in local.notification_rules : r.id => {
      bucket        = var.bucket
      events        = local.events
      filter_prefix = r.filter_prefix
      filter_suffix = r.filter_suffix
      function_arn  = r.function_arn
      function_name = r.function_name
      mode          = var.mode
      trigger       = r.key
    }
  }
}
