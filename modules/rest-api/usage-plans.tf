resource "aws_api_gateway_usage_plan" "this" {
  for_each = var.usage_plans

  name        = "${var.name}-${each.key}"
  description = each.value.description

  dynamic "api_stages" {
    for_each = toset(each.value.stages)
    content {
      api_id = aws_api_gateway_rest_api.this.id
      stage  = aws_api_gateway_stage.this[api_stages.value].stage_name

      # Keyed "/<resource path>/<METHOD>", unescaped: AWS documents "/pets/GET" (and "//GET"
      # for the root) as keys of this map
      # (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-create-usage-plans-with-rest-api.html),
      # and the CDK builds them the same way. No source shows a multi-segment key; updating one
      # in place (a patch path with the raw key) is unverified: the README says what to do.
      dynamic "throttle" {
        for_each = each.value.method_throttles
        content {
          path        = "/${local.routes[throttle.key].path}/${local.routes[throttle.key].method}"
          rate_limit  = throttle.value.rate
          burst_limit = throttle.value.burst
        }
      }
    }
  }

  dynamic "throttle_settings" {
    for_each = each.value.throttle == null ? [] : [each.value.throttle]
    content {
      rate_limit  = throttle_settings.value.rate
      burst_limit = throttle_settings.value.burst
    }
  }

  dynamic "quota_settings" {
    for_each = each.value.quota == null ? [] : [each.value.quota]
    content {
      limit  = quota_settings.value.limit
      offset = quota_settings.value.offset
      period = quota_settings.value.period
    }
  }

  tags = var.tags

  depends_on = [aws_api_gateway_stage.this]
}

locals {
  # Key names, plans and flags are not secret; only the supplied values are.
  api_keys = nonsensitive({
    for k, key in var.api_keys : k => {
      description = key.description
      enabled     = key.enabled
      usage_plan  = key.usage_plan
    }
  })
}

resource "aws_api_gateway_api_key" "this" {
  for_each = local.api_keys

  name        = "${var.name}-${each.key}"
  description = each.value.description
  enabled     = each.value.enabled
  value       = var.api_keys[each.key].value
  tags        = var.tags
}

resource "aws_api_gateway_usage_plan_key" "this" {
  for_each = local.api_keys

  key_id        = aws_api_gateway_api_key.this[each.key].id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.this[each.value.usage_plan].id
}
