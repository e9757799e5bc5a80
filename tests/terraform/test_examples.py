"""Every example plans offline with its defaults, and wires what it promises."""

from __future__ import annotations

import json

import pytest

from tfharness import Workspace, terraform_dirs

pytestmark = pytest.mark.terraform

EXAMPLES = [rel for rel in terraform_dirs() if rel.startswith("examples/")]


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_plans_with_its_defaults(tf: Workspace, example: str) -> None:
    assert tf.plan(example).resources


def test_single_function_example_wires_the_model_endpoint(tf: Workspace) -> None:
    plan = tf.plan("examples/single-function")
    fn = plan.resource("module.predict.aws_lambda_function.this")
    assert fn["handler"] == "mlgw.handlers.predict.lambda_handler"
    assert json.loads(fn["environment"][0]["variables"]["MODELS_JSON"]) == {
        "default": {"backend": "sagemaker", "endpoint_name": "iris-classifier"}
    }
    policy = json.loads(plan.resource("module.predict.aws_iam_role_policy.this[0]")["policy"])
    invoke = next(s for s in policy["Statement"] if s["Sid"] == "InvokeModel")
    assert invoke["Resource"] == "arn:aws:sagemaker:us-east-1:123456789012:endpoint/iris-classifier"


def test_lambda_proxy_example_wires_the_function_into_the_api(tf: Workspace) -> None:
    plan = tf.plan("examples/lambda-proxy")
    fn = plan.resource("module.predict.aws_lambda_function.this")
    assert fn["function_name"] == "mlgw-example-predict"
    assert fn["handler"] == "mlgw.handlers.predict.lambda_handler"
    assert json.loads(fn["environment"][0]["variables"]["MODELS_JSON"]) == {
        "default": {"backend": "sagemaker", "endpoint_name": "iris-classifier"}
    }
    methods = {a: plan.resource(a) for a in plan.addresses("module.api.aws_api_gateway_method.this")}
    assert {m["http_method"] for m in methods.values()} == {"POST"}
    assert {m["api_key_required"] for m in methods.values()} == {True}
    assert {
        plan.resource(a)["type"] for a in plan.addresses("module.api.aws_api_gateway_integration.this")
    } == {"AWS_PROXY"}
    permissions = plan.addresses("module.api.aws_lambda_permission.route")
    assert {plan.resource(a)["function_name"] for a in permissions} == {"mlgw-example-predict"}
    assert 'module.api.aws_api_gateway_usage_plan_key.this["example-client"]' in plan.resources


def test_direct_sagemaker_example_has_no_function_and_invokes_only_its_endpoint(tf: Workspace) -> None:
    plan = tf.plan("examples/direct-sagemaker")
    assert not [a for a in plan.resources if a.split(".")[-2] == "aws_lambda_function"]
    policy = json.loads(plan.resource("module.api.aws_iam_role_policy.sagemaker[0]")["policy"])
    assert (
        policy["Statement"][0]["Resource"]
        == "arn:aws:sagemaker:us-east-1:123456789012:endpoint/movie-ratings"
    )
    ratings = plan.resource('module.api.aws_api_gateway_method.this["ratings"]')
    assert ratings["request_parameters"] == {
        "method.request.path.user_id": True,
        "method.request.querystring.items": True,
    }
    plans = {
        plan.resource(a)["name"]: plan.resource(a)
        for a in plan.addresses("module.api.aws_api_gateway_usage_plan.")
    }
    assert [s["stage"] for s in plans["mlgw-ratings-partners"]["api_stages"]] == ["prod"]
    assert [s["stage"] for s in plans["mlgw-ratings-testers"]["api_stages"]] == ["test"]


