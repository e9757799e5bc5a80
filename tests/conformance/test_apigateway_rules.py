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
    assert "access logging to CloudWatch Logs is on" in error


FIREHOSE_ACCESS_LOGS = _api().replace(
    '  stage_name    = "prod"\n}',
    """  stage_name    = "prod"
  access_log_settings {
    destination_arn = "arn:aws:firehose:us-east-1:123456789012:deliverystream/amazon-apigateway-access"
    format          = jsonencode({ requestId = "$context.requestId" })
  }
}""",
)


def test_access_logging_to_firehose_plans_on_a_fresh_account(tf: Workspace) -> None:
    # Firehose access logs use API Gateway's service-linked role, not the account setting.
    assert "access_log_settings" in FIREHOSE_ACCESS_LOGS
    assert tf.plan(tf.inline(FIREHOSE_ACCESS_LOGS)).resources


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
    assert "Usage Plan quota offset must be" in error


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


@pytest.mark.parametrize("path", ["/predict/SEND", "/predict", "POST"])
def test_usage_plan_throttle_path_naming_no_method_is_rejected(tf: Workspace, path: str) -> None:
    error = tf.plan_error(tf.inline(_throttled_plan(path)))
    assert "apigateway.usage-plan-throttle-path" in error
    assert "names no HTTP method" in error


# No source shows what AWS makes of a multi-segment key, raw or escaped: neither is rejected.
@pytest.mark.parametrize(
    "path", ["/predict/POST", "//GET", "/predict/{model}/POST", "~1predict~1{model}/POST", "*/*"]
)
def test_usage_plan_throttle_path_ending_in_a_method_plans(tf: Workspace, path: str) -> None:
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


def test_method_requiring_a_key_on_a_stage_without_usage_plan_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_api(key=True)))
    assert "apigateway.api-key-without-usage-plan" in error
    assert "aws_api_gateway_method.predict" in error
    assert "stage 'prod' of its API has no usage plan" in error
    assert "every request would get 403" in error


def test_method_requiring_a_key_on_a_stage_covered_by_usage_plans_elsewhere_plans(tf: Workspace) -> None:
    context = Context(region="us-east-1", apigateway_usage_plans_elsewhere=True)
    assert tf.plan(tf.inline(_api(key=True)), context=context).resources


def test_method_requiring_a_key_with_a_usage_plan_but_no_key_here_plans(tf: Workspace) -> None:
    # Keys can be attached to the plan elsewhere (CreateUsagePlanKey in another stack).
    hcl = _api(key=True, extra=USAGE_PLAN % "aws_api_gateway_stage.prod.stage_name")
    assert tf.plan(tf.inline(hcl)).resources
    assert tf.plan(tf.inline(hcl + KEY)).resources
    assert tf.plan(tf.inline(_api(key=False))).resources


TEST_STAGE = """
resource "aws_api_gateway_stage" "test" {
  rest_api_id   = aws_api_gateway_rest_api.this.id
  deployment_id = aws_api_gateway_deployment.this.id
  stage_name    = "test"
}
"""

OTHER_API = """
resource "aws_api_gateway_rest_api" "other" {
  name = "other"
  body = jsonencode({ openapi = "3.0.1", info = { title = "o", version = "1" }, paths = {} })
}

resource "aws_api_gateway_deployment" "other" {
  rest_api_id = aws_api_gateway_rest_api.other.id
  triggers    = { redeployment = sha1(aws_api_gateway_rest_api.other.body) }
}

resource "aws_api_gateway_stage" "other" {
  rest_api_id   = aws_api_gateway_rest_api.other.id
  deployment_id = aws_api_gateway_deployment.other.id
  stage_name    = "prod"
}

resource "aws_api_gateway_usage_plan" "other" {
  name = "other"
  api_stages {
    api_id = aws_api_gateway_rest_api.other.id
    stage  = aws_api_gateway_stage.other.stage_name
  }
}
"""


def test_a_usage_plan_covers_only_the_api_and_stage_it_names(tf: Workspace) -> None:
    # The API's other stage has no plan: keyed requests there can never pass.
    error = tf.plan_error(
        tf.inline(_api(key=True, extra=USAGE_PLAN % "aws_api_gateway_stage.prod.stage_name" + TEST_STAGE))
    )
    assert "apigateway.api-key-without-usage-plan" in error
    assert "stage 'test' of its API has no usage plan" in error
    # A plan for another API's stage of the same name does not cover this API's stage.
    error = tf.plan_error(tf.inline(_api(key=True, extra=OTHER_API)))
    assert "stage 'prod' of its API has no usage plan" in error


