"""Every example plans offline with its terraform.tfvars.example, and wires what it promises.

Each example documents every variable in its terraform.tfvars.example; what only the user can
know (endpoint names, images, model data) has no default, so the example plans only with a
variables file. The assertions read the expected values from that same file.
"""

from __future__ import annotations

import json
from typing import Any

import hcl2
import pytest
import settings_documents

from tfharness import PlanResult, Workspace, terraform_dirs
from tfharness.workspace import REPO_ROOT

pytestmark = pytest.mark.terraform

EXAMPLES = [rel for rel in terraform_dirs() if rel.startswith("examples/")]
ACCOUNT = "123456789012"
TFVARS = "terraform.tfvars.example"


def _variables(example: str) -> dict[str, dict[str, Any]]:
    with (REPO_ROOT / example / "variables.tf").open(encoding="utf-8") as handle:
        blocks = hcl2.load(handle).get("variable", [])
    return {name: body for block in blocks for name, body in block.items()}


def _tfvars(example: str) -> dict[str, Any]:
    """The values the file sets (python-hcl2 wraps each attribute's value in a list)."""
    with (REPO_ROOT / example / TFVARS).open(encoding="utf-8") as handle:
        return {name: value[0] for name, value in hcl2.load(handle).items() if not name.startswith("__")}


def _operations(plan: PlanResult, api: str) -> dict[str, dict[str, Any]]:
    """The routes of a REST API module's document (its body), keyed by route name."""
    document = json.loads(plan.resource(f"{api}.aws_api_gateway_rest_api.this")["body"])
    return {
        op["operationId"]: op | {"_method": method.upper()}
        for item in document["paths"].values()
        for method, op in item.items()
        if method != "options"
    }


def _parameters(operation: dict[str, Any]) -> dict[str, bool]:
    location = {"path": "path", "query": "querystring", "header": "header"}
    return {
        f"method.request.{location[p['in']]}.{p['name']}": p["required"]
        for p in operation.get("parameters", [])
    }


def _plan(tf: Workspace, example: str) -> PlanResult:
    return tf.plan(example, var_file=str(tf.path(example) / TFVARS))


@pytest.mark.parametrize("example", EXAMPLES)
def test_tfvars_example_documents_every_variable_and_sets_the_required_ones(example: str) -> None:
    text = (REPO_ROOT / example / TFVARS).read_text(encoding="utf-8")
    values = _tfvars(example)
    for name, body in _variables(example).items():
        if "default" in body:
            assert f"{name} =" in text, f"{example}/{TFVARS} does not mention {name}"
        else:
            assert name in values, f"{example}/{TFVARS} does not set the required {name}"
    lines = [line for line in text.splitlines() if line.strip()]
    assert all(line.lstrip().startswith("#") or "=" in line or line.strip() in {"]", "}"} for line in lines)


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_plans_with_its_tfvars_example(tf: Workspace, example: str) -> None:
    assert _plan(tf, example).resources


@pytest.mark.parametrize(
    "example",
    [
        "examples/complete",
        "examples/custom-domain",
        "examples/direct-sagemaker",
        "examples/existing-endpoint",
        "examples/lambda-proxy",
        "examples/query-string",
        "examples/s3-batch-prediction",
        "examples/single-function",
    ],
)
def test_what_only_the_user_knows_has_no_default(example: str) -> None:
    variables = _variables(example)
    user_only = {"endpoint_name", "image", "model_data_url", "feature_names"} & set(variables)
    assert user_only
    assert not [name for name in user_only if "default" in variables[name]]


def _notification_buckets(plan: PlanResult) -> list[str]:
    return [
        plan.resource(a)["bucket"]
        for a in plan.addresses()
        if a.endswith("aws_s3_bucket_notification.this[0]")
    ]


