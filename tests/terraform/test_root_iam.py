"""Plan checks of the root's iam_roles: region-safe names, path, boundary, prefixes, own roles."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tfharness import PlanResult, Workspace

pytestmark = pytest.mark.terraform

ROOT = "."
ACCOUNT = "123456789012"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/ml-boundary"
EVERYTHING: dict[str, Any] = {
    "name": "churn",
    "endpoint": {
        "name": "churn-prod",
        "create": {
            "model": {
                "image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/churn:1",
                "model_data_url": "s3://ml-artifacts/churn/model.tar.gz",
            },
            "variants": {"primary": {"instance_type": "ml.m5.large"}},
        },
    },
    "models": {"default": {}},
    "api": {
        "routes": {"ratings": {"type": "sagemaker", "path": "ratings/{user_id}", "method": "GET"}},
        "account_cloudwatch_role": "create",
        "usage_plans": {"standard": {"stages": ["prod"], "throttle": {"rate": 5, "burst": 10}}},
        "api_keys": {"client": {"usage_plan": "standard"}},
    },
    "batch_prediction": {"bucket": "churn-data"},
    "actuals_reporting": {
        "bucket": "churn-data",
        "token_secret_arn": "arn:aws:secretsmanager:us-east-1:1:secret:t",
    },
}


def _roles(plan: PlanResult) -> dict[str, dict[str, Any]]:
    return {
        address: plan.resource(address) for address in plan.addresses() if ".aws_iam_role." in f".{address}"
    }


def test_every_created_role_is_named_for_its_region(tf: Workspace) -> None:
    names = sorted(role["name"] for role in _roles(tf.plan(ROOT, EVERYTHING)).values())
    # IAM role names are global to the account: deploying the same name in a second region
    # must not collide (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html).
    assert names == [
        "churn-apigateway-cloudwatch-us-east-1",
        "churn-apigateway-sagemaker-us-east-1",
        "churn-batch-predict-us-east-1",
        "churn-predict-us-east-1",
        "churn-prod-sagemaker-us-east-1",
        "churn-report-actuals-us-east-1",
    ]


def test_path_and_boundary_reach_every_created_role(tf: Workspace) -> None:
    roles = _roles(
        tf.plan(ROOT, {**EVERYTHING, "iam_roles": {"path": "/ml/", "permissions_boundary_arn": BOUNDARY}})
    )
    assert len(roles) == 6
    assert {(role["path"], role["permissions_boundary"]) for role in roles.values()} == {("/ml/", BOUNDARY)}


def test_name_prefixes_leave_names_to_iam_within_the_provider_limit(tf: Workspace) -> None:
    long = {**EVERYTHING, "name": "c" * 32, "iam_roles": {"use_name_prefix": True}}
    roles = _roles(tf.plan(ROOT, long))
    prefixes = sorted(role["name_prefix"] for role in roles.values())
    assert all(len(prefix) <= 38 and prefix.endswith("-") for prefix in prefixes)
    assert all(role.get("name") is None for role in roles.values())
    assert len(set(prefixes)) == 5  # the two API Gateway roles share one prefix, IAM tells them apart


def test_existing_roles_replace_the_created_ones(tf: Workspace) -> None:
    arns = {
        key: f"arn:aws:iam::{ACCOUNT}:role/platform/{key}"
        for key in ("predict", "batch_predict", "report_actuals", "api_sagemaker")
    }
    endpoint = json.loads(json.dumps(EVERYTHING["endpoint"]))
    endpoint["create"]["execution_role_arn"] = f"arn:aws:iam::{ACCOUNT}:role/platform/model"
    plan = tf.plan(ROOT, {**EVERYTHING, "endpoint": endpoint, "iam_roles": {"arns": arns}})
    # Only the account-level CloudWatch role is still created.
    assert [role["name"] for role in _roles(plan).values()] == ["churn-apigateway-cloudwatch-us-east-1"]
    assert plan.resource("module.predict[0].aws_lambda_function.this")["role"] == arns["predict"]
    assert (
        plan.resource('module.s3_pipeline["batch"].aws_lambda_function.this')["role"] == arns["batch_predict"]
    )
    assert (
        plan.resource('module.s3_pipeline["actuals"].aws_lambda_function.this')["role"]
        == arns["report_actuals"]
    )
    assert plan.resource("module.endpoint[0].aws_sagemaker_model.this")["execution_role_arn"] == (
        f"arn:aws:iam::{ACCOUNT}:role/platform/model"
    )
    document = json.loads(plan.resource("module.api[0].aws_api_gateway_rest_api.this")["body"])
    integration = document["paths"]["/ratings/{user_id}"]["get"]["x-amazon-apigateway-integration"]
    assert integration["credentials"] == arns["api_sagemaker"]


@pytest.mark.parametrize(
    ("iam_roles", "message"),
    [
        ({"arns": {"endpoint": f"arn:aws:iam::{ACCOUNT}:role/x"}}, "iam_roles.arns keys must be"),
        ({"arns": {"predict": "x"}}, "iam_roles.arns values must be IAM role ARNs"),
        ({"path": "ml"}, "iam_roles.path must be"),
        (
            {"permissions_boundary_arn": f"arn:aws:iam::{ACCOUNT}:role/b"},
            "must be the ARN of a managed policy",
        ),
    ],
)
def test_bad_iam_roles_fail_with_their_message(
    tf: Workspace, iam_roles: dict[str, Any], message: str
) -> None:
    assert message in tf.plan_error(ROOT, {"name": "churn", "iam_roles": iam_roles})