def test_usage_plan_naming_a_new_stage_without_depending_on_it_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_api(extra=USAGE_PLAN % '"prod"')))
    assert "apigateway.usage-plan-after-stage" in error
    assert "Invalid API Stage" in error


# The module's form: api_stages from a dynamic block, whose contents a plan's configuration does
# not show; the stage name and depends_on are what the rule has to go on.
DYNAMIC_USAGE_PLAN = """
resource "aws_api_gateway_usage_plan" "this" {
  name = "conformance"
  dynamic "api_stages" {
    for_each = toset(["prod"])
    content {
      api_id = aws_api_gateway_rest_api.this.id
      stage  = api_stages.value
    }
  }
  %s
}
"""


def test_usage_plan_with_dynamic_api_stages_must_depend_on_the_stage(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_api(extra=DYNAMIC_USAGE_PLAN % "")))
    assert "apigateway.usage-plan-after-stage" in error
    assert "names stage 'prod', which this apply creates" in error
    waits = _api(extra=DYNAMIC_USAGE_PLAN % "depends_on = [aws_api_gateway_stage.prod]")
    assert tf.plan(tf.inline(waits)).resources


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
  triggers    = { redeployment = sha1(aws_api_gateway_rest_api.this.body) }
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
        "arn:aws:apigateway:us-east-1:runtime.sagemaker:action/InvokeEndpoint",
        "arn:aws:apigateway:us-east-1:runtime.sagemaker:path/endpoints/churn_prod/invocations",
        "arn:aws:apigateway:us-east-1:runtime.sagemaker:path/endpoints/churn/invoke",
    ],
)
def test_sagemaker_integration_uri_that_is_no_invoke_endpoint_is_rejected(tf: Workspace, uri: str) -> None:
    error = tf.plan_error(tf.inline(_integration(uri)))
    assert "apigateway.sagemaker-integration-uri" in error


@pytest.mark.parametrize("timeout", [50, 29000, 300000])
def test_sagemaker_integration_with_a_valid_uri_and_timeout_plans(tf: Workspace, timeout: int) -> None:
    assert tf.plan(tf.inline(_integration(GOOD_URI, timeout))).resources


@pytest.mark.parametrize(
    "uri",
    [
        # The endpoint taken from the request: integration.request.path.endpoint.
        "arn:aws:apigateway:us-east-1:runtime.sagemaker:path/endpoints/{endpoint}/invocations",
        # A stage variable ("$$" is HCL's escape of "$").
        "arn:aws:apigateway:us-east-1:runtime.sagemaker:path/endpoints/$${stageVariables.ep}/invocations",
        "arn:aws:apigateway:us-east-1:runtime.sagemaker:path/endpoints/churn/async-invocations",
        "arn:aws:apigateway:us-east-1:runtime.sagemaker:path//endpoints/churn/invocations",
        "arn:aws:apigateway:us-east-1:runtime.sagemaker:path/endpoints/churn/invocations-response-stream",
    ],
)
def test_sagemaker_integration_uri_of_every_runtime_operation_and_mapped_names_plans(
    tf: Workspace, uri: str
) -> None:
    assert tf.plan(tf.inline(_integration(uri))).resources


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
        ("arn:aws:execute-api:us-east-1::abc123/*/*", "matches no 12-digit account id"),
        ("arn:aws:execute-api:us-east-1:1234567890:abc123/*", "matches no 12-digit account id"),
        ("arn:aws:execute-api:us-east-1:123456789012:abc123", "matches no request"),
        ("arn:aws:execute-api::123456789012:abc123/*", "its region is empty"),
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
        # ArnLike: "*" matches across "/", so these match every request of the account or API.
        "arn:aws:execute-api:us-east-1:123456789012:*",
        "arn:aws:execute-api:us-east-1:123456789012:abc123*",
        "arn:aws:execute-api:us-east-1:123456789012:abc123/*/POST/predict*",
    ],
)
def test_lambda_permission_with_an_execute_api_arn_plans(tf: Workspace, source_arn: str) -> None:
    assert tf.plan(tf.inline(_permission(source_arn))).resources
