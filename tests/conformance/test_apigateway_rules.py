"""API Gateway rules of the conformance layer: each plan of a minimal breaking configuration
fails naming the rule, and the fixed configuration plans."""

from __future__ import annotations

import pytest

from tfharness import Workspace
from tfharness.conformance import Context

pytestmark = pytest.mark.terraform

ROLE_ACCOUNT = Context(region="us-east-1", apigateway_cloudwatch_role_set=True)

API = """
resource "aws_api_gateway_rest_api" "this" {
  name = "conformance"
}
"""

# A whole small API: a POST /predict method with a MOCK integration, deployed to a stage.
METHOD = (
    API
    + """
resource "aws_api_gateway_resource" "predict" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  parent_id   = aws_api_gateway_rest_api.this.root_resource_id
  path_part   = "predict"
}

resource "aws_api_gateway_method" "predict" {
  rest_api_id      = aws_api_gateway_rest_api.this.id
  resource_id      = aws_api_gateway_resource.predict.id
  http_method      = "POST"
  authorization    = "NONE"
  api_key_required = %(key)s
}

resource "aws_api_gateway_integration" "predict" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  resource_id = aws_api_gateway_resource.predict.id
  http_method = aws_api_gateway_method.predict.http_method
  type        = "MOCK"
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  %(deployment)s
}

resource "aws_api_gateway_stage" "prod" {
  rest_api_id   = aws_api_gateway_rest_api.this.id
  deployment_id = aws_api_gateway_deployment.this.id
  stage_name    = "prod"
}
"""
)
WAITS = "depends_on = [aws_api_gateway_integration.predict]"


def _api(key: bool = False, deployment: str = WAITS, extra: str = "") -> str:
    return METHOD % {"key": "true" if key else "false", "deployment": deployment} + extra


# --------------------------------------------------------------------- integration role trust


def _sagemaker_route(condition: str) -> str:
    return (
        API
        + f"""
data "aws_iam_policy_document" "assume" {{
  statement {{
    actions = ["sts:AssumeRole"]
    principals {{
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }}
    {condition}
  }}
}}

resource "aws_iam_role" "sagemaker" {{
  name               = "conformance-sagemaker"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}}

resource "aws_api_gateway_method" "score" {{
  rest_api_id   = aws_api_gateway_rest_api.this.id
  resource_id   = aws_api_gateway_rest_api.this.root_resource_id
  http_method   = "POST"
  authorization = "NONE"
}}

resource "aws_api_gateway_integration" "score" {{
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_rest_api.this.root_resource_id
  http_method             = aws_api_gateway_method.score.http_method
  type                    = "AWS"
  integration_http_method = "POST"
  uri                     = "arn:aws:apigateway:us-east-1:runtime.sagemaker:path/endpoints/churn/invocations"
  credentials             = aws_iam_role.sagemaker.arn
}}
"""
    )


SOURCE_ACCOUNT = """condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = ["123456789012"]
    }"""


def test_integration_role_trust_with_source_account_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_sagemaker_route(SOURCE_ACCOUNT)))
    assert "apigateway.integration-role-trust" in error
    assert "aws_iam_role.sagemaker" in error
    assert "does not set for integration credentials" in error


def test_integration_role_trust_without_condition_plans(tf: Workspace) -> None:
    assert tf.plan(tf.inline(_sagemaker_route(""))).resources


def test_source_account_on_a_role_no_integration_uses_is_not_this_rules_business(tf: Workspace) -> None:
    # The same trust on a role that is not integration credentials (the account's CloudWatch
    # role, say) is not what the evidence covers: the rule stays silent.
    hcl = _sagemaker_route(SOURCE_ACCOUNT).replace("credentials             = aws_iam_role.sagemaker.arn", "")
    assert tf.plan(tf.inline(hcl)).resources


# --------------------------------------------------------------------- method settings


def _method_settings(method_path: str, level: str = "OFF") -> str:
    return (
        API
        + f"""
resource "aws_api_gateway_method_settings" "this" {{
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = "prod"
  method_path = "{method_path}"
  settings {{
    metrics_enabled = true
    logging_level   = "{level}"
  }}
}}
"""
    )


@pytest.mark.parametrize("path", ["predict/{model}/GET", "{proxy+}/ANY/", "/GET"])
def test_method_path_with_an_unescaped_nested_path_is_rejected(tf: Workspace, path: str) -> None:
    error = tf.plan_error(tf.inline(_method_settings(path)))
    assert "apigateway.method-settings-path" in error
    assert "escaped as '~1'" in error


@pytest.mark.parametrize("path", ["~1predict~1{model}/GET", "*/*", "~1predict/POST", "~1/GET"])
def test_method_path_escaped_or_wildcard_plans(tf: Workspace, path: str) -> None:
    assert tf.plan(tf.inline(_method_settings(path))).resources


