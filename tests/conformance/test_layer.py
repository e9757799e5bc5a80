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


def _provider_plan(region: object, variables: dict[str, object] | None = None) -> dict[str, object]:
    return {
        "variables": variables or {},
        "configuration": {"provider_config": {"aws": {"name": "aws", "expressions": {"region": region}}}},
        "resource_changes": [
            {
                **BAD_USAGE_PLAN,
                "type": "aws_lambda_function",
                "address": "aws_lambda_function.this",
                "module_address": "",
                "change": {
                    "actions": ["create"],
                    "after": {
                        "function_name": "fn",
                        "filename": "fn.zip",
                        "layers": ["arn:aws-us-gov:lambda:us-gov-west-1:123456789012:layer:x:1"],
                    },
                    "after_unknown": {},
                },
            }
        ],
    }


@pytest.mark.parametrize(
    "plan",
    [
        _provider_plan({"constant_value": "us-gov-west-1"}),
        _provider_plan({"references": ["var.region"]}, {"region": {"value": "us-gov-west-1"}}),
    ],
)
def test_a_real_plan_is_checked_in_the_region_its_provider_names(plan: dict[str, object]) -> None:
    # The harness's own region (us-east-1) must not stand in for the plan's: a GovCloud layer
    # in a GovCloud plan is fine.
    assert check_plan(plan, Context(region="us-east-1"), resource_checks=True) == []
    view = PlanView(plan)
    assert view.region == "us-gov-west-1"


def test_a_real_plan_in_another_region_still_gets_the_region_rules() -> None:
    plan = _provider_plan({"constant_value": "eu-west-1"})
    found = check_plan(plan, Context(region="us-east-1"), resource_checks=True)
    assert [v.rule for v in found] == ["lambda.layer-region"]