@pytest.mark.parametrize(
    ("example", "bucket_address", "bucket"),
    [
        (
            "examples/complete",
            "module.data_bucket.aws_s3_bucket.this",
            f"churn-{ACCOUNT}-us-east-1",
        ),
        (
            "examples/actuals-reporting",
            "module.actuals_bucket.aws_s3_bucket.this",
            f"mlgw-actuals-{ACCOUNT}-us-east-1",
        ),
        (
            "examples/s3-batch-prediction",
            "module.ml_gateway.module.batch_bucket[0].aws_s3_bucket.this",
            f"churn-batch-{ACCOUNT}-us-east-1",
        ),
        (
            "examples/local",
            "module.ml_gateway.module.batch_bucket[0].aws_s3_bucket.this",
            f"mlgw-local-{ACCOUNT}-us-east-1",
        ),
    ],
)
def test_examples_write_notifications_only_on_buckets_they_create_named_per_account_and_region(
    tf: Workspace, example: str, bucket_address: str, bucket: str
) -> None:
    plan = _plan(tf, example)
    assert plan.resource(bucket_address)["bucket"] == bucket
    assert _notification_buckets(plan) == [bucket]


def test_long_names_that_would_overflow_the_bucket_name_are_refused(tf: Workspace) -> None:
    # 32 + len("-batch-123456789012-ap-southeast-2") = 66 characters
    values = {**_tfvars("examples/s3-batch-prediction"), "name": "a" * 32, "region": "ap-southeast-2"}
    assert "within S3's 63-character bucket names" in tf.plan_error("examples/s3-batch-prediction", values)


def test_single_function_example_wires_the_model_endpoint(tf: Workspace) -> None:
    endpoint = _tfvars("examples/single-function")["endpoint_name"]
    plan = _plan(tf, "examples/single-function")
    fn = plan.resource("module.predict.aws_lambda_function.this")
    assert fn["handler"] == "mlgw.handlers.predict.lambda_handler"
    assert json.loads(fn["environment"][0]["variables"]["MLGW_SETTINGS"]) == settings_documents.document(
        settings_documents.PREDICT, models={"default": {"backend": "sagemaker", "endpoint_name": endpoint}}
    )
    policy = json.loads(plan.resource("module.predict.aws_iam_role_policy.this[0]")["policy"])
    invoke = next(s for s in policy["Statement"] if s["Sid"] == "InvokeModel")
    assert invoke["Resource"] == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{endpoint}"


def test_lambda_proxy_example_wires_the_function_into_the_api(tf: Workspace) -> None:
    values = _tfvars("examples/lambda-proxy")
    plan = _plan(tf, "examples/lambda-proxy")
    fn = plan.resource("module.predict.aws_lambda_function.this")
    assert fn["function_name"] == f"{values['name']}-predict"
    assert fn["handler"] == "mlgw.handlers.predict.lambda_handler"
    assert json.loads(fn["environment"][0]["variables"]["MLGW_SETTINGS"]) == settings_documents.document(
        settings_documents.PREDICT,
        models={"default": {"backend": "sagemaker", "endpoint_name": values["endpoint_name"]}},
        default_endpoint_name=values["endpoint_name"],
    )
    methods = _operations(plan, "module.api")
    assert {m["_method"] for m in methods.values()} == {"POST"}
    assert all({"api_key": []} in m["security"] for m in methods.values())
    assert {m["x-amazon-apigateway-integration"]["type"] for m in methods.values()} == {"aws_proxy"}
    permissions = plan.addresses("module.api.aws_lambda_permission.route")
    assert {plan.resource(a)["function_name"] for a in permissions} == {f"{values['name']}-predict"}
    assert 'module.api.aws_api_gateway_usage_plan_key.this["example-client"]' in plan.resources


def test_direct_sagemaker_example_has_no_function_and_invokes_only_its_endpoint(tf: Workspace) -> None:
    values = _tfvars("examples/direct-sagemaker")
    plan = _plan(tf, "examples/direct-sagemaker")
    assert not [a for a in plan.resources if a.split(".")[-2] == "aws_lambda_function"]
    policy = json.loads(plan.resource("module.api.aws_iam_role_policy.sagemaker[0]")["policy"])
    assert (
        policy["Statement"][0]["Resource"]
        == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{values['endpoint_name']}"
    )
    ratings = _operations(plan, "module.api")["ratings"]
    assert _parameters(ratings) == {
        "method.request.path.user_id": True,
        "method.request.querystring.items": True,
    }
    plans = {
        plan.resource(a)["name"]: plan.resource(a)
        for a in plan.addresses("module.api.aws_api_gateway_usage_plan.")
    }
    assert [s["stage"] for s in plans[f"{values['name']}-partners"]["api_stages"]] == ["prod"]
    assert [s["stage"] for s in plans[f"{values['name']}-testers"]["api_stages"]] == ["test"]