def test_method_settings_logging_level_outside_the_providers_values_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_method_settings("*/*", "DEBUG")), context=ROLE_ACCOUNT)
    assert "apigateway.method-settings-logging-level" in error
    assert "must be OFF, ERROR or INFO" in error


# --------------------------------------------------------------------- logging and the account role

LOGGING = (
    API
    + """
resource "aws_api_gateway_method_settings" "all" {
  rest_api_id = aws_api_gateway_rest_api.this.id
  stage_name  = "prod"
  method_path = "*/*"
  settings {
    logging_level = "ERROR"
  }
}
"""
)

ACCESS_LOGS = _api(
    extra="""
resource "aws_cloudwatch_log_group" "access" {
  name = "/aws/apigateway/conformance/prod"
}
"""
).replace(
    '  stage_name    = "prod"\n}',
    """  stage_name    = "prod"
  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.access.arn
    format          = jsonencode({ requestId = "$context.requestId" })
  }
}""",
)


def test_execution_logging_on_a_fresh_account_needs_the_account_role(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(LOGGING))
    assert "apigateway.logging-needs-account-role" in error
    assert "execution logging is on" in error
    assert "CloudWatch Logs role ARN must be set in account settings" in error


def test_access_logging_on_a_fresh_account_needs_the_account_role_too(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(ACCESS_LOGS))
    assert "apigateway.logging-needs-account-role" in error
    assert "access logging is on" in error


def test_execution_logging_plans_where_the_account_has_the_role(tf: Workspace) -> None:
    assert tf.plan(tf.inline(LOGGING), context=ROLE_ACCOUNT).resources
    assert tf.plan(tf.inline(ACCESS_LOGS), context=ROLE_ACCOUNT).resources


def test_execution_logging_plans_with_the_account_setting_in_the_same_plan(tf: Workspace) -> None:
    hcl = (
        LOGGING
        + """
resource "aws_api_gateway_account" "this" {
  cloudwatch_role_arn = "arn:aws:iam::123456789012:role/apigateway-cloudwatch"
}
"""
    )
    assert tf.plan(tf.inline(hcl)).resources


# --------------------------------------------------------------------- usage plans and keys


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


def _throttled_plan(path: str, plan_throttle: bool = True) -> str:
    throttle = "throttle_settings {\n    rate_limit  = 10\n    burst_limit = 20\n  }" if plan_throttle else ""
    return _api(
        extra=f"""
resource "aws_api_gateway_usage_plan" "this" {{
  name = "conformance"
  {throttle}
  api_stages {{
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.prod.stage_name
    throttle {{
      path        = "{path}"
      rate_limit  = 2
      burst_limit = 4
    }}
  }}
}}
"""
    )


@pytest.mark.parametrize("path", ["~1predict/POST", "predict/POST", "/predict/SEND", "*/*"])
def test_usage_plan_throttle_path_not_shaped_as_aws_keys_it_is_rejected(tf: Workspace, path: str) -> None:
    error = tf.plan_error(tf.inline(_throttled_plan(path)))
    assert "apigateway.usage-plan-throttle-path" in error
    assert "not escaped with '~1'" in error


@pytest.mark.parametrize("path", ["/predict/POST", "/predict/{model}/POST", "//GET"])
def test_usage_plan_throttle_path_as_aws_keys_it_plans(tf: Workspace, path: str) -> None:
    assert tf.plan(tf.inline(_throttled_plan(path))).resources


def test_usage_plan_method_throttle_without_plan_throttle_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_throttled_plan("/predict/POST", plan_throttle=False)))
    assert "apigateway.usage-plan-method-throttle-needs-plan-throttle" in error
    assert "Can not define fine grain throttling" in error


USAGE_PLAN = """
resource "aws_api_gateway_usage_plan" "this" {
  name = "conformance"
  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = %s
  }
}
"""
KEY = """
resource "aws_api_gateway_api_key" "this" {
  name = "conformance"
}

resource "aws_api_gateway_usage_plan_key" "this" {
  key_id        = aws_api_gateway_api_key.this.id
  key_type      = "API_KEY"
  usage_plan_id = aws_api_gateway_usage_plan.this.id
}
"""


def test_method_requiring_a_key_without_usage_plan_or_key_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_api(key=True)))
    assert "apigateway.api-key-without-usage-plan" in error
    assert "aws_api_gateway_method.predict" in error
    assert "every request would get 403" in error
    without_key = tf.plan_error(
        tf.inline(_api(key=True, extra=USAGE_PLAN % "aws_api_gateway_stage.prod.stage_name"))
    )
    assert "no API key attached to a usage plan" in without_key


def test_method_requiring_a_key_with_a_plan_and_key_plans(tf: Workspace) -> None:
    hcl = _api(key=True, extra=USAGE_PLAN % "aws_api_gateway_stage.prod.stage_name" + KEY)
    assert tf.plan(tf.inline(hcl)).resources
    assert tf.plan(tf.inline(_api(key=False))).resources


