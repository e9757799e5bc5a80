"""The provider's argument rules (arguments.toml): a minimal configuration breaking each kind of
rule fails the plan with the rule's message, and the valid form plans clean."""

from __future__ import annotations

import json

import pytest

from tfharness import Workspace
from tfharness.conformance import arguments
from tfharness.providers.plugin import SCHEMA_DIR

ROLE_ARN = "arn:aws:iam::123456789012:role/conformance"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1"
TRUST = (
    'jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sts:AssumeRole",'
    ' Principal = { Service = "lambda.amazonaws.com" } }] })'
)


def _function(code: str) -> str:
    return f"""
resource "aws_lambda_function" "this" {{
  function_name = "conformance"
  role          = "{ROLE_ARN}"
  handler       = "app.handler"
  runtime       = "python3.13"
{code}
}}
"""


def _role(naming: str) -> str:
    return f"""
resource "aws_iam_role" "this" {{
{naming}
  assume_role_policy = {TRUST}
}}
"""


def _usage_plan(throttle: str) -> str:
    return f"""
resource "aws_api_gateway_usage_plan" "this" {{
  name = "conformance"
  throttle_settings {{
{throttle}
  }}
}}
"""


def _rule(trigger: str) -> str:
    return f"""
resource "aws_cloudwatch_event_rule" "this" {{
  name = "conformance"
{trigger}
}}
"""


BROKEN = [
    pytest.param(
        _role('  name        = "conformance"\n  name_prefix = "conf-"'),
        "conflicts_with",
        "name and name_prefix conflict: set at most one of name, name_prefix",
        id="conflicts_with",
    ),
    pytest.param(
        _function(f'  filename  = "function.zip"\n  image_uri = "{IMAGE}"'),
        "exactly_one_of",
        "exactly one of filename, image_uri, s3_bucket must be set, found 2",
        id="exactly_one_of-two",
    ),
    pytest.param(
        _function(""),
        "exactly_one_of",
        "exactly one of filename, image_uri, s3_bucket must be set, found 0",
        id="exactly_one_of-none",
    ),
    pytest.param(
        _usage_plan(""),
        "at_least_one_of",
        "at least one of burst_limit, rate_limit must be set",
        id="at_least_one_of-block",
    ),
    pytest.param(
        _rule(""),
        "at_least_one_of",
        "at least one of schedule_expression, event_pattern must be set",
        id="at_least_one_of",
    ),
    pytest.param(
        _function('  filename = "function.zip"\n  s3_key   = "function.zip"'),
        "required_with",
        "s3_key need(s) s3_bucket set as well",
        id="required_with",
    ),
]


@pytest.mark.terraform
@pytest.mark.parametrize(("hcl", "kind", "message"), BROKEN)
def test_a_configuration_breaking_an_argument_rule_fails_the_plan(
    tf: Workspace, hcl: str, kind: str, message: str
) -> None:
    error = tf.plan_error(tf.inline(hcl))
    assert f"provider-arguments {kind}" in error
    assert message in error


@pytest.mark.terraform
def test_the_valid_forms_plan_clean(tf: Workspace) -> None:
    hcl = "\n".join(
        [
            _role('  name = "conformance"'),
            _function('  s3_bucket = "artifacts"\n  s3_key    = "function.zip"'),
            _usage_plan("    rate_limit = 10"),
            _rule('  schedule_expression = "rate(5 minutes)"'),
        ]
    )
    assert len(tf.plan(tf.inline(hcl)).resources) == 4


def test_every_rule_names_arguments_the_schema_has() -> None:
    schemas = json.loads((SCHEMA_DIR / "aws.json").read_text(encoding="utf-8"))["resource_schemas"]
    unknown = []
    for type_name, rules in arguments.load_rules().items():
        for rule in rules:
            block = schemas[type_name]["block"]
            for step in filter(None, rule.block.split(".")):
                block = block["block_types"][step]["block"]
            names = set(block.get("attributes", {})) | set(block.get("block_types", {}))
            unknown += [f"{type_name}: {n}" for n in (*rule.attributes, *rule.requires) if n not in names]
    assert not unknown, f"arguments.toml names arguments the schema does not have: {unknown}"


ZERO_THROTTLE = """
resource "aws_api_gateway_usage_plan" "this" {
  name = "conformance"
  throttle_settings {
    burst_limit = 0
    rate_limit  = 0
  }
}
"""


def test_a_zero_written_in_the_configuration_counts_as_set(tf: Workspace) -> None:
    # throttle_settings declares AtLeastOneOf(burst_limit, rate_limit): a throttle of 0 is a
    # value the user wrote, and the provider accepts it.
    assert tf.plan(tf.inline(ZERO_THROTTLE)).resources


def test_an_explicit_false_in_the_configuration_still_conflicts() -> None:
    values = {"name": "q", "sqs_managed_sse_enabled": False, "kms_master_key_id": "alias/q"}
    found = arguments.check_resource("aws_sqs_queue", values)
    assert [v.rule for v in found] == ["provider-arguments conflicts_with"]


def test_values_a_real_plan_read_back_from_state_do_not_conflict() -> None:
    # An update plan of the real provider carries name_prefix = "" next to the name it set.
    values = {"name": "churn-predict", "name_prefix": "", "assume_role_policy": "{}"}
    assert arguments.check_resource("aws_iam_role", values, from_state=True) == []
    assert [v.rule for v in arguments.check_resource("aws_iam_role", values)] == [
        "provider-arguments conflicts_with"
    ]