def test_query_string_example_requires_data_on_get(tf: Workspace) -> None:
    plan = _plan(tf, "examples/query-string")
    method = _operations(plan, "module.api")["predict"]
    assert method["_method"] == "GET"
    assert _parameters(method) == {"method.request.querystring.data": True}
    document = json.loads(plan.resource("module.api.aws_api_gateway_rest_api.this")["body"])
    validators = document["x-amazon-apigateway-request-validators"]
    assert [v["validateRequestParameters"] for v in validators.values()] == [True]
    assert method["x-amazon-apigateway-request-validator"] in validators
    fn = plan.resource("module.predict.aws_lambda_function.this")
    default = json.loads(fn["environment"][0]["variables"]["MLGW_SETTINGS"])["models"]["default"]
    assert (default["content_type"], default["endpoint_name"]) == (
        "text/csv",
        _tfvars("examples/query-string")["endpoint_name"],
    )


@pytest.fixture(scope="module")
def complete(tf: Workspace) -> PlanResult:
    return _plan(tf, "examples/complete")


def test_complete_example_serves_the_built_in_xgboost_image_with_the_users_model(
    complete: PlanResult,
) -> None:
    values = _tfvars("examples/complete")
    assert values["image"] == "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
    endpoint = complete.resource("module.ml_gateway.module.endpoint[0].aws_sagemaker_endpoint.this")
    assert endpoint["name"] == "churn-prod"
    container = complete.resource("module.ml_gateway.module.endpoint[0].aws_sagemaker_model.this")[
        "primary_container"
    ][0]
    assert (container["image"], container["model_data_url"]) == (values["image"], values["model_data_url"])
    config = complete.resource(
        "module.ml_gateway.module.endpoint[0].aws_sagemaker_endpoint_configuration.this"
    )
    capture = config["data_capture_config"][0]
    assert capture["destination_s3_uri"] == f"s3://churn-{ACCOUNT}-us-east-1/data-capture/"
    assert capture["capture_content_type_header"] == [
        {"csv_content_types": ["text/csv"], "json_content_types": None}
    ]


def test_complete_example_every_route_speaks_the_models_csv(complete: PlanResult) -> None:
    features = _tfvars("examples/complete")["feature_names"]
    fn = complete.resource("module.ml_gateway.module.predict[0].aws_lambda_function.this")
    models = json.loads(fn["environment"][0]["variables"]["MLGW_SETTINGS"])["models"]
    assert models == {
        "default": {
            "backend": "sagemaker",
            "endpoint_name": "churn-prod",
            "content_type": "text/csv",
            "accept": "text/csv",
            "feature_names": features,
            "protocol": "sagemaker",
            "serverless": False,
        }
    }
    methods = _operations(complete, "module.ml_gateway.module.api[0]")
    assert not [k for k in methods if "ratings" in k]
    score = methods["score"]["x-amazon-apigateway-integration"]
    assert score["type"] == "aws"
    assert set(score["requestTemplates"]) == {"text/csv"}
    assert complete.addresses("module.ml_gateway.module.api[0].aws_api_gateway_stage.this") == [
        'module.ml_gateway.module.api[0].aws_api_gateway_stage.this["prod"]',
        'module.ml_gateway.module.api[0].aws_api_gateway_stage.this["test"]',
    ]
    assert complete.addresses("module.ml_gateway.module.api[0].aws_api_gateway_usage_plan.this") == [
        'module.ml_gateway.module.api[0].aws_api_gateway_usage_plan.this["free"]',
        'module.ml_gateway.module.api[0].aws_api_gateway_usage_plan.this["pro"]',
    ]