def test_query_string_example_requires_data_on_get(tf: Workspace) -> None:
    plan = tf.plan("examples/query-string")
    method = plan.resource('module.api.aws_api_gateway_method.this["predict"]')
    assert method["http_method"] == "GET"
    assert method["request_parameters"] == {"method.request.querystring.data": True}
    validators = plan.addresses("module.api.aws_api_gateway_request_validator.")
    assert [plan.resource(a)["validate_request_parameters"] for a in validators] == [True]
    fn = plan.resource("module.predict.aws_lambda_function.this")
    assert (
        json.loads(fn["environment"][0]["variables"]["MODELS_JSON"])["default"]["content_type"] == "text/csv"
    )


def test_complete_example_owns_the_endpoint_and_gives_its_bucket_one_notification(tf: Workspace) -> None:
    plan = tf.plan("examples/complete")
    endpoint = plan.resource("module.ml_gateway.module.endpoint[0].aws_sagemaker_endpoint.this")
    assert endpoint["name"] == "churn-prod"
    assert plan.addresses("module.ml_gateway.module.api[0].aws_api_gateway_stage.this") == [
        'module.ml_gateway.module.api[0].aws_api_gateway_stage.this["prod"]',
        'module.ml_gateway.module.api[0].aws_api_gateway_stage.this["test"]',
    ]
    assert plan.addresses("module.ml_gateway.module.api[0].aws_api_gateway_usage_plan.this") == [
        'module.ml_gateway.module.api[0].aws_api_gateway_usage_plan.this["free"]',
        'module.ml_gateway.module.api[0].aws_api_gateway_usage_plan.this["pro"]',
    ]
    config = plan.resource("module.ml_gateway.module.endpoint[0].aws_sagemaker_endpoint_configuration.this")
    assert config["data_capture_config"][0]["destination_s3_uri"] == "s3://example-ml-data/data-capture/"
    notifications = plan.addresses("module.ml_gateway.module.s3_triggers")
    assert [a for a in notifications if a.endswith("aws_s3_bucket_notification.this[0]")] == [
        'module.ml_gateway.module.s3_triggers["example-ml-data"].aws_s3_bucket_notification.this[0]'
    ]
    fn = plan.resource("module.ml_gateway.module.predict[0].aws_lambda_function.this")
    models = json.loads(fn["environment"][0]["variables"]["MODELS_JSON"])
    assert models["csv"] == {
        "backend": "sagemaker",
        "endpoint_name": "churn-prod",
        "content_type": "text/csv",
        "accept": "text/csv",
        "protocol": "sagemaker",
        "serverless": False,
    }
    rules = plan.resource(
        'module.ml_gateway.module.s3_triggers["example-ml-data"].aws_s3_bucket_notification.this[0]'
    )["lambda_function"]
    assert sorted(r["filter_prefix"] for r in rules) == ["batch/in/", "upload_actuals/"]
    actuals = plan.resource("module.ml_gateway.module.report_actuals[0].aws_lambda_function.this")
    assert actuals["environment"][0]["variables"]["ACTUALS_GROUND_TRUTH_ENDPOINT"] == "churn-prod"


def test_existing_endpoint_example_scopes_the_function_to_that_endpoint(tf: Workspace) -> None:
    plan = tf.plan("examples/existing-endpoint")
    assert not plan.addresses("module.ml_gateway.module.endpoint")
    policy = json.loads(
        plan.resource("module.ml_gateway.module.predict[0].aws_iam_role_policy.this[0]")["policy"]
    )
    invoke = next(s for s in policy["Statement"] if s["Sid"] == "InvokeModelEndpoints")
    assert invoke["Resource"] == "arn:aws:sagemaker:us-east-1:123456789012:endpoint/churn-prod"


def test_s3_batch_example_creates_the_bucket_before_its_trigger(tf: Workspace) -> None:
    plan = tf.plan("examples/s3-batch-prediction")
    assert (
        plan.resource("module.ml_gateway.module.batch_bucket[0].aws_s3_bucket.this")["bucket"]
        == "example-ml-batch"
    )
    rules = plan.resource(
        'module.ml_gateway.module.s3_triggers["example-ml-batch"].aws_s3_bucket_notification.this[0]'
    )["lambda_function"]
    assert {r["filter_prefix"] for r in rules} == {"batch/in/"}
