locals {
  autoscaled_variants = { for name, v in var.variants : name => v if v.autoscaling != null }
}

# SageMaker refuses an endpoint update that changes the instance type of a variant registered
# with Application Auto Scaling. Replacing the scalable target (and its policy) when the
# instance type changes deregisters the variant first: Terraform destroys a dependent before
# it updates what the dependent refers to, then registers the variant again afterwards.
resource "terraform_data" "scaling_instance_type" {
  for_each = local.autoscaled_variants

  input = each.value.instance_type
}

resource "aws_appautoscaling_target" "this" {
  for_each = local.autoscaled_variants

  service_namespace  = "sagemaker"
  scalable_dimension = "sagemaker:variant:DesiredInstanceCount"
  resource_id        = "endpoint/${aws_sagemaker_endpoint.this.name}/variant/${each.key}"
  min_capacity       = each.value.autoscaling.min_capacity
  max_capacity       = each.value.autoscaling.max_capacity
  tags               = var.tags

  lifecycle {
    replace_triggered_by = [terraform_data.scaling_instance_type[each.key]]
  }
}

resource "aws_appautoscaling_policy" "this" {
  for_each = local.autoscaled_variants

  name               = "${var.name}-${each.key}-invocations"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.autoscaling.target_invocations_per_instance
    scale_in_cooldown  = each.value.autoscaling.scale_in_cooldown
    scale_out_cooldown = each.value.autoscaling.scale_out_cooldown

    predefined_metric_specification {
      predefined_metric_type = "SageMakerVariantInvocationsPerInstance"
    }
  }

  lifecycle {
    replace_triggered_by = [terraform_data.scaling_instance_type[each.key]]
  }
}