def test_complete_example_scores_batch_files_through_the_endpoint_and_large_ones_with_batch_transform(
    complete: PlanResult,
) -> None:
    features = _tfvars("examples/complete")["feature_names"]
    env = complete.resource('module.ml_gateway.module.s3_pipeline["batch"].aws_lambda_function.this')[
        "environment"
    ][0]["variables"]
    settings = json.loads(env["MLGW_SETTINGS"])
    assert settings["bucket"] == f"churn-{ACCOUNT}-us-east-1"
    assert settings["csv_header"] is True
    assert settings["id_column"] == "customer_id"
    assert settings["feature_columns"] == features
    assert settings["prediction_columns"] == ["churn_probability"]
    # Header CSV takes Batch Transform with the endpoint's model, finished by the job's state change
    assert (
        settings["transform"]["model_name"]
        == complete.resource("module.ml_gateway.module.endpoint[0].aws_sagemaker_model.this")["name"]
    )
    assert settings["staging_prefix"] == "batch/staging/"
    assert "module.ml_gateway.aws_cloudwatch_event_rule.batch_transform[0]" in complete.resources
    bucket = f"churn-{ACCOUNT}-us-east-1"
    rules = complete.resource(
        f'module.ml_gateway.module.s3_triggers["{bucket}"].aws_s3_bucket_notification.this[0]'
    )["lambda_function"]
    assert sorted((r["filter_prefix"], r["filter_suffix"]) for r in rules) == [
        ("batch/in/", ".csv"),
        ("upload_actuals/", ".csv"),
    ]
    actuals = complete.resource('module.ml_gateway.module.s3_pipeline["actuals"].aws_lambda_function.this')
    assert json.loads(actuals["environment"][0]["variables"]["MLGW_SETTINGS"])["sinks"] == ["datarobot"]


def test_custom_domain_example_serves_prod_at_the_root_and_test_under_its_path(tf: Workspace) -> None:
    values = _tfvars("examples/custom-domain")
    plan = _plan(tf, "examples/custom-domain")
    api = "module.ml_gateway.module.api[0]"
    domain = plan.resource(f"{api}.aws_api_gateway_domain_name.this[0]")
    assert (domain["domain_name"], domain["regional_certificate_arn"]) == (
        values["domain_name"],
        values["certificate_arn"],
    )
    mappings = {
        plan.resource(a)["stage_name"]: plan.resource(a)["base_path"]
        for a in plan.addresses(f"{api}.aws_api_gateway_base_path_mapping.this")
    }
    assert mappings == {"prod": "", "test": "test"}
    records = [plan.resource(a) for a in plan.addresses(f"{api}.aws_route53_record.custom_domain")]
    assert sorted(r["type"] for r in records) == ["A", "AAAA"]
    assert {r["zone_id"] for r in records} == {values["route53_zone_id"]}
    assert plan.outputs["url"] == f"https://{values['domain_name']}"
    assert plan.outputs["urls"]["test"] == f"https://{values['domain_name']}/test"


def test_existing_endpoint_example_scopes_the_function_to_that_endpoint(tf: Workspace) -> None:
    endpoint = _tfvars("examples/existing-endpoint")["endpoint_name"]
    plan = _plan(tf, "examples/existing-endpoint")
    assert not plan.addresses("module.ml_gateway.module.endpoint")
    policy = json.loads(
        plan.resource("module.ml_gateway.module.predict[0].aws_iam_role_policy.this[0]")["policy"]
    )
    invoke = next(s for s in policy["Statement"] if s["Sid"] == "InvokeModelEndpoints")
    assert invoke["Resource"] == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{endpoint}"


def test_s3_batch_example_scores_through_the_given_endpoint(tf: Workspace) -> None:
    values = _tfvars("examples/s3-batch-prediction")
    plan = _plan(tf, "examples/s3-batch-prediction")
    env = plan.resource('module.ml_gateway.module.s3_pipeline["batch"].aws_lambda_function.this')[
        "environment"
    ][0]["variables"]
    assert json.loads(env["MLGW_SETTINGS"])["route"]["endpoint_name"] == values["endpoint_name"]
    bucket = f"churn-batch-{ACCOUNT}-us-east-1"
    rules = plan.resource(
        f'module.ml_gateway.module.s3_triggers["{bucket}"].aws_s3_bucket_notification.this[0]'
    )["lambda_function"]
    assert {r["filter_prefix"] for r in rules} == {"batch/in/"}
    assert plan.outputs["bucket"] == bucket


def test_readmes_plan_examples_with_their_tfvars_example() -> None:
    for example in EXAMPLES:
        readme = (REPO_ROOT / example / "README.md").read_text(encoding="utf-8")
        assert f"make plan EXAMPLE={example} VARS={example}/{TFVARS}" in readme, example
