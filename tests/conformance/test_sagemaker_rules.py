"""SageMaker rules of the conformance layer: each plan of a minimal breaking configuration fails
naming the rule, and the fixed configuration plans."""

from __future__ import annotations

import pytest

from tfharness import Workspace

pytestmark = pytest.mark.terraform

_INSTANCE_VARIANT = """
  production_variants {
    variant_name           = "%s"
    model_name             = "conformance-model"
    instance_type          = "ml.m5.large"
    initial_instance_count = 1
  }
"""


def _serverless_variant(
    memory: int = 2048, maximum: int = 5, provisioned: int | None = None, name: str = "primary"
) -> str:
    extra = f"\n      provisioned_concurrency = {provisioned}" if provisioned is not None else ""
    return f"""
  production_variants {{
    variant_name = "{name}"
    model_name   = "conformance-model"
    serverless_config {{
      memory_size_in_mb = {memory}
      max_concurrency   = {maximum}{extra}
    }}
  }}
"""


def _config(*blocks: str) -> str:
    return f"""
resource "aws_sagemaker_endpoint_configuration" "this" {{
  name = "conformance-config"
{"".join(blocks)}
}}
"""


_CAPTURE = """
  data_capture_config {
    destination_s3_uri          = "s3://conformance-data/capture/"
    initial_sampling_percentage = 100
    capture_options {
      capture_mode = "Input"
    }
  }
"""


@pytest.mark.parametrize("memory", [1536, 2500])
def test_serverless_memory_between_whole_gigabytes_is_rejected(tf: Workspace, memory: int) -> None:
    error = tf.plan_error(tf.inline(_config(_serverless_variant(memory=memory))))
    assert "sagemaker.serverless-memory-step" in error
    assert f"memory_size_in_mb {memory} is not a whole number of GB" in error


@pytest.mark.parametrize("memory", [1024, 3072, 6144])
def test_serverless_memory_in_whole_gigabytes_plans(tf: Workspace, memory: int) -> None:
    assert tf.plan(tf.inline(_config(_serverless_variant(memory=memory)))).resources


def test_provisioned_concurrency_above_the_maximum_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_config(_serverless_variant(maximum=5, provisioned=6))))
    assert "sagemaker.serverless-provisioned-concurrency" in error
    assert "provisioned_concurrency 6 exceeds max_concurrency 5" in error


def test_provisioned_concurrency_up_to_the_maximum_plans(tf: Workspace) -> None:
    assert tf.plan(tf.inline(_config(_serverless_variant(maximum=5, provisioned=5)))).resources


def test_serverless_variant_beside_another_variant_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_config(_serverless_variant(), _INSTANCE_VARIANT % "secondary")))
    assert "sagemaker.serverless-exclusions" in error
    assert "a serverless endpoint takes a single production variant, not 2" in error


def test_serverless_variant_with_data_capture_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_config(_serverless_variant(), _CAPTURE)))
    assert "sagemaker.serverless-exclusions" in error
    assert "serverless endpoints do not support data capture" in error


def test_instance_variants_with_data_capture_plan(tf: Workspace) -> None:
    hcl = _config(_INSTANCE_VARIANT % "primary", _INSTANCE_VARIANT % "secondary", _CAPTURE)
    assert tf.plan(tf.inline(hcl)).resources


def _model(container: str, extra: str = "") -> str:
    return f"""
resource "aws_sagemaker_model" "this" {{
  name               = "conformance-model"
  execution_role_arn = "arn:aws:iam::123456789012:role/conformance-sagemaker"
{container}{extra}
}}
"""


_SINGLE = """
  primary_container {
    image          = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    model_data_url = "s3://conformance-models/churn/model.tar.gz"
  }
"""
_MULTI = """
  primary_container {
    image          = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    model_data_url = "s3://conformance-models/churn/"
    mode           = "MultiModel"
  }
"""
_VPC = """
  vpc_config {
    subnets            = ["subnet-0123456789abcdef0"]
    security_group_ids = ["sg-0123456789abcdef0"]
  }
"""


@pytest.mark.parametrize(
    ("model", "problem"),
    [
        (_model(_MULTI), "MultiModel mode"),
        (_model(_SINGLE, _VPC), "a VPC configuration"),
        (_model(_SINGLE, "  enable_network_isolation = true\n"), "network isolation"),
    ],
)
def test_serverless_variant_of_a_model_serverless_cannot_host_is_rejected(
    tf: Workspace, model: str, problem: str
) -> None:
    error = tf.plan_error(tf.inline(model + _config(_serverless_variant())))
    assert "sagemaker.serverless-model-exclusions" in error
    assert "serves this model on a serverless variant, which takes no" in error
    assert problem in error


def test_instance_variant_of_such_a_model_and_a_serverless_variant_of_a_plain_model_plan(
    tf: Workspace,
) -> None:
    assert tf.plan(tf.inline(_model(_MULTI, _VPC) + _config(_INSTANCE_VARIANT % "primary"))).resources
    assert tf.plan(tf.inline(_model(_SINGLE) + _config(_serverless_variant()))).resources


_SHADOW = """
  shadow_production_variants {
    variant_name           = "shadow"
    model_name             = "conformance-model"
    instance_type          = "ml.m5.large"
    initial_instance_count = 1
  }
"""


def test_shadow_variant_beside_two_production_variants_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(
        tf.inline(_config(_INSTANCE_VARIANT % "primary", _INSTANCE_VARIANT % "secondary", _SHADOW))
    )
    assert "sagemaker.shadow-variant-count" in error
    assert "takes exactly one production variant, not 2" in error


def test_shadow_variant_beside_one_production_variant_plans(tf: Workspace) -> None:
    assert tf.plan(tf.inline(_config(_INSTANCE_VARIANT % "primary", _SHADOW))).resources


def _endpoint(step: str, kind: str, value: int) -> str:
    shifting = "CANARY" if step == "canary_size" else "LINEAR"
    return f"""
resource "aws_sagemaker_endpoint" "this" {{
  name                 = "conformance"
  endpoint_config_name = "conformance-config"

  deployment_config {{
    blue_green_update_policy {{
      traffic_routing_configuration {{
        type                     = "{shifting}"
        wait_interval_in_seconds = 300
        {step} {{
          type  = "{kind}"
          value = {value}
        }}
      }}
    }}
  }}
}}
"""


@pytest.mark.parametrize(
    ("step", "value"), [("canary_size", 51), ("linear_step_size", 9), ("linear_step_size", 60)]
)
def test_traffic_step_outside_its_capacity_percent_bounds_is_rejected(
    tf: Workspace, step: str, value: int
) -> None:
    error = tf.plan_error(tf.inline(_endpoint(step, "CAPACITY_PERCENT", value)))
    assert "sagemaker.traffic-step-size" in error
    assert f"{step} of {value} percent is out of range" in error


@pytest.mark.parametrize(
    ("step", "kind", "value"),
    [
        ("canary_size", "CAPACITY_PERCENT", 50),
        ("linear_step_size", "CAPACITY_PERCENT", 10),
        ("linear_step_size", "CAPACITY_PERCENT", 50),
        ("canary_size", "INSTANCE_COUNT", 60),
    ],
)
def test_traffic_step_within_bounds_or_counted_in_instances_plans(
    tf: Workspace, step: str, kind: str, value: int
) -> None:
    assert tf.plan(tf.inline(_endpoint(step, kind, value))).resources
