"""Plan checks of the root's batch_prediction: function, IAM scope, shared trigger, bucket."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tfharness import Workspace

pytestmark = pytest.mark.terraform

ROOT = "."
ACCOUNT = "123456789012"
FN = "module.batch_predict[0]"
BASE: dict[str, Any] = {
    "name": "churn",
    "endpoint": {"name": "Churn-Prod"},
    "models": {"default": {}, "csv": {"content_type": "text/csv"}},
}


def _batch(**overrides: Any) -> dict[str, Any]:
    return {**BASE, "batch_prediction": {"bucket": "churn-data", **overrides}}


def _statements(plan: Any, address: str) -> dict[str, dict[str, Any]]:
    policy = json.loads(plan.resource(address)["policy"])
    return {s["Sid"]: s for s in policy["Statement"]}


def test_function_settings_and_iam_scope(tf: Workspace) -> None:
    plan = tf.plan(
        ROOT, _batch(id_column="customer_id", feature_columns=["tenure", "plan"], model_route="csv")
    )
    fn = plan.resource(f"{FN}.aws_lambda_function.this")
    assert fn["function_name"] == "churn-batch-predict"
    assert fn["handler"] == "mlgw.handlers.batch_predict.lambda_handler"
    env = fn["environment"][0]["variables"]
    assert {k: v for k, v in env.items() if k.startswith("BATCH_")} == {
        "BATCH_BUCKET": "churn-data",
        "BATCH_INPUT_PREFIX": "batch/in/",
        "BATCH_OUTPUT_PREFIX": "batch/out/",
        "BATCH_ERROR_PREFIX": "batch/errors/",
        "BATCH_MODEL_ROUTE": "csv",
        "BATCH_CSV_HEADER": "true",
        "BATCH_PREDICTION_COLUMNS": "prediction",
        "BATCH_SIZE": "500",
        "BATCH_CONCURRENCY": "4",
        "BATCH_FEATURE_COLUMNS": "tenure,plan",
        "BATCH_ID_COLUMN": "customer_id",
        "BATCH_TIME_MARGIN_SECONDS": "259",
    }
    # 3 x (2 + 70) + (1 + 5) + (2 + 5) = 229 s for one model call, and 30 s to finish
    assert {k: v for k, v in env.items() if k.startswith("MODEL_")} == {
        "MODEL_CONNECT_TIMEOUT_SECONDS": "2",
        "MODEL_READ_TIMEOUT_SECONDS": "70",
        "MODEL_MAX_ATTEMPTS": "3",
    }
    assert json.loads(env["MODELS_JSON"])["csv"]["endpoint_name"] == "Churn-Prod"

    statements = _statements(plan, f"{FN}.aws_iam_role_policy.this[0]")
    bucket = "arn:aws:s3:::churn-data"
    assert statements["ReadInputs"]["Resource"] == f"{bucket}/batch/in/*"
    assert statements["ReadOutputs"]["Resource"] == f"{bucket}/batch/out/*"
    assert statements["WriteResults"]["Resource"] == [f"{bucket}/batch/errors/*", f"{bucket}/batch/out/*"]
    assert statements["WriteResults"]["Action"] == ["s3:AbortMultipartUpload", "s3:PutObject"]
    assert statements["ListBucketForNotFound"]["Resource"] == bucket
    assert "Condition" not in statements["ListBucketForNotFound"]
    assert (
        statements["InvokeModel"]["Resource"] == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/churn-prod"
    )
    assert "StartTransformJobs" not in statements
    # Inputs are never writable or deletable by the function.
    for statement in statements.values():
        if (
            statement["Action"] in ("s3:PutObject", "s3:DeleteObject")
            or "s3:PutObject" in statement["Action"]
        ):
            assert f"{bucket}/batch/in/*" not in statement["Resource"]


def test_batch_and_actuals_on_one_bucket_share_one_notification(tf: Workspace) -> None:
    tf_vars = _batch()
    tf_vars["actuals_reporting"] = {
        "bucket": "churn-data",
        "token_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:t",
    }
    plan = tf.plan(ROOT, tf_vars)
    notifications = [
        a for a in plan.addresses("module.s3_triggers") if a.endswith("aws_s3_bucket_notification.this[0]")
    ]
    assert notifications == ['module.s3_triggers["churn-data"].aws_s3_bucket_notification.this[0]']
    rules = plan.resource(notifications[0])["lambda_function"]
    assert sorted((r["filter_prefix"], r["filter_suffix"]) for r in rules) == [
        ("batch/in/", ".csv"),
        ("batch/in/", ".jsonl"),
        ("batch/in/", ".ndjson"),
        ("upload_actuals/", ".csv"),
    ]


def test_created_bucket_is_hardened_and_expires_outputs(tf: Workspace) -> None:
    plan = tf.plan(ROOT, _batch(create_bucket=True, output_expiration_days=30))
    assert plan.resource("module.batch_bucket[0].aws_s3_bucket.this")["bucket"] == "churn-data"
    rules = plan.resource("module.batch_bucket[0].aws_s3_bucket_lifecycle_configuration.this")["rule"]
    expirations = {r["id"]: r["filter"][0]["prefix"] for r in rules if r["id"].startswith("expire-")}
    assert expirations == {"expire-outputs": "batch/out/", "expire-errors": "batch/errors/"}
    assert (
        plan.resource('module.s3_triggers["churn-data"].aws_s3_bucket_notification.this[0]')["bucket"]
        == "churn-data"
    )


def test_batch_transform_uses_the_created_endpoint_model_and_its_role_gets_the_prefixes(
    tf: Workspace,
) -> None:
    tf_vars = _batch(transform={})
    tf_vars["endpoint"] = {
        "name": "churn-prod",
        "create": {
            "model": {
                "image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/churn:1",
                "model_data_url": "s3://art/churn/model.tar.gz",
            },
            "variants": {"primary": {"instance_type": "ml.m5.large"}},
        },
    }
    plan = tf.plan(ROOT, tf_vars)
    statements = _statements(plan, f"{FN}.aws_iam_role_policy.this[0]")
    assert statements["StartTransformJobs"]["Action"] == "sagemaker:CreateTransformJob"
    assert statements["StartTransformJobs"]["Resource"] == (
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:transform-job/churn-batch-*"
    )
    env = plan.resource(f"{FN}.aws_lambda_function.this")["environment"][0]["variables"]
    assert env["BATCH_TRANSFORM_JOB_PREFIX"] == "churn-batch"
    assert env["BATCH_TRANSFORM_INSTANCE_TYPE"] == "ml.m5.xlarge"
    role_policies = [
        v["policy"]
        for k, v in plan.resources.items()
        if k.startswith("module.endpoint[0].aws_iam_role_policy.") and isinstance(v.get("policy"), str)
    ]
    text = " ".join(role_policies)
    assert "arn:aws:s3:::churn-data/batch/in/*" in text
    assert "arn:aws:s3:::churn-data/batch/out/*" in text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"output_prefix": "batch/in/out/"}, "must not be nested in one another"),
        ({"error_prefix": "batch/"}, "must not be nested in one another"),
        ({"input_prefix": "batch/in"}, "prefixes must be key prefixes ending with"),
        ({"model_route": "missing"}, "model_route must name a route of models"),
        ({"batch_size": 0}, "batch_size must be between 1 and 100000"),
        ({"concurrency": 65}, "concurrency must be between 1 and 64"),
        ({"suffixes": ["csv"]}, "suffixes must be file extensions starting with a dot"),
        ({"transform": {}}, "transform needs model_name"),
        (
            {"time_margin_seconds": 30},
            "time_margin_seconds must be at least the worst case of one model call",
        ),
        (
            {"time_margin_seconds": 228},
            "time_margin_seconds must be at least the worst case of one model call",
        ),
        ({"timeout": 300}, "timeout must leave at least 60 s of scoring after the time margin"),
        (
            {"time_margin_seconds": 600, "timeout": 659},
            "timeout must leave at least 60 s of scoring after the time margin",
        ),
        ({"model_call": {"max_attempts": 0}}, "max_attempts a whole number between 1 and 10"),
        ({"model_call": {"read_timeout_seconds": 601}}, "read_timeout_seconds between 0.1 and 600"),
        (
            {"csv_header": False, "id_column": "1", "transform": {"model_name": "m"}},
            "headerless CSV with an id_column and Batch Transform needs feature_columns",
        ),
    ],
)
def test_bad_batch_settings_fail_with_their_message(
    tf: Workspace, overrides: dict[str, Any], message: str
) -> None:
    assert message in tf.plan_error(ROOT, _batch(**overrides))


def test_a_shorter_model_call_allows_a_shorter_timeout_and_margin(tf: Workspace) -> None:
    plan = tf.plan(ROOT, _batch(timeout=120, model_call={"read_timeout_seconds": 10, "max_attempts": 2}))
    env = plan.resource(f"{FN}.aws_lambda_function.this")["environment"][0]["variables"]
    # 2 x (2 + 10) + (1 + 5) = 30 s for one call, and 30 s to finish
    assert (env["BATCH_TIME_MARGIN_SECONDS"], env["MODEL_MAX_ATTEMPTS"]) == ("60", "2")


def test_an_explicit_margin_is_passed_as_set(tf: Workspace) -> None:
    plan = tf.plan(ROOT, _batch(time_margin_seconds=240))
    env = plan.resource(f"{FN}.aws_lambda_function.this")["environment"][0]["variables"]
    assert env["BATCH_TIME_MARGIN_SECONDS"] == "240"


def test_amazon_ml_routes_cannot_score_files(tf: Workspace) -> None:
    tf_vars = _batch(model_route="legacy")
    tf_vars["models"] = {
        "legacy": {
            "backend": "amazon-ml",
            "model_id": "ml-1",
            "predict_endpoint": "https://realtime.machinelearning.us-east-1.amazonaws.com",
        }
    }
    assert "must use the sagemaker or http backend" in tf.plan_error(ROOT, tf_vars)
