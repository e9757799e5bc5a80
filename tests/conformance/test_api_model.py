"""The API-model checks: a planned value that breaks its API parameter's shape in botocore's
service model (enum, whole-value pattern, length, range) fails the plan, naming the parameter;
the valid form plans clean. Then ``check_value`` itself, on real botocore shapes."""

from __future__ import annotations

import pytest

from tfharness import Workspace
from tfharness.conformance import UNKNOWN, api_model
from tfharness.conformance.api_model import Mapping, check_value

ROLE_ARN = "arn:aws:iam::123456789012:role/conformance"
TRAFFIC_ROUTING_TYPE = "DeploymentConfig.BlueGreenUpdatePolicy.TrafficRoutingConfiguration.Type"
TRUST = (
    'jsonencode({ Version = "2012-10-17", Statement = [{ Effect = "Allow", Action = "sts:AssumeRole",'
    ' Principal = { Service = "lambda.amazonaws.com" } }] })'
)


def _endpoint(name: str, routing: str = "ALL_AT_ONCE") -> str:
    return f"""
resource "aws_sagemaker_endpoint" "this" {{
  name                 = "{name}"
  endpoint_config_name = "conformance-config"

  deployment_config {{
    blue_green_update_policy {{
      traffic_routing_configuration {{
        type                     = "{routing}"
        wait_interval_in_seconds = 60
      }}
    }}
  }}
}}
"""


def _role(name: str) -> str:
    return f"""
resource "aws_iam_role" "this" {{
  name               = "{name}"
  assume_role_policy = {TRUST}
}}
"""


def _function(name: str) -> str:
    return f"""
resource "aws_lambda_function" "this" {{
  function_name = "{name}"
  role          = "{ROLE_ARN}"
  handler       = "app.handler"
  runtime       = "python3.13"
  filename      = "function.zip"
}}
"""


def _stage(cache_size: str) -> str:
    return f"""
resource "aws_api_gateway_stage" "this" {{
  rest_api_id           = "a1b2c3d4e5"
  deployment_id         = "dep123"
  stage_name            = "prod"
  cache_cluster_enabled = true
  cache_cluster_size    = "{cache_size}"
}}
"""


def _usage_plan(period: str) -> str:
    return f"""
resource "aws_api_gateway_usage_plan" "this" {{
  name = "conformance"
  quota_settings {{
    limit  = 100
    period = "{period}"
  }}
}}
"""


def _permission(statement_id: str) -> str:
    return f"""
resource "aws_lambda_permission" "this" {{
  statement_id  = "{statement_id}"
  action        = "lambda:InvokeFunction"
  function_name = "conformance"
  principal     = "apigateway.amazonaws.com"
  source_arn    = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/*/POST/predict"
}}
"""


@pytest.mark.terraform
@pytest.mark.parametrize(
    ("hcl", "parameter", "problem"),
    [
        pytest.param(
            _endpoint("e" * 64), "sagemaker:CreateEndpoint EndpointName", "longer than 63", id="endpoint-64"
        ),
        pytest.param(
            _endpoint("churn_prod"),
            "sagemaker:CreateEndpoint EndpointName",
            "does not match the pattern",
            id="endpoint-underscore",
        ),
        pytest.param(_role("r" * 65), "iam:CreateRole RoleName", "longer than 64", id="role-65"),
        pytest.param(
            _function("churn predict"),
            "lambda:CreateFunction FunctionName",
            "does not match the pattern",
            id="function-space",
        ),
        pytest.param(
            _stage("2.0"),
            "apigateway:CreateStage cacheClusterSize",
            "must be one of 0.5, 1.6",
            id="cache-size",
        ),
        pytest.param(
            _usage_plan("YEAR"),
            "apigateway:CreateUsagePlan quota.period",
            "must be one of DAY, WEEK, MONTH",
            id="quota-year",
        ),
        pytest.param(
            _permission("s" * 101),
            "lambda:AddPermission StatementId",
            "longer than 100",
            id="statement-id-101",
        ),
        pytest.param(
            _endpoint("churn-prod", routing="GRADUAL"),
            "sagemaker:CreateEndpoint " + TRAFFIC_ROUTING_TYPE,
            "must be one of ALL_AT_ONCE, CANARY, LINEAR",
            id="traffic-routing",
        ),
    ],
)
def test_a_value_outside_its_api_parameter_shape_fails_the_plan(
    tf: Workspace, hcl: str, parameter: str, problem: str
) -> None:
    error = tf.plan_error(tf.inline(hcl))
    assert f"api-model {parameter}" in error
    assert problem in error


@pytest.mark.terraform
def test_the_valid_forms_plan_clean(tf: Workspace) -> None:
    hcl = "\n".join(
        [
            _endpoint("e" * 63, routing="LINEAR").replace('"this"', '"longest"'),
            _endpoint("churn-prod", routing="CANARY"),
            _role("r" * 64),
            _function("churn-predict"),
            _stage("0.5"),
            _usage_plan("MONTH"),
            _permission("s" * 100),
        ]
    )
    assert len(tf.plan(tf.inline(hcl)).resources) == 7


