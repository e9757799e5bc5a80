"""Lambda rules of the conformance layer: each plan of a minimal breaking configuration fails
naming the rule, and the fixed configuration plans."""

from __future__ import annotations

import json

import pytest

from tfharness import Workspace
from tfharness.conformance import PlanView

pytestmark = pytest.mark.terraform

ROLE = "arn:aws:iam::123456789012:role/fn"
POWERTOOLS = "AWSLambdaPowertoolsPythonV3-python313-arm64:27"


def _function(body: str = "", provider_region: str = "us-east-1") -> str:
    return f"""
provider "aws" {{
  region = "{provider_region}"
}}

resource "aws_lambda_function" "this" {{
  function_name = "conformance"
  role          = "{ROLE}"
  handler       = "app.handler"
  runtime       = "python3.13"
  filename      = "fn.zip"
{body}
}}
"""


def _environment(value: str) -> str:
    return f"""
  environment {{
    variables = {{ XY = "{value}" }}
  }}
"""


def _layers(*arns: str) -> str:
    return f"  layers = {json.dumps(list(arns))}\n"


# ---------------------------------------------------------------- lambda.environment-size


# {"XY":"<value>"} is 9 characters around the value (Lambda names have at least two).
def test_environment_above_4_kb_as_lambda_measures_it_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_function(_environment("x" * 4088))))
    assert "lambda.environment-size" in error
    assert "4097 characters" in error
    assert "above its limit of 4 KB" in error


def test_environment_of_exactly_4_kb_plans(tf: Workspace) -> None:
    assert tf.plan(tf.inline(_function(_environment("x" * 4087)))).resources


# ---------------------------------------------------------------- lambda.layer-count


def _us_east_layer(n: int) -> str:
    return f"arn:aws:lambda:us-east-1:123456789012:layer:l{n}:1"


def test_six_layers_are_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_function(_layers(*(_us_east_layer(n) for n in range(6))))))
    assert "lambda.layer-count" in error
    assert "at most 5" in error


def test_five_layers_plan(tf: Workspace) -> None:
    assert tf.plan(tf.inline(_function(_layers(*(_us_east_layer(n) for n in range(5)))))).resources


# ---------------------------------------------------------------- lambda.layer-region


def test_a_layer_from_another_region_is_rejected(tf: Workspace) -> None:
    layer = f"arn:aws:lambda:eu-west-1:017000801446:layer:{POWERTOOLS}"
    error = tf.plan_error(tf.inline(_function(_layers(layer))))
    assert "lambda.layer-region" in error
    assert "is in eu-west-1, but the function is in us-east-1" in error


def test_a_layer_of_the_functions_own_region_plans(tf: Workspace) -> None:
    # The function's own region argument (provider 6) wins over the provider's.
    layer = f"arn:aws:lambda:eu-west-1:017000801446:layer:{POWERTOOLS}"
    assert tf.plan(tf.inline(_function('  region = "eu-west-1"\n' + _layers(layer)))).resources


# ---------------------------------------------------------------- lambda.powertools-layer-account


def test_the_commercial_powertools_account_in_govcloud_is_rejected(tf: Workspace) -> None:
    # The defect: one account per partition. GovCloud has one per region.
    layer = f"arn:aws-us-gov:lambda:us-gov-west-1:017000801446:layer:{POWERTOOLS}"
    error = tf.plan_error(tf.inline(_function(_layers(layer), provider_region="us-gov-west-1")))
    assert "lambda.powertools-layer-account" in error
    assert "in us-gov-west-1 from account 165093116878, not 017000801446" in error


def test_a_region_without_a_powertools_layer_is_rejected(tf: Workspace) -> None:
    layer = f"arn:aws-cn:lambda:cn-northwest-1:498634801083:layer:{POWERTOOLS}"
    error = tf.plan_error(tf.inline(_function(_layers(layer), provider_region="cn-northwest-1")))
    assert "lambda.powertools-layer-account" in error
    assert "publishes no layer in cn-northwest-1" in error


