"""Plan checks of the root's actuals_reporting: function, IAM scope, trigger, validation."""

from __future__ import annotations

import json
from typing import Any

import pytest
from settings_documents import ACTUALS, document

from tfharness import Workspace

pytestmark = pytest.mark.terraform

ROOT = "."
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:churn-token-AbCdEf"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
FN = 'module.s3_pipeline["actuals"]'


def _actuals(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "churn",
        "actuals_reporting": {"bucket": "churn-data", "token_secret_arn": SECRET, **overrides},
    }


def _statements(plan_resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    policy = json.loads(plan_resources[f"{FN}.aws_iam_role_policy.this[0]"]["policy"])
    return {s["Sid"]: s for s in policy["Statement"]}


def test_function_settings_and_sibling_prefixes(tf: Workspace) -> None:
    plan = tf.plan(ROOT, _actuals())
    fn = plan.resource(f"{FN}.aws_lambda_function.this")
    assert fn["function_name"] == "churn-report-actuals"
    assert fn["handler"] == "mlgw.handlers.report_actuals.lambda_handler"
    assert (fn["timeout"], fn["memory_size"]) == (900, 512)
    env = fn["environment"][0]["variables"]
    assert set(env) >= {"MLGW_SETTINGS", "ACTUALS_TOKEN_SECRET_ARN", "POWERTOOLS_METRICS_NAMESPACE"}
    assert env["ACTUALS_TOKEN_SECRET_ARN"] == SECRET
    # Every default lives in the module; the unit tests' document is this one.
    bucket = {"bucket": "churn-data", "ground_truth_bucket": "churn-data"}
    assert json.loads(env["MLGW_SETTINGS"]) == document(ACTUALS, **bucket)
    assert plan.resource(f"{FN}.aws_lambda_function_event_invoke_config.this")["maximum_retry_attempts"] == 2
    # The whole package is shared: one zip, built once by the root.
    assert fn["filename"].endswith(".build/churn-lambda.zip")
    assert not plan.addresses("aws_secretsmanager_secret")


def test_iam_is_scoped_to_the_prefixes_and_the_secret(tf: Workspace) -> None:
    statements = _statements(tf.plan(ROOT, _actuals()).resources)
    bucket = "arn:aws:s3:::churn-data"
    assert statements["ReadInputsAndState"]["Resource"] == [
        f"{bucket}/upload_actuals-state/*",
        f"{bucket}/upload_actuals/*",
    ]
    assert statements["WriteOutcomes"]["Action"] == "s3:PutObject"
    assert statements["WriteOutcomes"]["Resource"] == [
        f"{bucket}/upload_actuals-failed/*",
        f"{bucket}/upload_actuals-processed/*",
        f"{bucket}/upload_actuals-state/*",
    ]
    assert statements["RemoveInputsAndState"]["Resource"] == [
        f"{bucket}/upload_actuals-state/*",
        f"{bucket}/upload_actuals/*",
    ]
    assert statements["ListBucketForNotFound"] == {
        "Sid": "ListBucketForNotFound",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": bucket,
    }
    assert statements["ReadApiToken"] == {
        "Sid": "ReadApiToken",
        "Effect": "Allow",
        "Action": "secretsmanager:GetSecretValue",
        "Resource": SECRET,
    }
    # A move copies the input's tags (CopyObject's default): reading them on the input and
    # writing them where it moves to (https://github.com/nasa/cumulus-orca/issues/530).
    assert statements["ReadInputTags"]["Action"] == "s3:GetObjectTagging"
    assert statements["ReadInputTags"]["Resource"] == f"{bucket}/upload_actuals/*"
    assert statements["WriteMovedTags"]["Action"] == "s3:PutObjectTagging"
    assert statements["WriteMovedTags"]["Resource"] == [
        f"{bucket}/upload_actuals-failed/*",
        f"{bucket}/upload_actuals-processed/*",
    ]
    # A failed multipart move (inputs above 5 GB) is aborted where it was going.
    assert statements["AbortMovedUploads"]["Action"] == "s3:AbortMultipartUpload"
    assert statements["AbortMovedUploads"]["Resource"] == [
        f"{bucket}/upload_actuals-failed/*",
        f"{bucket}/upload_actuals-processed/*",
    ]
    assert "WriteGroundTruth" not in statements
    assert "UseBucketKey" not in statements


def test_model_monitor_sink_and_kms_keys(tf: Workspace) -> None:
    plan = tf.plan(
        ROOT,
        {
            **_actuals(sinks=["datarobot", "model-monitor"], bucket_kms_key_arn=KEY, secret_kms_key_arn=KEY),
            "endpoint": {"name": "churn-prod"},
        },
    )
    env = plan.resource(f"{FN}.aws_lambda_function.this")["environment"][0]["variables"]
    settings = json.loads(env["MLGW_SETTINGS"])
    assert settings["sinks"] == ["datarobot", "model-monitor"]
    assert settings["ground_truth_bucket"] == "churn-data"
    assert settings["ground_truth_prefix"] == "upload_actuals-ground-truth/"
    assert settings["ground_truth_endpoint"] == "churn-prod"
    statements = _statements(plan.resources)
    assert (
        statements["WriteGroundTruth"]["Resource"] == "arn:aws:s3:::churn-data/upload_actuals-ground-truth/*"
    )
    assert statements["UseBucketKey"]["Action"] == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert statements["DecryptApiToken"]["Resource"] == KEY
    notification = plan.resource('module.s3_triggers["churn-data"].aws_s3_bucket_notification.this[0]')
    assert notification["lambda_function"][0]["filter_prefix"] == "upload_actuals/"


def test_the_bucket_gets_exactly_one_notification_with_a_scoped_permission(tf: Workspace) -> None:
    plan = tf.plan(ROOT, _actuals())
    assert plan.addresses("module.s3_triggers") == [
        'module.s3_triggers["churn-data"].aws_lambda_permission.s3["actuals"]',
        'module.s3_triggers["churn-data"].aws_s3_bucket_notification.this[0]',
    ]
    rule = plan.resource('module.s3_triggers["churn-data"].aws_s3_bucket_notification.this[0]')[
        "lambda_function"
    ]
    assert [(r["filter_prefix"], r["filter_suffix"]) for r in rule] == [("upload_actuals/", ".csv")]
    permission = plan.resource('module.s3_triggers["churn-data"].aws_lambda_permission.s3["actuals"]')
    assert permission["source_arn"] == "arn:aws:s3:::churn-data"
    assert permission["function_name"] == "churn-report-actuals"


def test_a_secret_is_created_when_none_is_given(tf: Workspace) -> None:
    plan = tf.plan(ROOT, {"name": "churn", "actuals_reporting": {"bucket": "churn-data"}})
    secret = plan.resource("aws_secretsmanager_secret.actuals_token[0]")
    assert secret["name"] == "churn/actuals-api-token"
    # Deleted at once on destroy, so the same stack applies again right away.
    assert secret["recovery_window_in_days"] == 0
    assert not plan.addresses("aws_secretsmanager_secret_version")


@pytest.mark.parametrize("days", [7, 30])
def test_the_token_secret_can_keep_a_recovery_window(tf: Workspace, days: int) -> None:
    plan = tf.plan(
        ROOT,
        {
            "name": "churn",
            "actuals_reporting": {"bucket": "churn-data", "secret_recovery_window_in_days": days},
        },
    )
    assert plan.resource("aws_secretsmanager_secret.actuals_token[0]")["recovery_window_in_days"] == days


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"report_rows": 0}, "report_rows must be a whole number between 1 and 10000"),
        ({"report_rows": 10001}, "report_rows must be a whole number between 1 and 10000"),
        ({"failed_prefix": "upload_actuals/failed/"}, "must be siblings of prefix, not inside it"),
        ({"prefix": "upload_actuals"}, "prefixes must be key prefixes ending with"),
        ({"on_success": "keep"}, "on_success must be delete or archive"),
        ({"sinks": ["splunk"]}, "sinks must name datarobot, model-monitor or both"),
        ({"api_url": "http://app.datarobot.com"}, "api_url must be an https:// base URL"),
        ({"bad_rows": "ignore"}, "bad_rows must be reject"),
        ({"secret_recovery_window_in_days": 3}, "secret_recovery_window_in_days must be 0"),
        ({"secret_recovery_window_in_days": 31}, "secret_recovery_window_in_days must be 0"),
    ],
)
def test_bad_actuals_settings_fail_with_their_message(
    tf: Workspace, overrides: dict[str, Any], message: str
) -> None:
    assert message in tf.plan_error(ROOT, _actuals(**overrides))


