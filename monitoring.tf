# Alarms, their SNS topic and the dashboard (var.monitoring; null = off).
#
# Every alarm is one entry of local.alarms: the alarm resources, the monitoring_alarms output
# (what local mode reads to say which alarms would fire) and the endpoint's rollback alarms are
# all derived from that one map. An entry's metrics map holds one metric for a plain alarm, or
# the metrics and the expression (return_data = true) of a metric-math alarm.
#
# Metric names, namespaces and dimensions, by source:
# - AWS/ApiGateway 4XXError, 5XXError, Count, Latency; dimensions ApiName + Stage, and ApiName +
#   Method + Resource + Stage when the stage publishes detailed metrics (metrics_enabled). The
#   Average of 4XXError and 5XXError is their rate, Count's statistic is SampleCount. There is
#   no throttling metric: a throttled request (429) is one more 4XXError.
#   https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html
# - AWS/Lambda Errors, Invocations, Throttles, Duration (ms), AsyncEventsDropped; dimension
#   FunctionName. The error rate is Errors divided by Invocations.
#   https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html
# - AWS/SQS ApproximateNumberOfMessagesVisible, ApproximateAgeOfOldestMessage (s); dimension
#   QueueName. https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html
# - AWS/SageMaker Invocations, Invocation5XXErrors, InvocationModelErrors (1 per failed request,
#   0 otherwise: their Average is the rate), ModelLatency and ModelSetupTime (microseconds);
#   /aws/sagemaker/Endpoints CPUUtilization (sum over cores) and MemoryUtilization (%) of
#   instance variants; dimensions EndpointName + VariantName. Serverless variants publish
#   ModelSetupTime and no CPU metric.
#   https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html
#   https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-monitoring.html
# - var.metrics_namespace (MlGateway by default; every function's POWERTOOLS_METRICS_NAMESPACE):
#   batch RowsPredicted, RowErrors, FilesRejected with service = the function's
#   POWERTOOLS_SERVICE_NAME; actuals RowsReported, BadRowsSkipped, FilesFailed with
#   service = report_actuals, which that handler sets itself. lambda_src/README.md lists them;
#   tests/terraform/test_root_monitoring.py reads them from the handlers' code.
#
# treat_missing_data: every metric here but instance utilization is published only when
# something happens (a request, an invocation, a file, a queued message; the pipelines' failure
# counts only when non-zero), so a missing datapoint means nothing happened: notBreaching.
locals {
  monitoring_enabled = var.monitoring != null
  mon                = var.monitoring

  # The handlers' Powertools namespace: the root sets it as every function's
  # POWERTOOLS_METRICS_NAMESPACE.
  metrics_namespace = var.metrics_namespace
  # The actuals handler names its metrics' service itself (lambda_src/mlgw/handlers/report_actuals.py).
  actuals_metrics_service = "report_actuals"

  alarm_topic_created = local.monitoring_enabled && try(var.monitoring.alarm_topic.arn == null, false)
  alarm_key_created   = local.alarm_topic_created && try(var.monitoring.alarm_topic.kms_key_arn == null, false)
  alarm_topic_arn = !local.monitoring_enabled ? null : (
    local.alarm_topic_created ? aws_sns_topic.alarms[0].arn : var.monitoring.alarm_topic.arn
  )
  # CloudWatch alarms only notify a topic of their own region.
  alarm_topic_region = try(split(":", var.monitoring.alarm_topic.arn)[3], local.region)

  # Condition alarms (rates, latency, utilization) fire on M of N periods; event alarms (a file
  # failed, an event was dropped, a failure is queued) on the first period that has one.
  condition_window = local.monitoring_enabled ? {
    period              = var.monitoring.period_seconds
    evaluation_periods  = var.monitoring.evaluation_periods
    datapoints_to_alarm = var.monitoring.datapoints_to_alarm
  } : null
  event_window = local.monitoring_enabled ? {
    period              = var.monitoring.period_seconds
    evaluation_periods  = 1
    datapoints_to_alarm = 1
  } : null

  # --- REST API, per stage -------------------------------------------------------------------
  monitored_stages = local.monitoring_enabled && local.api_enabled ? var.api.stages : {}
  # Throttled requests are counted from the stage's access log (status 429), the only place a
  # REST API records them apart from other 4XX errors: on stages whose JSON access log has the
  # module's "status" field (the default format has it).
  throttle_filter_stages = local.monitoring_enabled && local.api_enabled ? {
    for stage, group in module.api[0].access_log_group_names : stage => group
    if var.api.stages[stage].access_log_format == null || try(jsondecode(var.api.stages[stage].access_log_format).status == "$context.status", false)
  } : {}
  throttle_metric_namespace = "MlGateway/ApiGateway"

  api_alarms = merge([
    for stage in keys(local.monitored_stages) : merge(
      {
        "api-${stage}-5xx-rate" = merge(local.condition_window, {
          description        = "More than ${var.monitoring.api.error_5xx_rate * 100} % of the requests to stage ${stage} of API ${var.name} ended in a 5XX error."
          comparison         = "GreaterThanThreshold"
          threshold          = var.monitoring.api.error_5xx_rate
          treat_missing_data = "notBreaching" # no requests, no datapoint
          metrics = {
            ratio    = { expression = "errors / requests", label = "5XX rate", metric_name = null, namespace = null, dimensions = {}, stat = null, return_data = true }
            errors   = { expression = null, label = null, metric_name = "5XXError", namespace = "AWS/ApiGateway", dimensions = { ApiName = var.name, Stage = stage }, stat = "Sum", return_data = false }
            requests = { expression = null, label = null, metric_name = "Count", namespace = "AWS/ApiGateway", dimensions = { ApiName = var.name, Stage = stage }, stat = "SampleCount", return_data = false }
          }
        })
        "api-${stage}-4xx-rate" = merge(local.condition_window, {
          description        = "More than ${var.monitoring.api.error_4xx_rate * 100} % of the requests to stage ${stage} of API ${var.name} ended in a 4XX error (bad input, keys, quotas, throttling)."
          comparison         = "GreaterThanThreshold"
          threshold          = var.monitoring.api.error_4xx_rate
          treat_missing_data = "notBreaching" # no requests, no datapoint
          metrics = {
            ratio    = { expression = "errors / requests", label = "4XX rate", metric_name = null, namespace = null, dimensions = {}, stat = null, return_data = true }
            errors   = { expression = null, label = null, metric_name = "4XXError", namespace = "AWS/ApiGateway", dimensions = { ApiName = var.name, Stage = stage }, stat = "Sum", return_data = false }
            requests = { expression = null, label = null, metric_name = "Count", namespace = "AWS/ApiGateway", dimensions = { ApiName = var.name, Stage = stage }, stat = "SampleCount", return_data = false }
          }
        })
        "api-${stage}-latency-p99" = merge(local.condition_window, {
          description        = "The 99th percentile of the latency of stage ${stage} of API ${var.name} is above ${var.monitoring.api.latency_p99_ms} ms."
          comparison         = "GreaterThanThreshold"
          threshold          = var.monitoring.api.latency_p99_ms
          treat_missing_data = "notBreaching" # no requests, no datapoint
          metrics = {
            m1 = { expression = null, label = null, metric_name = "Latency", namespace = "AWS/ApiGateway", dimensions = { ApiName = var.name, Stage = stage }, stat = "p99", return_data = true }
          }
        })
      },
      contains(keys(local.throttle_filter_stages), stage) ? {
        "api-${stage}-throttled" = merge(local.event_window, {
          description        = "At least ${var.monitoring.api.throttled_requests} requests to stage ${stage} of API ${var.name} were throttled (429) in a period: a stage, method or usage-plan limit, or the account's."
          comparison         = "GreaterThanOrEqualToThreshold"
          threshold          = var.monitoring.api.throttled_requests
          treat_missing_data = "notBreaching" # the metric filter publishes only when a 429 is logged
          metrics = {
            m1 = { expression = null, label = null, metric_name = "${var.name}-${stage}-throttled", namespace = local.throttle_metric_namespace, dimensions = {}, stat = "Sum", return_data = true }
          }
        })
      } : {},
    )
  ]...)

  # --- Functions ------------------------------------------------------------------------------
  # Names as the functions are created (api.tf, batch.tf, actuals.tf) and as modules/lambda-function
  # names their failure queues ("<function>-failures"), written out rather than read from the
  # modules: the endpoint's deployment references these alarms, and the batch function depends on
  # the endpoint's model, so reading its outputs here would be a cycle. The plan checks hold the
  # names to the planned functions and queues.
  monitored_functions = local.monitoring_enabled ? merge(
    local.predict_enabled ? {
      predict = { name = "${var.name}-predict", timeout = var.api.predict.timeout, async = false, queue = null }
    } : {},
    local.batch_enabled ? {
      batch = { name = local.batch_function_name, timeout = var.batch_prediction.timeout, async = true, queue = "${local.batch_function_name}-failures" }
    } : {},
    local.actuals_enabled ? {
      actuals = { name = local.actuals_function_name, timeout = var.actuals_reporting.timeout, async = true, queue = "${local.actuals_function_name}-failures" }
    } : {},
  ) : {}

  function_alarms = merge([
    for key, fn in local.monitored_functions : merge(
      {
        "${key}-error-rate" = merge(local.condition_window, {
          description        = "More than ${var.monitoring.functions.error_rate * 100} % of the invocations of ${fn.name} failed."
          comparison         = "GreaterThanThreshold"
          threshold          = var.monitoring.functions.error_rate
          treat_missing_data = "notBreaching" # no invocations, no datapoint
          metrics = {
            ratio       = { expression = "errors / invocations", label = "error rate", metric_name = null, namespace = null, dimensions = {}, stat = null, return_data = true }
            errors      = { expression = null, label = null, metric_name = "Errors", namespace = "AWS/Lambda", dimensions = { FunctionName = fn.name }, stat = "Sum", return_data = false }
            invocations = { expression = null, label = null, metric_name = "Invocations", namespace = "AWS/Lambda", dimensions = { FunctionName = fn.name }, stat = "Sum", return_data = false }
          }
        })
        "${key}-throttles" = merge(local.event_window, {
          description        = "${fn.name} was throttled at least ${var.monitoring.functions.throttles} times in a period${fn.async ? " (Lambda retries throttled asynchronous events, so this pages before anything is lost)" : ""}."
          comparison         = "GreaterThanOrEqualToThreshold"
          threshold          = var.monitoring.functions.throttles
          treat_missing_data = "notBreaching" # published only when requests are throttled
          metrics = {
            m1 = { expression = null, label = null, metric_name = "Throttles", namespace = "AWS/Lambda", dimensions = { FunctionName = fn.name }, stat = "Sum", return_data = true }
          }
        })
        "${key}-duration" = merge(local.condition_window, {
          description        = "An invocation of ${fn.name} ran longer than ${var.monitoring.functions.duration_ratio * 100} % of its ${fn.timeout} s timeout."
          comparison         = "GreaterThanThreshold"
          threshold          = floor(fn.timeout * 1000 * var.monitoring.functions.duration_ratio)
          treat_missing_data = "notBreaching" # no invocations, no datapoint
          metrics = {
            m1 = { expression = null, label = null, metric_name = "Duration", namespace = "AWS/Lambda", dimensions = { FunctionName = fn.name }, stat = "Maximum", return_data = true }
          }
        })
      },
      fn.async ? {
        "${key}-async-events-dropped" = merge(local.event_window, {
          description        = "Lambda dropped asynchronous events of ${fn.name} without running them (too old, or retries exhausted with nowhere to go)."
          comparison         = "GreaterThanOrEqualToThreshold"
          threshold          = 1
          treat_missing_data = "notBreaching" # published only when events are dropped
          metrics = {
            m1 = { expression = null, label = null, metric_name = "AsyncEventsDropped", namespace = "AWS/Lambda", dimensions = { FunctionName = fn.name }, stat = "Sum", return_data = true }
          }
        })
      } : {},
      fn.queue != null ? {
        "${key}-failure-queue-depth" = merge(local.event_window, {
          description        = "Events ${fn.name} failed on after its retries are waiting in ${fn.queue}: fix the cause, then redrive them."
          comparison         = "GreaterThanOrEqualToThreshold"
          threshold          = 1
          treat_missing_data = "notBreaching" # SQS stops publishing for a queue that stays empty and unused
          metrics = {
            m1 = { expression = null, label = null, metric_name = "ApproximateNumberOfMessagesVisible", namespace = "AWS/SQS", dimensions = { QueueName = fn.queue }, stat = "Maximum", return_data = true }
          }
        })
        "${key}-failure-queue-age" = merge(local.event_window, {
          description        = "The oldest failed event of ${fn.name} has waited in ${fn.queue} for more than ${var.monitoring.functions.failure_queue_age_seconds} s; SQS deletes it when the queue's retention ends."
          comparison         = "GreaterThanThreshold"
          threshold          = var.monitoring.functions.failure_queue_age_seconds
          treat_missing_data = "notBreaching" # SQS stops publishing for a queue that stays empty and unused
          metrics = {
            m1 = { expression = null, label = null, metric_name = "ApproximateAgeOfOldestMessage", namespace = "AWS/SQS", dimensions = { QueueName = fn.queue }, stat = "Maximum", return_data = true }
          }
        })
      } : {},
    )
  ]...)

  # --- Primary endpoint, per variant -----------------------------------------------------------
  # The variants of a created endpoint are known, with their kind; an existing endpoint's are
  # named in monitoring.endpoint.variant_names and their kind is unknown, so they get only the
  # invocation alarms every kind publishes.
  monitored_variants = !local.monitoring_enabled || local.endpoint_name == null ? {} : (
    local.endpoint_create != null ? {
      for name, v in local.endpoint_create.variants : name => { kind = v.serverless != null ? "serverless" : "instance" }
      } : {
      for name in var.monitoring.endpoint.variant_names : name => { kind = "unknown" }
    }
  )

  endpoint_alarms = merge([
    for variant, v in local.monitored_variants : merge(
      {
        "endpoint-${variant}-5xx-rate" = merge(local.condition_window, {
          description        = "More than ${var.monitoring.endpoint.error_5xx_rate * 100} % of the invocations of variant ${variant} of endpoint ${local.endpoint_name} ended in a 5XX error."
          comparison         = "GreaterThanThreshold"
          threshold          = var.monitoring.endpoint.error_5xx_rate
          treat_missing_data = "notBreaching" # no invocations, no datapoint
          metrics = {
            m1 = { expression = null, label = null, metric_name = "Invocation5XXErrors", namespace = "AWS/SageMaker", dimensions = { EndpointName = local.endpoint_name, VariantName = variant }, stat = "Average", return_data = true }
          }
        })
        "endpoint-${variant}-model-latency-p99" = merge(local.condition_window, {
          description        = "The 99th percentile of the model latency of variant ${variant} of endpoint ${local.endpoint_name} is above ${var.monitoring.endpoint.model_latency_p99_ms} ms."
          comparison         = "GreaterThanThreshold"
          threshold          = var.monitoring.endpoint.model_latency_p99_ms * 1000 # ModelLatency is in microseconds
          treat_missing_data = "notBreaching"                                      # no invocations, no datapoint
          metrics = {
            m1 = { expression = null, label = null, metric_name = "ModelLatency", namespace = "AWS/SageMaker", dimensions = { EndpointName = local.endpoint_name, VariantName = variant }, stat = "p99", return_data = true }
          }
        })
        "endpoint-${variant}-model-error-rate" = merge(local.condition_window, {
          description        = "More than ${var.monitoring.endpoint.model_error_rate * 100} % of the invocations of variant ${variant} of endpoint ${local.endpoint_name} got no valid answer from the model container."
          comparison         = "GreaterThanThreshold"
          threshold          = var.monitoring.endpoint.model_error_rate
          treat_missing_data = "notBreaching" # no invocations, no datapoint
          metrics = {
            m1 = { expression = null, label = null, metric_name = "InvocationModelErrors", namespace = "AWS/SageMaker", dimensions = { EndpointName = local.endpoint_name, VariantName = variant }, stat = "Average", return_data = true }
          }
        })
      },
      v.kind == "instance" ? {
        "endpoint-${variant}-memory" = merge(local.condition_window, {
          description        = "The instances of variant ${variant} of endpoint ${local.endpoint_name} use more than ${var.monitoring.endpoint.memory_utilization_percent} % of their memory."
          comparison         = "GreaterThanThreshold"
          threshold          = var.monitoring.endpoint.memory_utilization_percent
          treat_missing_data = "missing" # instances publish every minute; a gap is a fleet being replaced, not a verdict
          metrics = {
            m1 = { expression = null, label = null, metric_name = "MemoryUtilization", namespace = "/aws/sagemaker/Endpoints", dimensions = { EndpointName = local.endpoint_name, VariantName = variant }, stat = "Average", return_data = true }
          }
        })
      } : {},
      v.kind == "instance" && var.monitoring.endpoint.cpu_utilization_percent != null ? {
        "endpoint-${variant}-cpu" = merge(local.condition_window, {
          description        = "The instances of variant ${variant} of endpoint ${local.endpoint_name} use more than ${var.monitoring.endpoint.cpu_utilization_percent} % CPU (summed over their cores)."
          comparison         = "GreaterThanThreshold"
          threshold          = var.monitoring.endpoint.cpu_utilization_percent
          treat_missing_data = "missing" # instances publish every minute; a gap is a fleet being replaced, not a verdict
          metrics = {
            m1 = { expression = null, label = null, metric_name = "CPUUtilization", namespace = "/aws/sagemaker/Endpoints", dimensions = { EndpointName = local.endpoint_name, VariantName = variant }, stat = "Average", return_data = true }
          }
        })
      } : {},
      v.kind == "serverless" ? {
        "endpoint-${variant}-model-setup-time" = merge(local.event_window, {
          description        = "A cold start of serverless variant ${variant} of endpoint ${local.endpoint_name} took more than ${var.monitoring.endpoint.model_setup_time_ms} ms to set up the model."
          comparison         = "GreaterThanThreshold"
          threshold          = var.monitoring.endpoint.model_setup_time_ms * 1000 # ModelSetupTime is in microseconds
          treat_missing_data = "notBreaching"                                     # published only on cold starts
          metrics = {
            m1 = { expression = null, label = null, metric_name = "ModelSetupTime", namespace = "AWS/SageMaker", dimensions = { EndpointName = local.endpoint_name, VariantName = variant }, stat = "Maximum", return_data = true }
          }
        })
      } : {},
    )
  ]...)

  # --- Pipelines -------------------------------------------------------------------------------
  # modules/lambda-function sets POWERTOOLS_SERVICE_NAME to the function's name, and the batch
  # handler uses it as its metrics' service.
  batch_metrics_dimensions = local.monitoring_enabled && local.batch_enabled ? { service = local.batch_function_name } : {}
  pipeline_alarms = merge(
    local.monitoring_enabled && local.batch_enabled ? {
      "batch-row-error-rate" = merge(local.condition_window, {
        description        = "More than ${var.monitoring.batch.row_error_rate * 100} % of the rows of batch files went to the error prefix instead of the output."
        comparison         = "GreaterThanThreshold"
        threshold          = var.monitoring.batch.row_error_rate
        treat_missing_data = "notBreaching" # no files, no datapoint
        metrics = {
          ratio     = { expression = "errors / (errors + predicted)", label = "row error rate", metric_name = null, namespace = null, dimensions = {}, stat = null, return_data = true }
          errors    = { expression = null, label = null, metric_name = "RowErrors", namespace = local.metrics_namespace, dimensions = local.batch_metrics_dimensions, stat = "Sum", return_data = false }
          predicted = { expression = null, label = null, metric_name = "RowsPredicted", namespace = local.metrics_namespace, dimensions = local.batch_metrics_dimensions, stat = "Sum", return_data = false }
        }
      })
      "batch-files-rejected" = merge(local.event_window, {
        description        = "At least ${var.monitoring.batch.files_rejected} batch files were rejected as unreadable (type, encoding or columns); no retry can help them."
        comparison         = "GreaterThanOrEqualToThreshold"
        threshold          = var.monitoring.batch.files_rejected
        treat_missing_data = "notBreaching" # sent only when non-zero
        metrics = {
          m1 = { expression = null, label = null, metric_name = "FilesRejected", namespace = local.metrics_namespace, dimensions = local.batch_metrics_dimensions, stat = "Sum", return_data = true }
        }
      })
    } : {},
    local.monitoring_enabled && local.actuals_enabled ? {
      "actuals-files-failed" = merge(local.event_window, {
        description        = "At least ${var.monitoring.actuals.files_failed} actuals files failed to report in a period; permanent failures are moved to ${local.actuals.failed_prefix}."
        comparison         = "GreaterThanOrEqualToThreshold"
        threshold          = var.monitoring.actuals.files_failed
        treat_missing_data = "notBreaching" # sent only when non-zero
        metrics = {
          m1 = { expression = null, label = null, metric_name = "FilesFailed", namespace = local.metrics_namespace, dimensions = { service = local.actuals_metrics_service }, stat = "Sum", return_data = true }
        }
      })
      "actuals-rows-rejected" = merge(local.event_window, {
        description        = "At least ${var.monitoring.actuals.rows_rejected} bad actuals rows were skipped in a period; the processed file's report lists them."
        comparison         = "GreaterThanOrEqualToThreshold"
        threshold          = var.monitoring.actuals.rows_rejected
        treat_missing_data = "notBreaching" # no files, no datapoint
        metrics = {
          m1 = { expression = null, label = null, metric_name = "BadRowsSkipped", namespace = local.metrics_namespace, dimensions = { service = local.actuals_metrics_service }, stat = "Sum", return_data = true }
        }
      })
    } : {},
  )

  alarms = {
    for key, alarm in merge(local.api_alarms, local.function_alarms, local.endpoint_alarms, local.pipeline_alarms) :
    key => merge(alarm, { single = length(alarm.metrics) == 1 ? values(alarm.metrics)[0] : null })
  }

  # The created endpoint's own alarms roll a blue/green deployment back, unless the deployment
  # names its own. The names are known from the inputs; referencing the alarms also creates
  # them before the endpoint is updated. AutoRollbackConfig takes at most 10 alarms
  # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AutoRollbackConfig.html):
  # every variant's 5XX-rate alarm comes first, then latency alarms while room is left.
  endpoint_rollback_alarm_candidates = concat(
    [for variant in keys(local.monitored_variants) : "endpoint-${variant}-5xx-rate"],
    [for variant in keys(local.monitored_variants) : "endpoint-${variant}-model-latency-p99"],
  )
  endpoint_rollback_alarm_keys = local.monitoring_enabled && try(var.monitoring.endpoint.rollback, false) && local.endpoint_create != null ? slice(
    local.endpoint_rollback_alarm_candidates, 0, min(10, length(local.endpoint_rollback_alarm_candidates))
  ) : []
}

