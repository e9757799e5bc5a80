"""Plan checks of the root module's shared interface: name, tags, endpoint and models."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tfharness import Workspace

pytestmark = pytest.mark.terraform

ROOT = "."
ACCOUNT = "123456789012"


def test_models_render_with_the_primary_endpoint_filled_in(tf: Workspace) -> None:
    plan = tf.plan(
        ROOT,
        {
            "name": "churn",
            "endpoint": {"name": "Churn-Prod"},
            "models": {
                "default": {},
                "shadow": {"endpoint_name": "churn-shadow", "target_variant": "b", "accept": "text/csv"},
                "legacy": {
                    "backend": "amazon-ml",
                    "model_id": "ml-abc",
                    "predict_endpoint": "https://realtime.machinelearning.us-east-1.amazonaws.com",
                },
                "kserve": {
                    "backend": "http",
                    "url": "https://models.internal/v1/models/x:predict",
                    "protocol": "kserve-v1",
                },
            },
        },
    )
    models = json.loads(plan.outputs["models_json"])
    assert models["default"] == {
        "backend": "sagemaker",
        "endpoint_name": "Churn-Prod",
        "content_type": "application/json",
        "accept": "application/json",
        "protocol": "sagemaker",
        "serverless": False,
    }
    assert models["shadow"]["endpoint_name"] == "churn-shadow"
    assert models["shadow"]["target_variant"] == "b"
    assert models["legacy"]["model_id"] == "ml-abc"
    assert "endpoint_name" not in models["legacy"]
    assert models["kserve"]["protocol"] == "kserve-v1"
    assert plan.outputs["endpoint_arn"] == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/churn-prod"
    assert sorted(plan.outputs["model_endpoint_arns"]) == [
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/churn-prod",
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/churn-shadow",
    ]


def test_no_endpoint_and_no_models_is_a_valid_empty_root(tf: Workspace) -> None:
    plan = tf.plan(ROOT, {"name": "churn"})
    assert plan.outputs["endpoint_arn"] is None
    assert json.loads(plan.outputs["models_json"]) == {}


@pytest.mark.parametrize(
    ("tf_vars", "message"),
    [
        ({"name": "Churn"}, "name must be 2 to 32 lower-case letters"),
        (
            {"name": "churn", "endpoint": {"name": "bad_name"}},
            "endpoint.name must be a SageMaker endpoint name",
        ),
        (
            {"name": "churn", "models": {"Bad Key": {"endpoint_name": "e"}}},
            "models keys become URL path segments",
        ),
        (
            {"name": "churn", "models": {"x": {"backend": "bedrock"}}},
            "models backend must be sagemaker, amazon-ml or http",
        ),
        ({"name": "churn", "models": {"default": {}}}, "set var.endpoint or the route's endpoint_name"),
        (
            {
                "name": "churn",
                "models": {"x": {"endpoint_name": "e", "target_variant": "a", "target_model": "m.tar.gz"}},
            },
            "sets at most one of target_variant, target_model and inference_component",
        ),
        (
            {"name": "churn", "models": {"x": {"backend": "amazon-ml", "model_id": "ml-1"}}},
            "an amazon-ml route needs",
        ),
        ({"name": "churn", "models": {"x": {"backend": "http"}}}, "an http route needs a url"),
        (
            {"name": "churn", "models": {"x": {"backend": "http", "url": "http://m", "protocol": "grpc"}}},
            "protocol must be sagemaker, kserve-v1 or mlflow",
        ),
    ],
)
def test_bad_root_inputs_fail_with_their_message(
    tf: Workspace, tf_vars: dict[str, Any], message: str
) -> None:
    assert message in tf.plan_error(ROOT, tf_vars)