def _shape(service: str, operation: str, member: str) -> object:
    return api_model.resolve(Mapping("test", "test", service, operation, member))


def test_logs_retention_and_sqs_queue_names_carry_no_constraint_in_the_model() -> None:
    # Both are constrained by AWS (a fixed set of retention days; 80 characters of letters,
    # digits, hyphens and underscores for a queue name) but botocore does not model it, so
    # the API-model check cannot see it; such limits belong in service rules.
    for shape in (
        _shape("logs", "PutRetentionPolicy", "retentionInDays"),
        _shape("sqs", "CreateQueue", "QueueName"),
    ):
        assert not shape.metadata
        assert not getattr(shape, "enum", None)


def test_check_value_lists_count_and_check_each_element() -> None:
    architectures = _shape("lambda", "CreateFunction", "Architectures")
    assert check_value(["arm64"], architectures) == []
    assert check_value([], architectures) == ["has 0 items, fewer than 1"]
    assert check_value(["x86_64", "arm64"], architectures) == ["has 2 items, more than 1"]
    assert check_value(["sparc"], architectures) == ["[0] 'sparc' must be one of x86_64, arm64"]
    # A Terraform set whose every element is sent as one such parameter.
    role_name = _shape("iam", "AttachRolePolicy", "RoleName")
    assert check_value(["ok", "not ok"], role_name) == [
        "[1] 'not ok' does not match the pattern [\\w+=,.@-]+"
    ]
    assert check_value(["ok", UNKNOWN], role_name) == []


def test_check_value_maps_check_count_keys_and_values() -> None:
    tags = _shape("logs", "CreateLogGroup", "tags")
    assert check_value({"team": "ml"}, tags) == []
    assert check_value({f"k{i}": "v" for i in range(51)}, tags) == ["has 51 entries, more than 50"]
    assert check_value({"bad!": "v"}, tags) == [
        "key 'bad!' does not match the pattern ^([\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+)$"
    ]
    assert check_value({"team": "x" * 257}, tags)[0].startswith("['team'] 'xxx")
    assert "longer than 256 characters (257)" in check_value({"team": "x" * 257}, tags)[0]


def test_check_value_sends_a_map_as_name_value_pairs_where_the_api_takes_a_list() -> None:
    iam_tags = _shape("iam", "CreateRole", "Tags")
    assert check_value({"team": "ml", "cost-centre": "42"}, iam_tags) == []
    assert check_value({f"k{i}": "v" for i in range(51)}, iam_tags) == ["has 51 entries, more than 50"]
    assert check_value({"k": "v" * 257}, iam_tags) == [
        f"['k'] '{'v' * 76}... is longer than 256 characters (257)"
    ]
    assert check_value({"ok": "é ü"}, iam_tags) == []  # \p{L} is Unicode in Java too


def test_check_value_ranges_and_whole_numbers() -> None:
    memory = _shape("lambda", "CreateFunction", "MemorySize")
    assert check_value(128, memory) == []
    assert check_value(64, memory) == ["64 is below the minimum 128"]
    assert check_value(40000, memory) == ["40000 is above the maximum 32768"]
    assert check_value(256.5, memory) == ["256.5 must be a whole number"]
    assert check_value(256.0, memory) == []
    assert check_value(UNKNOWN, memory) == []


def test_check_value_matches_patterns_against_the_whole_value() -> None:
    statement_id = _shape("lambda", "AddPermission", "StatementId")
    assert check_value("AllowApiGateway", statement_id) == []
    # The pattern matches a prefix of this value, but AWS requires the whole value to match.
    assert check_value("Allow ApiGateway", statement_id) == [
        "'Allow ApiGateway' does not match the pattern ([a-zA-Z0-9-_]+)"
    ]


def test_check_value_reads_java_surrogate_pairs_as_supplementary_characters() -> None:
    resource_id = _shape("application-autoscaling", "PutScalingPolicy", "ResourceId")
    assert check_value("endpoint/churn-prod/variant/AllTraffic 😀", resource_id) == []
    assert check_value("endpoint/\x01", resource_id) != []


def test_check_resource_skips_what_the_provider_does_not_send() -> None:
    def problems(values: dict[str, object]) -> list[str]:
        return [v.message for v in api_model.check_resource("aws_lambda_function", values)]

    # -1 means no reserved concurrency: the provider makes no PutFunctionConcurrency call.
    assert problems({"reserved_concurrent_executions": -1}) == []
    assert problems({"reserved_concurrent_executions": -2}) == [
        "-2 is below the minimum 0: AWS rejects it as PutFunctionConcurrency's ReservedConcurrentExecutions"
    ]
    # Zero values are unset to the provider, which sends nothing.
    assert problems({"description": "", "timeout": 0, "layers": [], "tags": {}}) == []
    assert problems({"timeout": 5401}) == [
        "5401 is above the maximum 5400: AWS rejects it as CreateFunction's Timeout"
    ]