# A key for the created topic: CloudWatch cannot use the AWS managed key alias/aws/sns, whose
# policy cannot be changed (https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns).
data "aws_iam_policy_document" "alarm_key" {
  #checkov:skip=CKV_AWS_109:A key policy's Resource "*" is the key itself; the account root statement is the default key policy that keeps the key manageable through IAM.
  #checkov:skip=CKV_AWS_111:A key policy's Resource "*" is the key itself; the account root statement is the default key policy that keeps the key manageable through IAM.
  #checkov:skip=CKV_AWS_356:A key policy's Resource "*" is the key itself, the only resource a key policy can name.
  count = local.alarm_key_created ? 1 : 0

  # The default key policy: IAM policies of the account decide who else may use the key
  # (https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
  statement {
    sid       = "AccountAdministersKey"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublish"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_kms_key" "alarms" {
  count = local.alarm_key_created ? 1 : 0

  description             = "Encrypts the alarm notifications of ${var.name}"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.alarm_key[0].json
  tags                    = var.tags
}

resource "aws_sns_topic" "alarms" {
  count = local.alarm_topic_created ? 1 : 0

  name              = "${var.name}-alarms"
  kms_master_key_id = local.alarm_key_created ? aws_kms_key.alarms[0].arn : var.monitoring.alarm_topic.kms_key_arn
  tags              = var.tags
}

# Throttled requests, counted from each stage's JSON access log.
resource "aws_cloudwatch_log_metric_filter" "throttled" {
  for_each = local.throttle_filter_stages

  name           = "${var.name}-${each.key}-throttled"
  log_group_name = each.value
  # The module's access log writes "status" as a JSON string; a filter compares strings quoted
  # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html).
  pattern = "{ $.status = \"429\" }"

  metric_transformation {
    name      = "${var.name}-${each.key}-throttled"
    namespace = local.throttle_metric_namespace
    value     = "1"
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  evaluation_periods  = each.value.evaluation_periods
  datapoints_to_alarm = each.value.datapoints_to_alarm
  treat_missing_data  = each.value.treat_missing_data
  alarm_actions       = [local.alarm_topic_arn]
  ok_actions          = [local.alarm_topic_arn]

  # One metric: a plain alarm (percentiles are extended statistics).
  metric_name        = try(each.value.single.metric_name, null)
  namespace          = try(each.value.single.namespace, null)
  dimensions         = try(length(each.value.single.dimensions) > 0 ? each.value.single.dimensions : null, null)
  period             = each.value.single != null ? each.value.period : null
  statistic          = try(startswith(each.value.single.stat, "p") ? null : each.value.single.stat, null)
  extended_statistic = try(startswith(each.value.single.stat, "p") ? each.value.single.stat : null, null)

  # Several: a metric-math alarm on the query that returns data.
  dynamic "metric_query" {
    for_each = each.value.single == null ? each.value.metrics : {}
    content {
      id          = metric_query.key
      expression  = metric_query.value.expression
      label       = metric_query.value.label
      return_data = metric_query.value.return_data

      dynamic "metric" {
        for_each = metric_query.value.expression == null ? [metric_query.value] : []
        content {
          metric_name = metric.value.metric_name
          namespace   = metric.value.namespace
          dimensions  = length(metric.value.dimensions) > 0 ? metric.value.dimensions : null
          period      = each.value.period
          stat        = metric.value.stat
        }
      }
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = local.alarm_topic_region == local.region
      error_message = "monitoring.alarm_topic.arn is a topic of ${local.alarm_topic_region}, but the alarms are created in ${local.region}: CloudWatch alarms notify only topics of their own region. Give a topic of ${local.region}, or leave arn null to have one created."
    }
  }

  depends_on = [aws_cloudwatch_log_metric_filter.throttled]
}
