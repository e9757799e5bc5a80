"""Plan checks of modules/lambda-function: the values the module sets, not provider defaults."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from typing import Any

import pytest

from tfharness import Workspace

pytestmark = pytest.mark.terraform

MODULE = "modules/lambda-function"
ACCOUNT = "123456789012"
BASE = {"name": "churn-predict", "handler": "mlgw.handlers.predict.lambda_handler"}


def _policy(plan_resources: dict[str, Any]) -> dict[str, Any]:
    return json.loads(plan_resources["aws_iam_role_policy.this[0]"]["policy"])


def _statements(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Statement"]}


def test_defaults(tf: Workspace) -> None:
    plan = tf.plan(MODULE, {**BASE, "environment": {"MODELS": "{}"}})
    fn = plan.resource("aws_lambda_function.this")
    assert fn["function_name"] == "churn-predict"
    assert fn["runtime"] == "python3.13"
    assert fn["architectures"] == ["arm64"]
    assert fn["handler"] == "mlgw.handlers.predict.lambda_handler"
    assert fn["memory_size"] == 256
    assert fn["timeout"] == 30
    assert fn["layers"] == [
        "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
    ]
    assert fn["environment"][0]["variables"] == {
        "MODELS": "{}",
        "POWERTOOLS_SERVICE_NAME": "churn-predict",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "TRACING_ENABLED": "false",
    }
    assert fn["logging_config"][0]["log_group"] == "/aws/lambda/churn-predict"
    assert fn["logging_config"][0]["log_format"] == "JSON"
    assert fn["tracing_config"] == [{"mode": "PassThrough"}]

    log_group = plan.resource("aws_cloudwatch_log_group.this")
    assert log_group["name"] == "/aws/lambda/churn-predict"
    assert log_group["retention_in_days"] == 30

    assert plan.resource("aws_lambda_function_recursion_config.this")["recursive_loop"] == "Terminate"
    role = plan.resource("aws_iam_role.this[0]")
    # IAM names are global to the account: the region keeps two deployments of one name apart.
    assert role["name"] == "churn-predict-us-east-1"
    assert role["path"] == "/"
    assert role["permissions_boundary"] is None
    assume = json.loads(role["assume_role_policy"])
    assert assume["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert assume["Statement"][0]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_role_policy_is_scoped_to_the_log_group_and_failure_queue(tf: Workspace) -> None:
    plan = tf.plan(MODULE, BASE)
    statements = _statements(_policy(plan.resources))
    assert set(statements) == {"WriteOwnLogs", "SendFailedEvents"}
    assert statements["WriteOwnLogs"]["Resource"] == (
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/churn-predict:*"
    )
    assert statements["WriteOwnLogs"]["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]
    queue_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:churn-predict-failures"
    assert statements["SendFailedEvents"] == {
        "Sid": "SendFailedEvents",
        "Effect": "Allow",
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
    }


def test_async_invocation_sends_failures_to_the_encrypted_queue(tf: Workspace) -> None:
    plan = tf.plan(MODULE, BASE)
    queue = plan.resource("aws_sqs_queue.failures[0]")
    assert queue["name"] == "churn-predict-failures"
    assert queue["sqs_managed_sse_enabled"] is True
    assert queue["message_retention_seconds"] == 14 * 86400
    invoke = plan.resource("aws_lambda_function_event_invoke_config.this")
    assert invoke["maximum_retry_attempts"] == 2
    assert invoke["maximum_event_age_in_seconds"] == 21600
    assert invoke["destination_config"][0]["on_failure"][0]["destination"] == (
        f"arn:aws:sqs:us-east-1:{ACCOUNT}:churn-predict-failures"
    )


def test_existing_failure_destination_replaces_the_queue(tf: Workspace) -> None:
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:ml-failures"
    plan = tf.plan(
        MODULE,
        {**BASE, "async_invocation": {"create_failure_queue": False, "failure_destination_arn": topic}},
    )
    assert not plan.addresses("aws_sqs_queue")
    invoke = plan.resource("aws_lambda_function_event_invoke_config.this")
    assert invoke["destination_config"][0]["on_failure"][0]["destination"] == topic
    assert _statements(_policy(plan.resources))["SendFailedEvents"]["Action"] == "sns:Publish"


def test_no_failure_destination_when_turned_off(tf: Workspace) -> None:
    plan = tf.plan(
        MODULE, {**BASE, "async_invocation": {"create_failure_queue": False, "maximum_retry_attempts": 0}}
    )
    assert not plan.addresses("aws_sqs_queue")
    invoke = plan.resource("aws_lambda_function_event_invoke_config.this")
    assert invoke["destination_config"] == []
    assert invoke["maximum_retry_attempts"] == 0
    assert "SendFailedEvents" not in _statements(_policy(plan.resources))


def test_extra_statements_tracing_and_kms(tf: Workspace) -> None:
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    endpoint = f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/churn"
    plan = tf.plan(
        MODULE,
        {
            **BASE,
            "tracing_mode": "Active",
            "kms_key_arn": key,
            "policy_statements": {
                "InvokeModel": {
                    "actions": ["sagemaker:InvokeEndpoint"],
                    "resources": [endpoint],
                    "conditions": [
                        {"test": "StringEquals", "variable": "aws:RequestedRegion", "values": ["us-east-1"]}
                    ],
                }
            },
        },
    )
    statements = _statements(_policy(plan.resources))
    assert statements["InvokeModel"]["Resource"] == endpoint
    assert statements["InvokeModel"]["Condition"] == {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}
    assert statements["DecryptEnvironment"]["Resource"] == key
    assert statements["WriteTraces"]["Action"] == ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    fn = plan.resource("aws_lambda_function.this")
    assert fn["tracing_config"] == [{"mode": "Active"}]
    assert fn["environment"][0]["variables"]["POWERTOOLS_TRACE_DISABLED"] == "false"
    assert fn["environment"][0]["variables"]["TRACING_ENABLED"] == "true"
    assert fn["kms_key_arn"] == key


def test_warn_level_is_lambdas_name_and_powertools_gets_its_own(tf: Workspace) -> None:
    fn = tf.plan(MODULE, {**BASE, "logging": {"level": "WARN"}}).resource("aws_lambda_function.this")
    assert fn["logging_config"][0]["application_log_level"] == "WARN"
    assert fn["environment"][0]["variables"]["POWERTOOLS_LOG_LEVEL"] == "WARNING"


def test_layer_follows_runtime_and_architecture(tf: Workspace) -> None:
    plan = tf.plan(
        MODULE,
        {
            **BASE,
            "architecture": "x86_64",
            "runtime": "python3.12",
            "layers": ["arn:aws:lambda:us-east-1:123456789012:layer:x:1"],
        },
    )
    assert plan.resource("aws_lambda_function.this")["layers"] == [
        "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python312-x86_64:27",
        "arn:aws:lambda:us-east-1:123456789012:layer:x:1",
    ]


def test_zip_hash_flows_into_source_code_hash_and_excludes_tests_and_caches(tf: Workspace) -> None:
    plan = tf.plan(MODULE, BASE)
    fn = plan.resource("aws_lambda_function.this")
    built = tf.path(MODULE) / ".build" / "churn-predict.zip"
    assert fn["filename"].endswith(".build/churn-predict.zip")
    digest = base64.b64encode(hashlib.sha256(built.read_bytes()).digest()).decode()
    assert fn["source_code_hash"] == digest
    with zipfile.ZipFile(built) as archive:
        names = archive.namelist()
    assert "mlgw/__init__.py" in names
    assert "mlgw/env.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or n.endswith(".md")]


def test_a_shared_package_is_used_as_given(tf: Workspace) -> None:
    plan = tf.plan(MODULE, {**BASE, "package": {"filename": "build/shared.zip", "source_code_hash": "abc="}})
    fn = plan.resource("aws_lambda_function.this")
    assert (fn["filename"], fn["source_code_hash"]) == ("build/shared.zip", "abc=")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"memory_size": 64}, "memory_size must be a whole number of MB between 128 and 10240."),
        ({"timeout": 901}, "timeout must be a whole number of seconds between 1 and 900."),
        ({"name": "Churn_Predict"}, "name must be 2 to 56 lower-case letters, digits or hyphens"),
        ({"async_invocation": {"maximum_retry_attempts": 5}}, "maximum_retry_attempts must be 0, 1 or 2"),
        ({"async_invocation": {"maximum_event_age_in_seconds": 30}}, "must be between 60 and 21600"),
        (
            {"async_invocation": {"failure_destination_arn": "arn:aws:sns:us-east-1:1:t"}},
            "set either create_failure_queue = true or failure_destination_arn, not both",
        ),
        ({"logging": {"retention_in_days": 10}}, "retention_in_days must be one of the values"),
        ({"runtime": "python3.9"}, "runtime must be python3.12, python3.13 or python3.14"),
        ({"handler": "handler"}, "handler must look like package.module.function"),
        ({"logging": {"level": "WARNING"}}, "logging.level must be DEBUG, INFO, WARN or ERROR"),
        ({"environment": {"MODELS_JSON": "x" * 5000}}, "above Lambda's 4 KB limit"),
        ({"iam_role": {"name": "a", "name_prefix": "b"}}, "set at most one of arn"),
        ({"iam_role": {"name": "x" * 65}}, "iam_role.name must be 1 to 64"),
        ({"iam_role": {"name_prefix": "x" * 39}}, "iam_role.name_prefix must be 1 to 38"),
        ({"iam_role": {"path": "ml"}}, "iam_role.path must be"),
        ({"iam_role": {"path": "//"}}, "iam_role.path must be"),
        ({"iam_role": {"arn": "my-role"}}, "iam_role.arn must be an IAM role ARN"),
        (
            {"iam_role": {"permissions_boundary_arn": f"arn:aws:iam::{ACCOUNT}:role/boundary"}},
            "permissions_boundary_arn must be the ARN of a managed policy",
        ),
        (
            {"policy_statements": {"bad-sid": {"actions": ["s3:GetObject"], "resources": ["*"]}}},
            "letters and digits",
        ),
    ],
)
def test_bad_inputs_fail_with_their_message(tf: Workspace, override: dict[str, Any], message: str) -> None:
    assert message in tf.plan_error(MODULE, {**BASE, **override})


def test_environment_size_counts_names_and_values_as_lambda_measures_them(tf: Workspace) -> None:
    # Lambda measures {"NAME":"value",...}; the module's own variables take part of the 4 KB.
    base = tf.plan(MODULE, {**BASE, "environment": {"XY": ""}}).resource("aws_lambda_function.this")
    used = len(json.dumps(base["environment"][0]["variables"], separators=(",", ":")))
    fits = "x" * (4096 - used)
    assert tf.plan(MODULE, {**BASE, "environment": {"XY": fits}}).resource("aws_lambda_function.this")
    error = tf.plan_error(MODULE, {**BASE, "environment": {"XY": fits + "x"}})
    assert "come to 4097 characters" in error
    # jsonencode escapes <, > and & in six characters; Lambda's JSON does not, so they count once.
    assert tf.plan(MODULE, {**BASE, "environment": {"XY": fits[:-3] + "<&>"}}).resource(
        "aws_lambda_function.this"
    )


def test_role_name_fits_iam_limit_with_region_and_hash(tf: Workspace) -> None:
    long_name = "churn-" + "x" * 50  # 56 characters, the longest the module accepts
    role = tf.plan(MODULE, {**BASE, "name": long_name}).resource("aws_iam_role.this[0]")
    assert len(role["name"]) == 64
    assert role["name"].endswith("-us-east-1")
    kept = 64 - len("-12345678") - len("-us-east-1")
    assert role["name"].startswith(long_name[:kept] + "-")
    # The hash of the full name keeps two long names that share their first characters apart.
    other = tf.plan(MODULE, {**BASE, "name": long_name[:-1] + "y"}).resource("aws_iam_role.this[0]")
    assert other["name"] != role["name"]


def test_role_name_path_and_boundary_can_be_set(tf: Workspace) -> None:
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/ml-boundary"
    plan = tf.plan(
        MODULE,
        {**BASE, "iam_role": {"name": "churn-predict", "path": "/ml/", "permissions_boundary_arn": boundary}},
    )
    role = plan.resource("aws_iam_role.this[0]")
    assert (role["name"], role["path"], role["permissions_boundary"]) == ("churn-predict", "/ml/", boundary)


def test_role_name_prefix_leaves_the_name_to_iam(tf: Workspace) -> None:
    plan = tf.plan(MODULE, {**BASE, "iam_role": {"name_prefix": "churn-predict-"}})
    role = plan.resource("aws_iam_role.this[0]")
    assert role["name_prefix"] == "churn-predict-"
    assert role.get("name") is None  # computed by the provider at apply


def test_an_existing_role_is_used_as_given(tf: Workspace) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/platform/ml-predict"
    plan = tf.plan(MODULE, {**BASE, "iam_role": {"arn": role}})
    assert not plan.addresses("aws_iam_role")
    assert plan.resource("aws_lambda_function.this")["role"] == role
    assert plan.outputs["role_arn"] == role
    assert plan.outputs["role_name"] == "ml-predict"
    # What the role must allow is still published, for whoever manages that role.
    statements = _statements(json.loads(plan.outputs["role_policy_json"]))
    assert statements["WriteOwnLogs"]["Resource"].endswith(":log-group:/aws/lambda/churn-predict:*")


_GOVCLOUD = """
provider "aws" {{
  region = "{region}"
}}