def test_usage_plan_naming_a_new_stage_without_depending_on_it_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_api(extra=USAGE_PLAN % '"prod"')))
    assert "apigateway.usage-plan-after-stage" in error
    assert "Invalid API Stage" in error


# --------------------------------------------------------------------- deployments and integrations


def test_deployment_that_does_not_wait_for_the_methods_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_api(deployment="")))
    assert "apigateway.deployment-after-methods" in error
    assert "doesn't contain any methods" in error


def test_deployment_of_an_api_without_methods_is_rejected(tf: Workspace) -> None:
    hcl = (
        API
        + """
resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
}
"""
    )
    error = tf.plan_error(tf.inline(hcl))
    assert "apigateway.deployment-after-methods" in error
    assert "has no methods in this plan" in error


def test_deployment_of_an_openapi_body_plans_without_method_resources(tf: Workspace) -> None:
    hcl = """
resource "aws_api_gateway_rest_api" "this" {
  name = "conformance"
  body = jsonencode({ openapi = "3.0.1", info = { title = "c", version = "1" }, paths = {} })
}

resource "aws_api_gateway_deployment" "this" {
  rest_api_id = aws_api_gateway_rest_api.this.id
}
"""
    assert tf.plan(tf.inline(hcl)).resources


def _integration(uri: str, timeout: int = 29000) -> str:
    return (
        API
        + f"""
resource "aws_api_gateway_integration" "this" {{
  rest_api_id             = aws_api_gateway_rest_api.this.id
  resource_id             = aws_api_gateway_rest_api.this.root_resource_id
  http_method             = "POST"
  type                    = "AWS"
  integration_http_method = "POST"
  uri                     = "{uri}"
  timeout_milliseconds    = {timeout}
}}
"""
    )


GOOD_URI = "arn:aws:apigateway:us-east-1:runtime.sagemaker:path/endpoints/Churn-Prod/invocations"


@pytest.mark.parametrize("timeout", [49, 300001])
def test_integration_timeout_outside_the_providers_range_is_rejected(tf: Workspace, timeout: int) -> None:
    error = tf.plan_error(tf.inline(_integration(GOOD_URI, timeout)))
    assert "apigateway.integration-timeout" in error
    assert "outside the 50 to 300000 ms" in error


@pytest.mark.parametrize(
    "uri",
    [
        "arn:aws:apigateway:us-east-1:runtime.sagemaker:path//endpoints/churn/invocations",
        "arn:aws:apigateway:us-east-1:runtime.sagemaker:action/InvokeEndpoint",
        "arn:aws:apigateway:us-east-1:runtime.sagemaker:path/endpoints/churn_prod/invocations",
    ],
)
def test_sagemaker_integration_uri_that_is_no_invoke_endpoint_is_rejected(tf: Workspace, uri: str) -> None:
    error = tf.plan_error(tf.inline(_integration(uri)))
    assert "apigateway.sagemaker-integration-uri" in error


@pytest.mark.parametrize("timeout", [50, 29000, 300000])
def test_sagemaker_integration_with_a_valid_uri_and_timeout_plans(tf: Workspace, timeout: int) -> None:
    assert tf.plan(tf.inline(_integration(GOOD_URI, timeout))).resources


# --------------------------------------------------------------------- Lambda permissions


def _permission(source_arn: str) -> str:
    return f"""
resource "aws_lambda_permission" "this" {{
  statement_id  = "conformance"
  action        = "lambda:InvokeFunction"
  function_name = "churn-predict"
  principal     = "apigateway.amazonaws.com"
  source_arn    = "{source_arn}"
}}
"""


@pytest.mark.parametrize(
    ("source_arn", "problem"),
    [
        ("arn:aws:execute-api:us-east-1::abc123/*/*", "not a 12-digit account id"),
        ("arn:aws:execute-api:us-east-1:123456789012:abc123", "matches no request"),
        ("arn:aws:apigateway:us-east-1::/restapis/abc123", "not an execute-api ARN"),
    ],
)
def test_lambda_permission_source_arn_api_gateway_never_sends_is_rejected(
    tf: Workspace, source_arn: str, problem: str
) -> None:
    error = tf.plan_error(tf.inline(_permission(source_arn)))
    assert "apigateway.lambda-permission-source-arn" in error
    assert problem in error


@pytest.mark.parametrize(
    "source_arn",
    [
        "arn:aws:execute-api:us-east-1:123456789012:abc123/prod/POST/predict",
        "arn:aws:execute-api:us-east-1:123456789012:abc123/*/*/*",
        "arn:aws:execute-api:us-east-1:123456789012:abc123/authorizers/xyz",
    ],
)
def test_lambda_permission_with_an_execute_api_arn_plans(tf: Workspace, source_arn: str) -> None:
    assert tf.plan(tf.inline(_permission(source_arn))).resources
