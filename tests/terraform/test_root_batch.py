"""Plan checks of the root's batch_prediction: function, IAM scope, shared trigger, bucket."""

from __future__ import annotations

import json
from typing import Any

import pytest
from settings_documents import BATCH, TRANSFORM, document

from tfharness import Workspace

pytestmark = pytest.mark.terraform

ROOT = "."
ACCOUNT = "123456789012"
FN = 'module.s3_pipeline["batch"]'
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
    assert set(env) >= {"MLGW_SETTINGS", "POWERTOOLS_METRICS_NAMESPACE"}
    route = {
        "accept": "application/json",
        "backend": "sagemaker",
        "content_type": "text/csv",
        "endpoint_name": "Churn-Prod",
        "protocol": "sagemaker",
        "serverless": False,
    }
    # Every default lives in the module; the unit tests' document is this one. The margin:
    # 3 x (2 + 70) + (1 + 5) + (2 + 5) = 229 s for one model call, and 30 s to finish.
    assert json.loads(env["MLGW_SETTINGS"]) == document(
        BATCH,
        bucket="churn-data",
        model_route="csv",
        route=route,
        feature_columns=["tenure", "plan"],
        id_column="customer_id",
    )

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
    assert "RunTransformJobs" not in statements
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


def _transform_vars(**overrides: Any) -> dict[str, Any]:
    tf_vars = _batch(**{"transform": {}, **overrides})
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
    return tf_vars


def test_batch_transform_uses_the_created_endpoint_model_and_its_role_gets_the_staging_prefix(
    tf: Workspace,
) -> None:
    plan = tf.plan(ROOT, _transform_vars())
    statements = _statements(plan, f"{FN}.aws_iam_role_policy.this[0]")
    assert statements["RunTransformJobs"]["Action"] == [
        "sagemaker:CreateTransformJob",
        "sagemaker:DescribeTransformJob",
    ]
    assert statements["RunTransformJobs"]["Resource"] == (
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:transform-job/churn-batch-*"
    )
    # UploadPartCopy reads the input (ReadInputs) and writes the staging prefix; completion reads
    # and deletes staging objects there, and writes the output (WriteResults)
    assert statements["StageTransformJobs"]["Resource"] == "arn:aws:s3:::churn-data/batch/staging/*"
    assert statements["StageTransformJobs"]["Action"] == [
        "s3:AbortMultipartUpload",
        "s3:DeleteObject",
        "s3:GetObject",
        "s3:PutObject",
    ]
    assert statements["ReadInputs"]["Resource"] == "arn:aws:s3:::churn-data/batch/in/*"
    # CreateTransformJob takes no role, so the function passes none
    assert all("iam:PassRole" not in str(statement["Action"]) for statement in statements.values())
    env = plan.resource(f"{FN}.aws_lambda_function.this")["environment"][0]["variables"]
    settings = json.loads(env["MLGW_SETTINGS"])
    assert settings["staging_prefix"] == "batch/staging/"
    assert settings["transform"] == {**TRANSFORM, "model_name": settings["transform"]["model_name"]}
    assert settings["transform"]["model_name"]
    # The job, running as the model's role, reads and writes the staging prefix only
    role_policies = [
        v["policy"]
        for k, v in plan.resources.items()
        if k.startswith("module.endpoint[0].aws_iam_role_policy.") and isinstance(v.get("policy"), str)
    ]
    text = " ".join(role_policies)
    assert "arn:aws:s3:::churn-data/batch/staging/*" in text
    assert "arn:aws:s3:::churn-data/batch/in/*" not in text
    assert "arn:aws:s3:::churn-data/batch/out/*" not in text


def test_batch_transform_jobs_that_end_invoke_the_function(tf: Workspace) -> None:
    plan = tf.plan(ROOT, _transform_vars())
    rule = plan.resource("aws_cloudwatch_event_rule.batch_transform[0]")
    assert rule["name"] == "churn-batch-transform"
    assert json.loads(rule["event_pattern"]) == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Transform Job State Change"],
        "detail": {
            "TransformJobName": [{"prefix": "churn-batch-"}],
            "TransformJobStatus": ["Completed", "Failed", "Stopped"],
        },
    }
    target = plan.resource("aws_cloudwatch_event_target.batch_transform[0]")
    assert target["rule"] == "churn-batch-transform"
    permission = plan.resource("aws_lambda_permission.batch_transform[0]")
    assert (permission["principal"], permission["action"], permission["function_name"]) == (
        "events.amazonaws.com",
        "lambda:InvokeFunction",
        "churn-batch-predict",
    )


def test_batch_transform_staging_never_triggers_and_expires_in_a_created_bucket(tf: Workspace) -> None:
    plan = tf.plan(ROOT, _transform_vars(create_bucket=True))
    rules = plan.resource("module.batch_bucket[0].aws_s3_bucket_lifecycle_configuration.this")["rule"]
    staging = [r for r in rules if r["id"] == "expire-staging"]
    assert staging[0]["filter"][0]["prefix"] == "batch/staging/"
    assert staging[0]["expiration"][0]["days"] == 7
    notification = plan.resource('module.s3_triggers["churn-data"].aws_s3_bucket_notification.this[0]')
    assert {r["filter_prefix"] for r in notification["lambda_function"]} == {"batch/in/"}


