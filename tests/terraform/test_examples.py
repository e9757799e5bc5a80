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
    policy = json.loads(plan.resource("module.predict.aws_iam_role_policy.this")["policy"])
    invoke = next(s for s in policy["Statement"] if s["Sid"] == "InvokeModel")
    assert invoke["Resource"] == "arn:aws:sagemaker:us-east-1:123456789012:endpoint/iris-classifier"
