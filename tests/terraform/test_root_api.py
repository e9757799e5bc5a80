"""Plan checks of the root's api input: prediction function, its routes, IAM, direct routes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from settings_documents import PREDICT, document

from tfharness import Workspace

pytestmark = pytest.mark.terraform

ROOT = "."
ACCOUNT = "123456789012"
MODELS = {
    "default": {},
    "legacy": {
        "backend": "amazon-ml",
        "model_id": "ml-abc123",
        "predict_endpoint": "https://realtime.machinelearning.us-east-1.amazonaws.com",
    },
    "shadow": {"endpoint_name": "Churn-Shadow"},
    "component": {
        "inference_component": "Churn-IC-1",
        "feature_names": ["tenure", "plan"],
        "max_payload_bytes": 4096,
    },
}
API: dict[str, Any] = {
    "stages": {"prod": {"throttle": {"rate": 100, "burst": 200}}},
    "usage_plans": {"free": {"stages": ["prod"], "quota": {"limit": 1000, "period": "DAY"}}},
    "api_keys": {"mobile-app": {"usage_plan": "free"}},
    "routes": {
        "ratings": {
            "type": "sagemaker",
            "path": "predicted-ratings/{user_id}",
            "method": "GET",
            "mapping": "ratings",
        }
    },
}


@pytest.fixture(scope="module")
def plan(tf: Workspace) -> Any:
    return tf.plan(ROOT, {"name": "churn", "endpoint": {"name": "churn-prod"}, "models": MODELS, "api": API})


def test_prediction_function_gets_the_routing_table_and_a_short_timeout(plan: Any) -> None:
    fn = plan.resource("module.predict[0].aws_lambda_function.this")
    assert fn["function_name"] == "churn-predict"
    assert fn["handler"] == "mlgw.handlers.predict.lambda_handler"
    assert fn["timeout"] == 25
    env = fn["environment"][0]["variables"]
    assert env["POWERTOOLS_METRICS_NAMESPACE"] == "MlGateway"
    settings = json.loads(env["MLGW_SETTINGS"])
    # The defaults live in the module only; the unit tests' documents are checked against it.
    assert settings == document(PREDICT, models=settings["models"], default_endpoint_name="churn-prod")
    models = settings["models"]
    assert models["default"]["endpoint_name"] == "churn-prod"
    assert models["legacy"]["backend"] == "amazon-ml"
    # Fields the handler reads are passed through, not dropped by the variable's type.
    assert models["component"]["feature_names"] == ["tenure", "plan"]
    assert models["component"]["max_payload_bytes"] == 4096
    assert not plan.addresses("module.predict[0].aws_sqs_queue")


def test_prediction_iam_names_exact_endpoint_and_model_arns(plan: Any) -> None:
    policy = json.loads(plan.resource("module.predict[0].aws_iam_role_policy.this[0]")["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert statements["InvokeModelEndpoints"]["Action"] == "sagemaker:InvokeEndpoint"
    assert statements["InvokeModelEndpoints"]["Resource"] == [
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/churn-prod",
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/churn-shadow",
        # Whether SageMaker authorizes inference components by the lower-cased name, as it does
        # endpoints, is undocumented: both spellings of the one component are granted.
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:inference-component/Churn-IC-1",
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:inference-component/churn-ic-1",
    ]
    assert statements["PredictAmazonMl"] == {
        "Sid": "PredictAmazonMl",
        "Effect": "Allow",
        "Action": "machinelearning:Predict",
        "Resource": f"arn:aws:machinelearning:us-east-1:{ACCOUNT}:mlmodel/ml-abc123",
    }


def test_prediction_routes_and_the_direct_route_are_created_with_api_keys(plan: Any) -> None:
    document = json.loads(plan.resource("module.api[0].aws_api_gateway_rest_api.this")["body"])
    location = {"path": "path", "query": "querystring", "header": "header"}
    methods = {
        (method.upper(), op["operationId"]): op
        for item in document["paths"].values()
        for method, op in item.items()
        if method != "options"
    }
    assert set(methods) == {
        ("POST", "predict"),
        ("GET", "predict-get"),
        ("POST", "predict-model"),
        ("GET", "predict-model-get"),
        ("GET", "ratings"),
    }
    assert all({"api_key": []} in m["security"] for m in methods.values())
    assert {
        f"method.request.{location[p['in']]}.{p['name']}": p["required"]
        for p in methods[("GET", "predict-get")]["parameters"]
    } == {"method.request.querystring.data": True}
    integrations = {key[1]: op["x-amazon-apigateway-integration"] for key, op in methods.items()}
    # A stage cache must never answer one client's ?data= (or model) with another's result.
    assert integrations["predict-get"]["cacheKeyParameters"] == ["method.request.querystring.data"]
    assert sorted(integrations["predict-model-get"]["cacheKeyParameters"]) == [
        "method.request.path.model",
        "method.request.querystring.data",
    ]
    role_policy = next(
        v["policy"] for k, v in plan.resources.items() if k.startswith("module.api[0].aws_iam_role_policy.")
    )
    statement = json.loads(role_policy)["Statement"][0]
    assert statement["Resource"] in (
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/churn-prod",
        [f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/churn-prod"],
    )


def test_stage_usage_plan_and_key(plan: Any) -> None:
    stage = plan.resource('module.api[0].aws_api_gateway_stage.this["prod"]')
    assert stage["stage_name"] == "prod"
    usage_plan = plan.resource('module.api[0].aws_api_gateway_usage_plan.this["free"]')
    assert usage_plan["quota_settings"] == [{"limit": 1000, "offset": 0, "period": "DAY"}]
    key = plan.resource('module.api[0].aws_api_gateway_api_key.this["mobile-app"]')
    assert key["enabled"] is True


def test_stages_log_nothing_unless_the_region_has_the_cloudwatch_role(plan: Any) -> None:
    # account_cloudwatch_role defaults to "none": a fresh account applies.
    settings = plan.resource('module.api[0].aws_api_gateway_method_settings.all["prod"]')["settings"][0]
    assert settings["logging_level"] == "OFF"
    assert plan.resource('module.api[0].aws_api_gateway_stage.this["prod"]')["access_log_settings"] == []
    assert not plan.addresses("module.api[0].aws_api_gateway_account")


def test_the_account_cloudwatch_role_can_be_created_from_the_root(tf: Workspace) -> None:
    api = {**API, "account_cloudwatch_role": "create"}
    plan = tf.plan(ROOT, {"name": "churn", "endpoint": {"name": "churn-prod"}, "models": MODELS, "api": api})
    assert plan.addresses("module.api[0].aws_api_gateway_account") == [
        "module.api[0].aws_api_gateway_account.this[0]"
    ]
    settings = plan.resource('module.api[0].aws_api_gateway_method_settings.all["prod"]')["settings"][0]
    assert settings["logging_level"] == "ERROR"


def test_the_document_passes_through_the_root(plan: Any) -> None:
    assert plan.outputs["api_openapi"] == plan.resource("module.api[0].aws_api_gateway_rest_api.this")["body"]
    assert json.loads(plan.outputs["api_openapi"])["openapi"] == "3.0.1"


def test_no_api_creates_no_function(tf: Workspace) -> None:
    plan = tf.plan(ROOT, {"name": "churn", "endpoint": {"name": "churn-prod"}, "models": {"default": {}}})
    assert not plan.addresses("module.predict")
    assert not plan.addresses("module.api")


@pytest.mark.parametrize(
    ("api", "message"),
    [
        ({"predict": {"timeout": 29}}, "api.predict.timeout must be between 22 and 28 seconds"),
        ({"predict": {"timeout": 10}}, "the function's model calls may take 21 s in the worst case"),
        (
            {"routes": {"predict": {"type": "lambda_proxy", "path": "x"}}},
            "are reserved for the prediction routes",
        ),
        (
            {"stages": {"prod": {"logging_level": "INFO"}}},
            'account_cloudwatch_role = "none" says there is none',
        ),
        # The former flag fails instead of being dropped, which would destroy the account setting.
        ({"create_account_cloudwatch_role": True}, "api.create_account_cloudwatch_role was renamed"),
        (
            {"create_account_cloudwatch_role": False},
            'set api.account_cloudwatch_role = "create" to keep owning',
        ),
    ],
)
def test_bad_api_inputs_fail_with_their_message(tf: Workspace, api: dict[str, Any], message: str) -> None:
    tf_vars = {"name": "churn", "endpoint": {"name": "churn-prod"}, "models": {"default": {}}, "api": api}
    assert message in tf.plan_error(ROOT, tf_vars)


def test_an_api_with_nothing_to_serve_is_refused(tf: Workspace) -> None:
    assert "api needs something to serve" in tf.plan_error(ROOT, {"name": "churn", "api": {}})


def test_usage_plans_whose_keys_are_attached_elsewhere_pass_through_the_root(tf: Workspace) -> None:
    # Without external_keys the module warns (check block) that the stage's plans have no key.
    api = {**API, "usage_plans": {"free": {"stages": ["prod"], "external_keys": True}}, "api_keys": {}}
    plan = tf.plan(ROOT, {"name": "churn", "endpoint": {"name": "churn-prod"}, "models": MODELS, "api": api})
    checks = [
        c for c in plan.raw._raw.get("checks", []) if "usage_plans_have_keys" in c["address"]["to_display"]
    ]
    assert checks
    assert [p for c in checks for i in c.get("instances", []) for p in i.get("problems", [])] == []
    assert not plan.addresses("module.api[0].aws_api_gateway_api_key.")


def test_routing_table_from_a_parameter_is_read_with_exact_grants(tf: Workspace) -> None:
    api = {
        "predict": {
            "api_key_required": False,
            "models_parameter": {
                "name": "/churn/models",
                "kms_key_arn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k",
            },
            "model_call": {"read_timeout_seconds": 6},
            "log_request_bodies": True,
            "retry_after_seconds": 3,
        }
    }
    plan = tf.plan(
        ROOT, {"name": "churn", "endpoint": {"name": "churn-prod"}, "models": {"default": {}}, "api": api}
    )
    env = plan.resource("module.predict[0].aws_lambda_function.this")["environment"][0]["variables"]
    settings = json.loads(env["MLGW_SETTINGS"])
    assert settings == document(
        PREDICT,
        models_parameter={"name": "/churn/models", "cache_ttl_seconds": 60},
        default_endpoint_name="churn-prod",
        model_call={"read_timeout_seconds": 6},
        log_request_bodies=True,
        retry_after_seconds=3,
    )
    policy = json.loads(plan.resource("module.predict[0].aws_iam_role_policy.this[0]")["policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert (
        statements["ReadRoutingTable"]["Resource"]
        == f"arn:aws:ssm:us-east-1:{ACCOUNT}:parameter/churn/models"
    )
    assert statements["DecryptRoutingTable"]["Resource"] == f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k"


@pytest.mark.parametrize(
    ("predict", "message"),
    [
        ({"model_call": {"max_attempts": 3}}, "api.predict.model_call allows more time"),
        ({"model_call": {"read_timeout_seconds": 30}}, "read_timeout_seconds between 0.1 and 27"),
        ({"retry_after_seconds": 0}, "retry_after_seconds must be a whole number"),
        (
            {"models_parameter": {"name": "churn models"}},
            "models_parameter: name must be an SSM parameter name",
        ),
    ],
)
def test_prediction_settings_are_validated(tf: Workspace, predict: dict[str, Any], message: str) -> None:
    variables = {
        "name": "churn",
        "endpoint": {"name": "churn-prod"},
        "models": {"default": {}},
        "api": {"predict": predict},
    }
    assert message in tf.plan_error(ROOT, variables)