module "fn" {{
  source  = "../../modules/lambda-function"
  name    = "churn-predict"
  handler = "mlgw.handlers.predict.lambda_handler"
  package = {{ filename = "build/shared.zip", source_code_hash = "abc=" }}
}}
"""


@pytest.mark.parametrize(
    ("region", "layer"),
    [
        # Powertools publishes a different account in each GovCloud region:
        # https://github.com/aws-powertools/powertools-lambda-python/blob/develop/docs/getting-started/install.md
        (
            "us-gov-west-1",
            "arn:aws-us-gov:lambda:us-gov-west-1:165093116878:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27",
        ),
        (
            "us-gov-east-1",
            "arn:aws-us-gov:lambda:us-gov-east-1:165087284144:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27",
        ),
        (
            "cn-north-1",
            "arn:aws-cn:lambda:cn-north-1:498634801083:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27",
        ),
        (
            "eu-west-1",
            "arn:aws:lambda:eu-west-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27",
        ),
    ],
)
def test_powertools_layer_comes_from_the_account_published_for_the_region(
    tf: Workspace, region: str, layer: str
) -> None:
    fn = tf.plan(tf.inline(_GOVCLOUD.format(region=region))).resource("module.fn.aws_lambda_function.this")
    assert fn["layers"] == [layer]


def test_a_region_without_a_published_layer_needs_an_arn(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_GOVCLOUD.format(region="cn-northwest-1")))
    assert "publishes no layer in cn-northwest-1" in error