@pytest.mark.parametrize(
    ("region", "layer"),
    [
        ("us-gov-west-1", f"arn:aws-us-gov:lambda:us-gov-west-1:165093116878:layer:{POWERTOOLS}"),
        ("us-gov-east-1", f"arn:aws-us-gov:lambda:us-gov-east-1:165087284144:layer:{POWERTOOLS}"),
        ("cn-north-1", f"arn:aws-cn:lambda:cn-north-1:498634801083:layer:{POWERTOOLS}"),
        ("us-east-1", f"arn:aws:lambda:us-east-1:017000801446:layer:{POWERTOOLS}"),
        # A copy in the user's own account is not Powertools' to judge.
        ("us-gov-west-1", f"arn:aws-us-gov:lambda:us-gov-west-1:123456789012:layer:{POWERTOOLS}"),
    ],
)
def test_the_published_powertools_accounts_plan(tf: Workspace, region: str, layer: str) -> None:
    assert tf.plan(tf.inline(_function(_layers(layer), provider_region=region))).resources


# ---------------------------------------------------------------- lambda.log-level-needs-json


def _logging(log_format: str) -> str:
    return f"""
  logging_config {{
    log_format            = "{log_format}"
    application_log_level = "INFO"
  }}
"""


def test_a_log_level_with_text_logs_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_function(_logging("Text"))))
    assert "lambda.log-level-needs-json" in error
    assert "application_log_level INFO needs log_format JSON" in error


def test_a_log_level_with_json_logs_plans(tf: Workspace) -> None:
    assert tf.plan(tf.inline(_function(_logging("JSON")))).resources


# ---------------------------------------------------------------- lambda.timeout-max, memory-max


def test_a_timeout_above_15_minutes_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_function("  timeout = 901\n")))
    assert "lambda.timeout-max" in error
    assert "above Lambda's 900 s" in error


def test_a_timeout_of_15_minutes_plans(tf: Workspace) -> None:
    assert tf.plan(tf.inline(_function("  timeout = 900\n"))).resources


def test_memory_above_10240_mb_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_function("  memory_size = 10241\n")))
    assert "lambda.memory-max" in error
    assert "above Lambda's 10240 MB" in error


def test_memory_of_10240_mb_plans(tf: Workspace) -> None:
    assert tf.plan(tf.inline(_function("  memory_size = 10240\n"))).resources


# ---------------------------------------------------------------- lambda.role-trusts-lambda


def _with_role(service: str, action: str = "sts:AssumeRole") -> str:
    return f"""
resource "aws_iam_role" "fn" {{
  name = "conformance-fn"
  assume_role_policy = jsonencode({{
    Version = "2012-10-17"
    Statement = [{{
      Effect    = "Allow"
      Action    = "{action}"
      Principal = {{ Service = "{service}" }}
    }}]
  }})
}}

resource "aws_lambda_function" "this" {{
  function_name = "conformance"
  role          = aws_iam_role.fn.arn
  handler       = "app.handler"
  runtime       = "python3.13"
  filename      = "fn.zip"
}}
"""


def test_a_role_lambda_cannot_assume_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_with_role("ec2.amazonaws.com")))
    assert "lambda.role-trusts-lambda" in error
    assert "does not trust lambda.amazonaws.com" in error


@pytest.mark.parametrize("action", ["sts:AssumeRole", "sts:assumerole", "sts:Assume*", "*"])
def test_a_role_that_trusts_lambda_plans(tf: Workspace, action: str) -> None:
    # IAM action names are case-insensitive and take wildcards.
    assert tf.plan(tf.inline(_with_role("lambda.amazonaws.com", action))).resources


def test_the_rule_sees_the_role_of_the_projects_functions(tf: Workspace) -> None:
    # modules/lambda-function names its role directly, so the rule can read the trust policy.
    plan = tf.plan("modules/lambda-function", {"name": "churn-predict", "handler": "mlgw.handlers.predict.h"})
    view = PlanView(plan.raw._raw)
    function = view.by_type("aws_lambda_function")[0]
    assert [role.address for role in view.referenced(function, "role")] == ["aws_iam_role.this[0]"]
