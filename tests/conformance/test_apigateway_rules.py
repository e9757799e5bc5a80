"""API Gateway rules of the conformance layer: each plan of a minimal breaking configuration
fails naming the rule, and the fixed configuration plans."""

from __future__ import annotations

import pytest

from tfharness import Workspace

pytestmark = pytest.mark.terraform


def _usage_plan(period: str, offset: int) -> str:
    return f"""
resource "aws_api_gateway_usage_plan" "this" {{
  name = "conformance"
  quota_settings {{
    limit  = 100
    offset = {offset}
    period = "{period}"
  }}
}}
"""


@pytest.mark.parametrize(("period", "offset"), [("DAY", 1), ("WEEK", 7), ("MONTH", 28)])
def test_quota_offset_out_of_range_for_its_period_is_rejected(
    tf: Workspace, period: str, offset: int
) -> None:
    error = tf.plan_error(tf.inline(_usage_plan(period, offset)))
    assert "apigateway.quota-offset" in error
    assert f"out of range for a {period} quota" in error


@pytest.mark.parametrize(("period", "offset"), [("DAY", 0), ("WEEK", 6), ("MONTH", 27)])
def test_quota_offset_in_range_plans(tf: Workspace, period: str, offset: int) -> None:
    assert tf.plan(tf.inline(_usage_plan(period, offset))).resources


def test_quota_period_outside_the_api_enum_is_rejected_by_the_api_model(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_usage_plan("YEAR", 0)))
    assert "api-model apigateway:CreateUsagePlan quota.period" in error
    assert "must be one of DAY, WEEK, MONTH" in error