def test_every_setting_of_the_function_is_an_input(tf: Workspace) -> None:
    tuned = {
        "bad_rows_in_report": 20,
        "max_in_flight": 4,
        "spool_limit_mb": 0,
        "time_margin_seconds": 45,
        "deployment_id_pattern": "[a-z0-9-]+",
        "http": {"read_timeout_seconds": 30, "max_retries": 2},
        "status_poll": {"max_interval_seconds": 5},
        "max_idle_handoffs": 5,
        "pacing": {"actuals_per_hour": 6_000_000, "window_seconds": 60},
        "dataset_path": {
            "enabled": False,
            "min_bytes": 1048576,
            "fetch": "upload",
            "url_expiry_seconds": 600,
        },
    }
    plan = tf.plan(ROOT, _actuals(**tuned))
    env = plan.resource(f"{FN}.aws_lambda_function.this")["environment"][0]["variables"]
    bucket = {"bucket": "churn-data", "ground_truth_bucket": "churn-data"}
    assert json.loads(env["MLGW_SETTINGS"]) == document(ACTUALS, **bucket, **tuned)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"max_in_flight": 17}, "max_in_flight from 1 to 16"),
        ({"http": {"max_retries": 1.5}}, "http.max_retries a whole number"),
        ({"time_margin_seconds": 900}, "time_margin_seconds must be between 0 and 600"),
        ({"pacing": {"actuals_per_hour": 20_000_000}}, "pacing.actuals_per_hour must be a whole number"),
        ({"pacing": {"window_seconds": 700}}, "a divisor of 3600"),
        ({"max_idle_handoffs": 0}, "max_idle_handoffs a whole number from 1 to 100"),
        (
            {"dataset_path": {"url_expiry_seconds": 3601}},
            "url_expiry_seconds a whole number from 60 to 3600",
        ),
        ({"dataset_path": {"fetch": "s3"}}, "fetch must be url or upload"),
        ({"dataset_path": {"min_bytes": 0}}, "min_bytes must be a whole number of bytes from 1"),
    ],
)
def test_tuning_outside_the_functions_ranges_is_refused(
    tf: Workspace, overrides: dict[str, Any], message: str
) -> None:
    assert message in tf.plan_error(ROOT, _actuals(**overrides))


def test_the_hand_off_may_invoke_the_function_itself_and_nothing_else(tf: Workspace) -> None:
    # The continuation is an asynchronous Invoke of the function by itself: the grant names the
    # function's own unqualified ARN, and the function allows the chain that makes (Lambda's loop
    # detection stops loops of Lambda functions invoking each other:
    # https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html).
    plan = tf.plan(ROOT, _actuals())
    statements = _statements(plan.resources)
    fn = plan.resource(f"{FN}.aws_lambda_function.this")
    assert statements["HandOffToItself"] == {
        "Sid": "HandOffToItself",
        "Effect": "Allow",
        "Action": "lambda:InvokeFunction",
        "Resource": f"arn:aws:lambda:us-east-1:123456789012:function:{fn['function_name']}",
    }
    invokes = [s for s in statements.values() if "lambda:InvokeFunction" in json.dumps(s["Action"])]
    assert invokes == [statements["HandOffToItself"]]
    assert plan.resource(f"{FN}.aws_lambda_function_recursion_config.this")["recursive_loop"] == "Allow"
