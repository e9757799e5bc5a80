# One CloudWatch dashboard of the parts that are on (monitoring.dashboard). Metric names and
# dimensions are those of the alarms (see monitoring.tf for their sources). A metric widget
# lists each metric as [namespace, name, dimension name, value, ..., {options}] and names its
# region (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html).
locals {
  dashboard_enabled = local.monitoring_enabled && try(var.monitoring.dashboard, false)

  # Routes as API Gateway names them in the Resource dimension: the resource path.
  dashboard_routes = local.api_enabled ? {
    for key, route in merge(local.predict_routes, var.api.routes) : key => { method = route.method, resource = "/${route.path}" }
  } : {}

  # Each group is filtered rather than chosen with a conditional, so widgets of different
  # shapes never need one common type.
  stage_widgets = flatten([
    for stage in keys(local.monitored_stages) : [
      for widget in [
        {
          title = "API ${stage}: requests and errors"
          stat  = "Sum"
          metrics = [
            ["AWS/ApiGateway", "Count", "ApiName", var.name, "Stage", stage, { stat = "SampleCount", label = "requests" }],
            ["AWS/ApiGateway", "4XXError", "ApiName", var.name, "Stage", stage, { label = "4XX" }],
            ["AWS/ApiGateway", "5XXError", "ApiName", var.name, "Stage", stage, { label = "5XX" }],
          ]
          per_route = false
        },
        {
          title = "API ${stage}: latency (ms)"
          stat  = "p99"
          metrics = [
            ["AWS/ApiGateway", "Latency", "ApiName", var.name, "Stage", stage, { label = "p99" }],
            ["AWS/ApiGateway", "Latency", "ApiName", var.name, "Stage", stage, { stat = "p50", label = "p50" }],
            ["AWS/ApiGateway", "IntegrationLatency", "ApiName", var.name, "Stage", stage, { label = "integration p99" }],
          ]
          per_route = false
        },
        {
          title = "API ${stage}: requests and 5XX per route"
          stat  = "Sum"
          metrics = concat([], [
            for key, route in local.dashboard_routes : [
              ["AWS/ApiGateway", "Count", "ApiName", var.name, "Method", route.method, "Resource", route.resource, "Stage", stage, { stat = "SampleCount", label = "${key} requests" }],
              ["AWS/ApiGateway", "5XXError", "ApiName", var.name, "Method", route.method, "Resource", route.resource, "Stage", stage, { label = "${key} 5XX" }],
            ]
          ]...)
          per_route = true
        },
        {
          title = "API ${stage}: p99 latency per route (ms)"
          stat  = "p99"
          metrics = [
            for key, route in local.dashboard_routes :
            ["AWS/ApiGateway", "Latency", "ApiName", var.name, "Method", route.method, "Resource", route.resource, "Stage", stage, { label = key }]
          ]
          per_route = true
        },
        # Per-route metrics exist only where the stage publishes detailed metrics.
      ] : widget if !widget.per_route || (var.api.stages[stage].metrics_enabled && length(local.dashboard_routes) > 0)
    ]
  ])

  queued_functions = { for key, fn in local.monitored_functions : key => fn if fn.queue != null }

  other_widgets = [
    for widget in [
      {
        title = "Functions: errors and throttles"
        stat  = "Sum"
        metrics = concat([], [
          for key, fn in local.monitored_functions : [
            ["AWS/Lambda", "Errors", "FunctionName", fn.name, { label = "${key} errors" }],
            ["AWS/Lambda", "Throttles", "FunctionName", fn.name, { label = "${key} throttles" }],
          ]
        ]...)
        on = length(local.monitored_functions) > 0
      },
      {
        title = "Model latency per variant (microseconds)"
        stat  = "p99"
        metrics = concat([], [
          for variant in keys(local.monitored_variants) : [
            ["AWS/SageMaker", "ModelLatency", "EndpointName", local.endpoint_name, "VariantName", variant, { label = "${variant} p99" }],
            ["AWS/SageMaker", "ModelLatency", "EndpointName", local.endpoint_name, "VariantName", variant, { stat = "p50", label = "${variant} p50" }],
          ]
        ]...)
        on = length(local.monitored_variants) > 0
      },
      {
        title = "Invocations and errors per variant"
        stat  = "Sum"
        metrics = concat([], [
          for variant in keys(local.monitored_variants) : [
            ["AWS/SageMaker", "Invocations", "EndpointName", local.endpoint_name, "VariantName", variant, { label = "${variant} invocations" }],
            ["AWS/SageMaker", "Invocation5XXErrors", "EndpointName", local.endpoint_name, "VariantName", variant, { label = "${variant} 5XX" }],
            ["AWS/SageMaker", "InvocationModelErrors", "EndpointName", local.endpoint_name, "VariantName", variant, { label = "${variant} model errors" }],
          ]
        ]...)
        on = length(local.monitored_variants) > 0
      },
      {
        title = "Batch prediction: rows and rejected files"
        stat  = "Sum"
        metrics = [
          for name in ["RowsPredicted", "RowErrors", "FilesRejected"] :
          [local.metrics_namespace, name, "service", try(local.batch_metrics_dimensions.service, ""), { label = name }]
        ]
        on = local.monitoring_enabled && local.batch_enabled
      },
      {
        title = "Actuals reporting: rows and failures"
        stat  = "Sum"
        metrics = [
          for name in ["RowsReported", "BadRowsSkipped", "FilesFailed"] :
          [local.metrics_namespace, name, "service", local.actuals_metrics_service, { label = name }]
        ]
        on = local.monitoring_enabled && local.actuals_enabled
      },
      {
        title = "Failure queues: messages waiting"
        stat  = "Maximum"
        metrics = [
          for key, fn in local.queued_functions :
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", fn.queue, { label = key }]
        ]
        on = length(local.queued_functions) > 0
      },
    ] : widget if widget.on
  ]

  dashboard_widgets = concat(local.stage_widgets, local.other_widgets)

  # Two widgets a row, each half the 24-column grid.
  dashboard_body = jsonencode({
    widgets = [
      for i, widget in local.dashboard_widgets : {
        type   = "metric"
        x      = (i % 2) * 12
        y      = floor(i / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = widget.title
          region  = local.region
          view    = "timeSeries"
          stacked = false
          period  = var.monitoring.period_seconds
          stat    = widget.stat
          metrics = widget.metrics
        }
      }
    ]
  })
}

resource "aws_cloudwatch_dashboard" "this" {
  count = local.dashboard_enabled ? 1 : 0

  dashboard_name = var.name
  dashboard_body = local.dashboard_body
}