OUTPUT_KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"


def test_the_transform_output_key_is_granted_to_the_job_and_the_function(tf: Workspace) -> None:
    plan = tf.plan(ROOT, _transform_vars(transform={"kms_key_id": OUTPUT_KEY}))
    # The function reads the job's output, encrypted with the key: GetObject and UploadPartCopy
    # from an SSE-KMS object need kms:Decrypt
    # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions)
    statements = _statements(plan, f"{FN}.aws_iam_role_policy.this[0]")
    assert statements["ReadTransformOutputs"]["Action"] == "kms:Decrypt"
    assert statements["ReadTransformOutputs"]["Resource"] == OUTPUT_KEY
    # The job, as the created model's role, writes its output with the key
    # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformOutput.html)
    grant = json.loads(plan.resource("aws_iam_role_policy.batch_transform_output_key[0]")["policy"])
    (statement,) = grant["Statement"]
    assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    assert statement["Resource"] == OUTPUT_KEY

    # Without a key, neither grant exists
    plain = tf.plan(ROOT, _transform_vars())
    assert "ReadTransformOutputs" not in _statements(plain, f"{FN}.aws_iam_role_policy.this[0]")
    assert "aws_iam_role_policy.batch_transform_output_key[0]" not in plain.resources

    # An IAM policy grants a key by its key ARN, so an alias or a bare key id is refused
    error = tf.plan_error(ROOT, _transform_vars(transform={"kms_key_id": "alias/batch-output"}))
    assert "transform.kms_key_id must be a KMS key ARN" in error


def test_without_batch_transform_there_is_no_job_rule_and_no_staging_grant(tf: Workspace) -> None:
    plan = tf.plan(ROOT, _batch(create_bucket=True))
    assert "aws_cloudwatch_event_rule.batch_transform[0]" not in plan.resources
    statements = _statements(plan, f"{FN}.aws_iam_role_policy.this[0]")
    assert "StageTransformJobs" not in statements
    assert "RunTransformJobs" not in statements


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"output_prefix": "batch/in/out/"}, "must not be nested in one another"),
        ({"error_prefix": "batch/"}, "must not be nested in one another"),
        ({"staging_prefix": "batch/in/staging/"}, "must not be nested in one another"),
        ({"staging_prefix": "staging"}, "prefixes must be key prefixes ending with"),
        (
            {"transform": {"model_name": "m", "staging_expiration_days": 0}},
            "staging_expiration_days must be a whole number of days",
        ),
        ({"input_prefix": "batch/in"}, "prefixes must be key prefixes ending with"),
        ({"model_route": "missing"}, "model_route must name a route of models"),
        ({"batch_size": 0}, "batch_size must be between 1 and 100000"),
        ({"batch_size": 2500.5}, "rows per model call, a whole number"),
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
    settings = json.loads(env["MLGW_SETTINGS"])
    # 2 x (2 + 10) + (1 + 5) = 30 s for one call, and 30 s to finish
    assert (settings["time_margin_seconds"], settings["model_call"]["max_attempts"]) == (60, 2)


def test_an_explicit_margin_is_passed_as_set(tf: Workspace) -> None:
    plan = tf.plan(ROOT, _batch(time_margin_seconds=240))
    env = plan.resource(f"{FN}.aws_lambda_function.this")["environment"][0]["variables"]
    assert json.loads(env["MLGW_SETTINGS"])["time_margin_seconds"] == 240


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


def test_every_setting_of_the_function_is_an_input(tf: Workspace) -> None:
    tuned = {
        "max_record_bytes": 65536,
        "isolation_calls": 0,
        "part_size_mb": 16,
        "batch_retry": {"attempts": 2, "backoff_max_seconds": 5},
        "stream_bytes_per_second": 2000000,
    }
    plan = tf.plan(ROOT, _batch(**tuned))
    env = plan.resource(f"{FN}.aws_lambda_function.this")["environment"][0]["variables"]
    settings = json.loads(env["MLGW_SETTINGS"])
    expected = document(BATCH, **tuned)
    assert {key: settings[key] for key in tuned} == {key: expected[key] for key in tuned}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"part_size_mb": 4}, "part_size_mb from 5 (S3's smallest part)"),
        ({"batch_retry": {"attempts": 0}}, "batch_retry.attempts from 1 to 20"),
        (
            {"transform": {"model_name": "m", "max_payload_mb": 101}},
            "transform.max_payload_mb must be a whole number",
        ),
    ],
)
def test_batch_tuning_outside_the_functions_ranges_is_refused(
    tf: Workspace, overrides: dict[str, Any], message: str
) -> None:
    assert message in tf.plan_error(ROOT, _batch(**overrides))
