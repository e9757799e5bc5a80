locals {
  # Every S3-triggered function, whatever feature it belongs to. S3 keeps one notification
  # configuration per bucket, so triggers are grouped by bucket into one module call each.
  s3_triggers = {
    for key, pipeline in local.s3_pipelines : key => {
      bucket         = pipeline.bucket
      function_arn   = module.s3_pipeline[key].function_arn
      function_name  = module.s3_pipeline[key].function_name
      prefix         = pipeline.prefix
      suffixes       = pipeline.suffixes
      write_prefixes = pipeline.write_prefixes
    }
  }
  s3_trigger_buckets = toset([for trigger in values(local.s3_triggers) : trigger.bucket])
  # A bucket the root creates is referenced through its module, so it exists before its triggers.
  created_buckets = { for bucket in module.batch_bucket : bucket.name => bucket.name }
}

module "s3_triggers" {
  source   = "./modules/s3-triggers"
  for_each = local.s3_trigger_buckets

  name                = var.name
  bucket              = lookup(local.created_buckets, each.key, each.key)
  mode                = var.s3_trigger_mode == "notification" ? "notification" : "eventbridge"
  manage_notification = var.s3_trigger_mode != "eventbridge-existing"
  tags                = var.tags
  triggers = {
    for key, trigger in local.s3_triggers : key => {
      function_arn   = trigger.function_arn
      function_name  = trigger.function_name
      prefix         = trigger.prefix
      suffixes       = trigger.suffixes
      write_prefixes = trigger.write_prefixes
    } if trigger.bucket == each.key
  }
}
