"""How the layer reads values and plans, independent of any one rule."""

from __future__ import annotations

import pytest

from tfharness import Workspace
from tfharness.conformance import RULES, UNKNOWN, Context, check_plan
from tfharness.conformance.core import blocks, walk
from tfharness.conformance.plan import PlanView, merge_unknown

BAD_USAGE_PLAN = {
    "type": "aws_api_gateway_usage_plan",
    "name": "this",
    "mode": "managed",
    "address": 'module.api.aws_api_gateway_usage_plan.this["free"]',
    "module_address": "module.api",
    "change": {
        "actions": ["create"],
        "after": {"name": "free", "quota_settings": [{"limit": 10, "offset": 9, "period": "WEEK"}]},
        "after_unknown": {"id": True, "quota_settings": [{}]},
    },
}


def test_real_toolchain_plans_get_the_resource_checks_under_their_full_address() -> None:
    # The real provider never runs our resource checks, so the harness runs them on its plan.
    plan = {"resource_changes": [BAD_USAGE_PLAN], "configuration": {}}
    found = check_plan(plan, Context(region="us-east-1"), resource_checks=True)
    assert [(v.rule, v.resource, v.attribute) for v in found] == [
        (
            "apigateway.quota-offset",
            'module.api.aws_api_gateway_usage_plan.this["free"]',
            "quota_settings[0].offset",
        )
    ]
    assert check_plan(plan, Context(region="us-east-1"), resource_checks=False) == []


def test_unknown_values_from_the_plan_are_folded_in_and_never_checked() -> None:
    merged = merge_unknown({"a": None, "b": [{"c": 1}]}, {"a": True, "b": [{"d": True}]})
    assert merged == {"a": UNKNOWN, "b": [{"c": 1, "d": UNKNOWN}]}
    view = PlanView({"resource_changes": [BAD_USAGE_PLAN]})
    assert view.by_type("aws_api_gateway_usage_plan")[0].values["id"] is UNKNOWN


def test_walk_goes_through_blocks_and_map_values() -> None:
    values = {"settings": [{"level": "INFO"}, {"level": None}], "tags": {"a": "1"}}
    assert list(walk(values, "settings.level")) == [("settings[0].level", "INFO")]
    assert list(walk(values, "tags.*")) == [("tags['a']", "1")]
    assert [path for path, _ in blocks(values, "settings")] == ["settings[0]", "settings[1]"]


@pytest.mark.terraform
def test_the_stand_in_points_terraform_at_the_offending_attribute(tf: Workspace) -> None:
    hcl = """
resource "aws_api_gateway_usage_plan" "this" {
  name = "conformance"
  quota_settings {
    limit  = 100
    offset = 9
    period = "WEEK"
  }
}
"""
    error = tf.plan_error(tf.inline(hcl))
    assert 'in resource "aws_api_gateway_usage_plan" "this"' in error
    assert "offset = 9" in error  # Terraform quotes the configuration line of the attribute
    assert f"Source: {RULES['apigateway.quota-offset'].source}" in error
