"""Plan checks of modules/rest-api: the values the module sets, not provider defaults."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tfharness import Workspace
from tfharness.conformance import Context
from tfharness.workspace import PlanResult

pytestmark = pytest.mark.terraform

MODULE = "modules/rest-api"
ACCOUNT = "123456789012"
TEMPLATES = Path(__file__).resolve().parents[2] / MODULE / "templates"
INVOKE_ARN = (
    "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
    f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:churn-predict/invocations"
)
# The account already has the region's API Gateway CloudWatch role, so stages log by default.
ROLE_SET = Context(region="us-east-1", apigateway_cloudwatch_role_set=True)
BASE: dict[str, Any] = {
    "name": "churn-api",
    "account_cloudwatch_role": "existing",
    "default_endpoint_name": "Churn-Prod",
    "lambda_function": {"function_name": "churn-predict", "invoke_arn": INVOKE_ARN},
    "routes": {
        "predict": {"type": "lambda_proxy", "path": "predict"},
        "predict-model": {"type": "lambda_proxy", "path": "/predict/{model}/"},
        "query": {
            "type": "lambda_proxy",
            "path": "predict",
            "method": "GET",
            "query_parameters": {"data": True},
        },
        "health": {"type": "lambda_proxy", "path": "health", "method": "ANY", "api_key_required": False},
        "ratings": {
            "type": "sagemaker",
            "path": "predicted-ratings/{user_id}",
            "method": "GET",
            "mapping": "ratings",
        },
        "csv": {
            "type": "sagemaker",
            "path": "models/legacy/csv",
            "endpoint_name": "Legacy-CSV",
            "content_types": ["text/csv"],
            "accept": "text/csv",
        },
    },
    "stages": {
        "test": {"logging_level": "INFO", "log_retention_in_days": 7, "access_logs": False},
        "prod": {
            "throttle": {"rate": 100, "burst": 200},
            "method_throttles": {"ratings": {"rate": 10, "burst": 20}},
            "variables": {"modelVersion": "3"},
            "xray_tracing": True,
        },
    },
    "usage_plans": {
        "free": {
            "stages": ["prod"],
            "quota": {"limit": 1000, "period": "DAY"},
            "throttle": {"rate": 5, "burst": 10},
            "method_throttles": {"predict": {"rate": 2, "burst": 4}},
        },
        "partners": {"stages": ["test", "prod"], "quota": {"limit": 100000, "period": "MONTH", "offset": 1}},
    },
    "api_keys": {
        "mobile-app": {"usage_plan": "free"},
        "partner-a": {"usage_plan": "partners", "value": "partner-a-supplied-key-0123456789"},
        "retired": {"usage_plan": "free", "enabled": False},
    },
}
ERROR_STATUSES = {"400": "400", "413": "413", "424": "502", "429": "503", "503": "503", "504": "504"}


@pytest.fixture(scope="module")
def plan(tf: Workspace) -> PlanResult:
    return tf.plan(MODULE, BASE, context=ROLE_SET)


def _subset(values: dict[str, Any], expected: dict[str, Any]) -> bool:
    return expected.items() <= values.items()


def _config_resource(plan: PlanResult, address: str) -> dict[str, Any]:
    resources = plan.raw._raw["configuration"]["root_module"]["resources"]
    return next(r for r in resources if r["address"] == address)


def _document(plan: PlanResult) -> dict[str, Any]:
    """The OpenAPI document the API is imported from: the body, identical to output openapi."""
    body = plan.resource("aws_api_gateway_rest_api.this")["body"]
    assert body == plan.outputs["openapi"]
    return dict(json.loads(body))


def _operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every route's operation, keyed by its operationId (the route name)."""
    return {
        op["operationId"]: op | {"_path": path, "_method": method}
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method != "options"
    }


def _parameters(operation: dict[str, Any]) -> dict[str, bool]:
    """method.request.<location>.<name> -> required, as API Gateway maps OpenAPI parameters."""
    location = {"path": "path", "query": "querystring", "header": "header"}
    return {
        f"method.request.{location[p['in']]}.{p['name']}": p["required"]
        for p in operation.get("parameters", [])
    }


def _integration_responses(operation: dict[str, Any]) -> dict[str | None, dict[str, Any]]:
    """The integration responses keyed by selection pattern (None for the default one)."""
    responses = operation["x-amazon-apigateway-integration"]["responses"]
    return {(None if k == "default" else k): v for k, v in responses.items()}


def test_stages_and_their_settings(plan: PlanResult) -> None:
    assert plan.addresses("aws_api_gateway_stage.") == [
        'aws_api_gateway_stage.this["prod"]',
        'aws_api_gateway_stage.this["test"]',
    ]
    prod = plan.resource('aws_api_gateway_stage.this["prod"]')
    assert prod["stage_name"] == "prod"
    assert prod["variables"] == {"modelVersion": "3"}
    assert prod["xray_tracing_enabled"] is True
    assert prod["cache_cluster_enabled"] is False
    assert plan.resource('aws_api_gateway_stage.this["test"]')["access_log_settings"] == []

    prod_all = plan.resource('aws_api_gateway_method_settings.all["prod"]')
    assert prod_all["method_path"] == "*/*"
    assert _subset(
        prod_all["settings"][0],
        {
            "logging_level": "ERROR",
            "metrics_enabled": True,
            "data_trace_enabled": False,
            "throttling_rate_limit": 100,
            "throttling_burst_limit": 200,
            "caching_enabled": False,
        },
    )
    test_all = plan.resource('aws_api_gateway_method_settings.all["test"]')["settings"][0]
    assert (test_all["logging_level"], test_all["throttling_rate_limit"]) == ("INFO", None)

    ratings = plan.resource('aws_api_gateway_method_settings.route["prod/ratings"]')
    # Every "/" of the resource path escaped as "~1", as get-stage keys method settings.
    assert ratings["method_path"] == "~1predicted-ratings~1{user_id}/GET"
    assert ratings["settings"][0]["throttling_rate_limit"] == 10
    assert ratings["settings"][0]["throttling_burst_limit"] == 20
    assert ratings["settings"][0]["logging_level"] == "ERROR"
    assert plan.addresses("aws_api_gateway_method_settings.route") == [
        'aws_api_gateway_method_settings.route["prod/ratings"]'
    ]

    assert _subset(
        plan.resource('aws_cloudwatch_log_group.access["prod"]'),
        {
            "name": "/aws/apigateway/churn-api/prod",
            "retention_in_days": 30,
        },
    )
    assert 'aws_cloudwatch_log_group.access["test"]' not in plan.resources
    assert plan.resource('aws_cloudwatch_log_group.execution["test"]')["retention_in_days"] == 7
    assert plan.addresses("aws_api_gateway_account") == []


def test_access_log_format_is_json_with_the_request_id(plan: PlanResult) -> None:
    settings = plan.resource('aws_api_gateway_stage.this["prod"]')["access_log_settings"]
    assert len(settings) == 1
    fields = json.loads(settings[0]["format"])
    assert fields["requestId"] == "$context.requestId"
    assert fields["apiKeyId"] == "$context.identity.apiKeyId"
    assert fields["status"] == "$context.status"
    assert fields["integrationStatus"] == "$context.integration.status"
    assert fields["errorResponseType"] == "$context.error.responseType"


def test_usage_plan_limits_and_stage_associations(plan: PlanResult) -> None:
    free = plan.resource('aws_api_gateway_usage_plan.this["free"]')
    assert free["name"] == "churn-api-free"
    assert free["quota_settings"] == [{"limit": 1000, "offset": 0, "period": "DAY"}]
    assert free["throttle_settings"] == [{"rate_limit": 5, "burst_limit": 10}]
    assert [s["stage"] for s in free["api_stages"]] == ["prod"]
    assert free["api_stages"][0]["throttle"] == [{"path": "/predict/POST", "rate_limit": 2, "burst_limit": 4}]

    partners = plan.resource('aws_api_gateway_usage_plan.this["partners"]')
    assert sorted(s["stage"] for s in partners["api_stages"]) == ["prod", "test"]
    assert partners["quota_settings"] == [{"limit": 100000, "offset": 1, "period": "MONTH"}]
    assert partners["throttle_settings"] == []

    # The plan names its stages through the stage resources, so it waits for them.
    assert "aws_api_gateway_stage.this" in json.dumps(
        _config_resource(plan, "aws_api_gateway_usage_plan.this")
    )


def test_every_key_is_attached_to_its_plan(plan: PlanResult) -> None:
    keys = {a: plan.resource(a) for a in plan.addresses("aws_api_gateway_api_key.")}
    assert {k["name"]: k["enabled"] for k in keys.values()} == {
        "churn-api-mobile-app": True,
        "churn-api-partner-a": True,
        "churn-api-retired": False,
    }
    assert keys['aws_api_gateway_api_key.this["partner-a"]']["value"] == "partner-a-supplied-key-0123456789"
    assert plan.addresses("aws_api_gateway_usage_plan_key.") == [
        'aws_api_gateway_usage_plan_key.this["mobile-app"]',
        'aws_api_gateway_usage_plan_key.this["partner-a"]',
        'aws_api_gateway_usage_plan_key.this["retired"]',
    ]
    assert {plan.resource(a)["key_type"] for a in plan.addresses("aws_api_gateway_usage_plan_key.")} == {
        "API_KEY"
    }
    # Ids are known only after apply; the wiring is: this key, and the plan the key names.
    config = _config_resource(plan, "aws_api_gateway_usage_plan_key.this")["expressions"]
    assert config["key_id"]["references"] == ["aws_api_gateway_api_key.this", "each.key"]
    assert {"aws_api_gateway_usage_plan.this", "each.value.usage_plan"} <= set(
        config["usage_plan_id"]["references"]
    )


def test_api_key_required_on_every_method_unless_switched_off(plan: PlanResult) -> None:
    document = _document(plan)
    operations = _operations(document)
    assert len(operations) == len(BASE["routes"])
    required = {k: {"api_key": []} in op.get("security", []) for k, op in operations.items()}
    assert required.pop("health") is False
    assert "security" not in operations["health"]
    assert set(required.values()) == {True}
    assert document["components"]["securitySchemes"]["api_key"] == {
        "type": "apiKey",
        "name": "x-api-key",
        "in": "header",
    }
    assert document["x-amazon-apigateway-api-key-source"] == "HEADER"


def test_paths_share_their_prefix_resources(plan: PlanResult) -> None:
    paths = _document(plan)["paths"]
    # One path item per distinct path, holding every method of it: /predict serves two routes.
    assert sorted(paths) == [
        "/health",
        "/models/legacy/csv",
        "/predict",
        "/predict/{model}",
        "/predicted-ratings/{user_id}",
    ]
    assert sorted(paths["/predict"]) == ["get", "post"]
    assert list(paths["/health"]) == ["x-amazon-apigateway-any-method"]
    # No route-level resource is managed beside the body.
    for kind in ("resource", "method", "integration", "method_response", "integration_response"):
        assert not plan.addresses(f"aws_api_gateway_{kind}."), kind
    for kind in ("request_validator", "model", "gateway_response", "authorizer", "rest_api_policy"):
        assert not plan.addresses(f"aws_api_gateway_{kind}."), kind


def test_request_parameters_are_required_and_validated(plan: PlanResult) -> None:
    document = _document(plan)
    operations = _operations(document)
    assert _parameters(operations["ratings"]) == {
        "method.request.path.user_id": True,
        "method.request.querystring.items": True,
    }
    assert _parameters(operations["query"]) == {"method.request.querystring.data": True}
    assert document["x-amazon-apigateway-request-validators"] == {
        "churn-api-parameters": {"validateRequestBody": False, "validateRequestParameters": True}
    }
    validated = {k for k, op in operations.items() if "x-amazon-apigateway-request-validator" in op}
    assert validated == {"ratings", "query", "predict-model"}
    assert {operations[k]["x-amazon-apigateway-request-validator"] for k in validated} == {
        "churn-api-parameters"
    }


def test_lambda_permissions_are_scoped_to_stage_method_and_path(plan: PlanResult) -> None:
    scopes = plan.outputs["lambda_permission_scopes"]
    assert scopes == {
        "health/prod": "prod/*/health",
        "health/test": "test/*/health",
        "predict-model/prod": "prod/POST/predict/*",
        "predict-model/test": "test/POST/predict/*",
        "predict/prod": "prod/POST/predict",
        "predict/test": "test/POST/predict",
        "query/prod": "prod/GET/predict",
        "query/test": "test/GET/predict",
    }
    permission = plan.resource('aws_lambda_permission.route["predict-model/prod"]')
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["function_name"] == "churn-predict"
    assert permission["action"] == "lambda:InvokeFunction"
    source_arn = _config_resource(plan, "aws_lambda_permission.route")["expressions"]["source_arn"]
    assert source_arn["references"][:2] == [
        "aws_api_gateway_rest_api.this.execution_arn",
        "aws_api_gateway_rest_api.this",
    ]
    assert {"each.value.stage", "each.value.method", "each.value.path"} <= set(source_arn["references"])


def test_sagemaker_role_may_invoke_exactly_the_routes_endpoints(plan: PlanResult) -> None:
    policy = json.loads(plan.resource("aws_iam_role_policy.sagemaker[0]")["policy"])
    assert policy["Statement"] == [
        {
            "Sid": "InvokeEndpoints",
            "Effect": "Allow",
            "Action": "sagemaker:InvokeEndpoint",
            "Resource": [
                f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/churn-prod",
                f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/legacy-csv",
            ],
        }
    ]
    assume = json.loads(plan.resource("aws_iam_role.sagemaker[0]")["assume_role_policy"])
    assert assume["Statement"] == [
        {
            "Sid": "ApiGatewayAssumeRole",
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Principal": {"Service": "apigateway.amazonaws.com"},
        }
    ]


def test_inference_components_are_resources_of_the_invoke_permission(tf: Workspace) -> None:
    routes = {
        "component": {
            "type": "sagemaker",
            "path": "score",
            "endpoint_name": "shared",
            "inference_component": "churn-ic",
            "api_key_required": False,
        },
    }
    plan = tf.plan(MODULE, {"name": "churn", "routes": routes})
    statement = json.loads(plan.resource("aws_iam_role_policy.sagemaker[0]")["policy"])["Statement"][0]
    assert statement["Resource"] == [
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/shared",
        f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:inference-component/churn-ic",
    ]


def test_long_permission_statement_ids_are_hashed_under_lambdas_limit(tf: Workspace) -> None:
    route = "r" + "o" * 47
    stage = "s" * 60
    plan = tf.plan(
        MODULE,
        {
            "name": "churn-predictions-gateway",
            "routes": {route: {"type": "lambda_proxy", "path": "predict", "api_key_required": False}},
            "stages": {stage: {}},
            "lambda_function": {
                "function_name": "churn-predict",
                "invoke_arn": BASE["lambda_function"]["invoke_arn"],
            },
        },
    )
    statement_id = plan.resource(f'aws_lambda_permission.route["{route}/{stage}"]')["statement_id"]
    assert len(statement_id) <= 100
    assert statement_id.startswith("churn-predictions-gateway-")


def test_sagemaker_integrations_never_pass_through(plan: PlanResult) -> None:
    operations = _operations(_document(plan))
    ratings = operations["ratings"]["x-amazon-apigateway-integration"]
    assert ratings["type"] == "aws"
    assert ratings["httpMethod"] == "POST"
    assert ratings["uri"] == (
        "arn:aws:apigateway:us-east-1:runtime.sagemaker:path/endpoints/Churn-Prod/invocations"
    )
    assert ratings["passthroughBehavior"] == "never"
    # Known at plan time: the role's ARN is built from its name, not read after apply.
    assert ratings["credentials"] == f"arn:aws:iam::{ACCOUNT}:role/churn-api-apigateway-sagemaker-us-east-1"
    assert plan.resource("aws_iam_role.sagemaker[0]")["name"] == "churn-api-apigateway-sagemaker-us-east-1"
    assert ratings["requestTemplates"] == {
        "application/json": (TEMPLATES / "ratings_request.vtl").read_text(encoding="utf-8")
    }
    assert ratings["requestParameters"] == {
        "integration.request.header.Content-Type": "'application/json'",
        "integration.request.header.Accept": "'application/json'",
    }
    assert ratings["timeoutInMillis"] == 29000
    csv = operations["csv"]["x-amazon-apigateway-integration"]
    assert csv["uri"].endswith("path/endpoints/Legacy-CSV/invocations")
    assert csv["requestTemplates"] == {
        "text/csv": (TEMPLATES / "passthrough_request.vtl").read_text(encoding="utf-8")
    }
    assert csv["requestParameters"]["integration.request.header.Content-Type"] == "'text/csv'"
    assert csv["requestParameters"]["integration.request.header.Accept"] == "'text/csv'"
    assert (operations["csv"]["_path"], operations["csv"]["_method"]) == ("/models/legacy/csv", "post")
    proxy = operations["predict"]["x-amazon-apigateway-integration"]
    assert (proxy["type"], proxy["uri"], proxy["httpMethod"]) == ("aws_proxy", INVOKE_ARN, "POST")
    assert "credentials" not in proxy


def test_integration_responses_map_every_sagemaker_error(plan: PlanResult) -> None:
    table = json.loads((TEMPLATES / "integration_responses.json").read_text(encoding="utf-8"))
    operations = _operations(_document(plan))
    for route in ("ratings", "csv"):
        responses = _integration_responses(operations[route])
        assert set(responses) == {entry["selection_pattern"] for entry in table.values()}
        by_pattern = {pattern: r["statusCode"] for pattern, r in responses.items()}
        for sagemaker_status, client_status in ERROR_STATUSES.items():
            assert by_pattern[sagemaker_status] == client_status
        assert by_pattern[None] == "200"
        for entry in table.values():
            if entry["template"]:
                body = (TEMPLATES / entry["template"]).read_text(encoding="utf-8")
                assert responses[entry["selection_pattern"]]["responseTemplates"] == {
                    "application/json": body
                }
        unavailable = responses[table["model-not-ready"]["selection_pattern"]]["responseParameters"]
        assert unavailable == {"method.response.header.Retry-After": "'5'"}
        statuses = operations[route]["responses"]
        assert set(statuses) == {"200", "400", "413", "502", "503", "504"}
        assert statuses["503"]["headers"] == {"Retry-After": {"schema": {"type": "string"}}}
        assert all("headers" not in statuses[s] for s in ("200", "400", "413", "502", "504"))
    assert _integration_responses(operations["ratings"])[None]["responseTemplates"] == {
        "application/json": (TEMPLATES / "ratings_response.vtl").read_text(encoding="utf-8")
    }
    assert "responseTemplates" not in _integration_responses(operations["csv"])[None]


def test_gateway_responses_are_json_with_the_request_id(plan: PlanResult) -> None:
    expected = {
        "INVALID_API_KEY": ("403", "InvalidApiKey"),
        "MISSING_AUTHENTICATION_TOKEN": ("404", "NotFound"),
        "THROTTLED": ("429", "Throttled"),
        "QUOTA_EXCEEDED": ("429", "QuotaExceeded"),
        "BAD_REQUEST_BODY": ("400", "BadRequest"),
        "BAD_REQUEST_PARAMETERS": ("400", "BadRequest"),
        "REQUEST_TOO_LARGE": ("413", "PayloadTooLarge"),
        "INTEGRATION_TIMEOUT": ("504", "ModelTimeout"),
        # Where a Lambda-proxy request or answer above Lambda's 6 MB invoke limit ends.
        "INTEGRATION_FAILURE": ("502", "IntegrationFailure"),
    }
    responses = _document(plan)["x-amazon-apigateway-gateway-responses"]
    assert set(responses) == set(expected) | {"DEFAULT_4XX", "DEFAULT_5XX"}
    for response_type, (status, code) in expected.items():
        response = responses[response_type]
        body = json.loads(response["responseTemplates"]["application/json"])
        assert (response["statusCode"], body["code"], body["requestId"]) == (
            status,
            code,
            "$context.requestId",
        )
        assert body["message"]
    # A throttled client is told when to retry; without CORS no other header is set.
    assert responses["THROTTLED"]["responseParameters"] == {"gatewayresponse.header.Retry-After": "'1'"}
    assert all("responseParameters" not in r for t, r in responses.items() if t != "THROTTLED")
    for response_type in ("DEFAULT_4XX", "DEFAULT_5XX"):
        response = responses[response_type]
        assert "statusCode" not in response
        rendered = response["responseTemplates"]["application/json"].replace(
            "$context.error.messageString", '"Forbidden"'
        )
        assert json.loads(rendered)["requestId"] == "$context.requestId"


def test_deployment_is_replaced_before_destroy_and_hashes_the_configuration(plan: PlanResult) -> None:
    deployment = plan.resource("aws_api_gateway_deployment.this")
    assert deployment["triggers"] == {"redeployment": plan.outputs["deployment_hash"]}
    assert len(plan.outputs["deployment_hash"]) == 40
    # The deployment waits for the API, whose body imports every method and integration.
    config = _config_resource(plan, "aws_api_gateway_deployment.this")
    assert "aws_api_gateway_rest_api.this" in config["expressions"]["rest_api_id"]["references"]
    assert config["expressions"]["triggers"]["references"][0] == "local.deployment_hash"
    changes = {c["address"]: c for c in plan.raw._raw["resource_changes"]}
    assert changes['aws_api_gateway_stage.this["prod"]']["change"]["after_unknown"]["deployment_id"] is True


def test_deployment_hash_follows_the_document_and_the_settings_outside_it(
    tf: Workspace, plan: PlanResult
) -> None:
    # A route change reaches the document and the hash; the resource policy and the endpoint
    # type live outside the document and reach the hash too.
    changed_route = tf.plan(
        MODULE,
        _with(
            routes={**BASE["routes"], "query": {**BASE["routes"]["query"], "query_parameters": {"x": True}}}
        ),
        context=ROLE_SET,
    )
    assert changed_route.outputs["openapi"] != plan.outputs["openapi"]
    assert changed_route.outputs["deployment_hash"] != plan.outputs["deployment_hash"]
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "execute-api:Invoke",
                    "Resource": "execute-api:/*",
                }
            ],
        }
    )
    with_policy = tf.plan(MODULE, _with(resource_policy=policy), context=ROLE_SET)
    assert with_policy.outputs["openapi"] == plan.outputs["openapi"]
    assert with_policy.outputs["deployment_hash"] != plan.outputs["deployment_hash"]
    assert json.loads(with_policy.resource("aws_api_gateway_rest_api.this")["policy"]) == json.loads(policy)
    edge = tf.plan(MODULE, _with(endpoint_configuration={"type": "EDGE"}), context=ROLE_SET)
    assert edge.outputs["openapi"] == plan.outputs["openapi"]
    assert edge.outputs["deployment_hash"] != plan.outputs["deployment_hash"]


def test_deployment_hash_follows_template_content(tf: Workspace, plan: PlanResult) -> None:
    template = tf.path(MODULE) / "templates" / "error_model.vtl"
    original = template.read_text(encoding="utf-8")
    try:
        template.write_text(original + "## reworded\n", encoding="utf-8")
        edited = tf.plan(MODULE, BASE, context=ROLE_SET)
    finally:
        template.write_text(original, encoding="utf-8")
    assert edited.outputs["deployment_hash"] != plan.outputs["deployment_hash"]
    assert (
        edited.resource("aws_api_gateway_deployment.this")["triggers"]["redeployment"]
        == (edited.outputs["deployment_hash"])
    )
    restored = tf.plan(MODULE, BASE, context=ROLE_SET)
    assert restored.outputs["deployment_hash"] == plan.outputs["deployment_hash"]


def test_private_api_with_cors_authorizers_cache_and_account_role(tf: Workspace) -> None:
    pool = f"arn:aws:cognito-idp:us-east-1:{ACCOUNT}:userpool/us-east-1_example"
    waf = f"arn:aws:wafv2:us-east-1:{ACCOUNT}:regional/webacl/ml/abc"
    plan = tf.plan(
        MODULE,
        {
            "name": "ml-private",
            "account_cloudwatch_role": "create",
            "endpoint_configuration": {"type": "PRIVATE", "vpc_endpoint_ids": ["vpce-0abc"]},
            "cors": {"allow_origin": "https://app.example.com"},
            "lambda_function": BASE["lambda_function"],
            "authorizers": {"users": {"type": "COGNITO_USER_POOLS", "provider_arns": [pool]}},
            "routes": {
                "predict": {
                    "type": "lambda_proxy",
                    "path": "predict",
                    "authorization": "COGNITO_USER_POOLS",
                    "authorizer": "users",
                    "request_schema": json.dumps({"type": "object", "required": ["instances"]}),
                    "api_key_required": False,
                },
                "lookup": {
                    "type": "lambda_proxy",
                    "path": "predict",
                    "method": "GET",
                    "authorization": "AWS_IAM",
                    "query_parameters": {"data": True},
                    "cache_key_parameters": ["method.request.querystring.data"],
                    "api_key_required": False,
                },
            },
            "stages": {"prod": {"cache": {"size": "0.5", "ttl_in_seconds": 60}, "web_acl_arn": waf}},
        },
    )
    api = plan.resource("aws_api_gateway_rest_api.this")
    assert api["endpoint_configuration"] == [
        api["endpoint_configuration"][0] | {"types": ["PRIVATE"], "vpc_endpoint_ids": ["vpce-0abc"]}
    ]
    policy = json.loads(api["policy"])
    deny = next(s for s in policy["Statement"] if s["Effect"] == "Deny")
    assert deny["Condition"] == {"StringNotEquals": {"aws:SourceVpce": "vpce-0abc"}}

    document = _document(plan)
    assert document["servers"][0]["x-amazon-apigateway-endpoint-configuration"] == {
        "disableExecuteApiEndpoint": False,
        "vpcEndpointIds": ["vpce-0abc"],
    }
    operations = _operations(document)
    predict = operations["predict"]
    # COGNITO_USER_POOLS: the users authorizer, no API key.
    assert predict["security"] == [{"ml-private-users": []}]
    assert predict["requestBody"] == {
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}}
    }
    schemes = document["components"]["securitySchemes"]
    assert schemes["ml-private-users"]["x-amazon-apigateway-authtype"] == "cognito_user_pools"
    assert schemes["ml-private-users"]["x-amazon-apigateway-authorizer"] == {
        "type": "cognito_user_pools",
        "providerARNs": [pool],
        "identitySource": "method.request.header.Authorization",
        "authorizerResultTtlInSeconds": 300,
    }
    assert document["components"]["schemas"]["PredictRequest"] == {
        "type": "object",
        "required": ["instances"],
    }
    assert sorted(document["x-amazon-apigateway-request-validators"]) == [
        "ml-private-body",
        "ml-private-parameters",
    ]
    assert predict["x-amazon-apigateway-request-validator"] == "ml-private-body"
    # AWS_IAM: requests signed with SigV4.
    assert operations["lookup"]["security"] == [{"sigv4": []}]
    assert schemes["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    assert "api_key" not in schemes

    options = document["paths"]["/predict"]["options"]
    # No API key, no authorization: browsers send preflights without credentials.
    assert "security" not in options
    assert options["x-amazon-apigateway-integration"]["type"] == "mock"
    preflight = options["x-amazon-apigateway-integration"]["responses"]["default"]["responseParameters"]
    assert preflight["method.response.header.Access-Control-Allow-Methods"] == "'GET,OPTIONS,POST'"
    assert preflight["method.response.header.Access-Control-Allow-Origin"] == "'https://app.example.com'"
    assert set(options["responses"]["200"]["headers"]) == {
        "Access-Control-Allow-Headers",
        "Access-Control-Allow-Methods",
        "Access-Control-Allow-Origin",
        "Access-Control-Max-Age",
    }
    responses = document["x-amazon-apigateway-gateway-responses"]
    missing = responses["MISSING_AUTHENTICATION_TOKEN"]
    assert missing["statusCode"] == "403"
    assert missing["responseParameters"] == {
        "gatewayresponse.header.Access-Control-Allow-Origin": "'https://app.example.com'"
    }
    assert responses["THROTTLED"]["responseParameters"] == {
        "gatewayresponse.header.Access-Control-Allow-Origin": "'https://app.example.com'",
        "gatewayresponse.header.Retry-After": "'1'",
    }

    stage = plan.resource('aws_api_gateway_stage.this["prod"]')
    assert (stage["cache_cluster_enabled"], stage["cache_cluster_size"]) == (True, "0.5")
    assert plan.addresses("aws_api_gateway_method_settings.route") == [
        'aws_api_gateway_method_settings.route["prod/lookup"]'
    ]
    cached = plan.resource('aws_api_gateway_method_settings.route["prod/lookup"]')
    assert cached["method_path"] == "~1predict/GET"
    assert _subset(
        cached["settings"][0],
        {"caching_enabled": True, "cache_ttl_in_seconds": 60, "cache_data_encrypted": True},
    )
    assert operations["lookup"]["x-amazon-apigateway-integration"]["cacheKeyParameters"] == [
        "method.request.querystring.data"
    ]
    assert plan.resource('aws_wafv2_web_acl_association.this["prod"]')["web_acl_arn"] == waf

    assert plan.resource("aws_iam_role_policy_attachment.cloudwatch[0]")["policy_arn"] == (
        "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    )
    assert "aws_api_gateway_account.this[0]" in plan.resources
    assert "aws_iam_role.sagemaker[0]" not in plan.resources
    trust = json.loads(plan.resource("aws_iam_role.cloudwatch[0]")["assume_role_policy"])["Statement"]
    assert [s.get("Condition") for s in trust] == [None]
    # The stage logs by default: the account setting is part of this plan.
    assert (
        plan.resource('aws_api_gateway_method_settings.all["prod"]')["settings"][0]["logging_level"]
        == "ERROR"
    )


def _gateway_message(plan: PlanResult, response_type: str) -> str:
    response = _document(plan)["x-amazon-apigateway-gateway-responses"][response_type]
    return str(json.loads(response["responseTemplates"]["application/json"])["message"])


def test_integration_failure_speaks_of_answers_over_6_mb_only(plan: PlanResult) -> None:
    # An answer over Lambda's limit ends as INTEGRATION_FAILURE (502); a request event over it
    # is answered by API Gateway with 413, so this message does not speak of requests.
    message = _gateway_message(plan, "INTEGRATION_FAILURE")
    assert "answers must stay under 6 MB" in message
    assert "base64" in message
    assert "request" not in message.lower()


def test_request_too_large_names_both_limits(plan: PlanResult) -> None:
    message = _gateway_message(plan, "REQUEST_TOO_LARGE")
    assert "10 MB" in message
    assert "6 MB" in message


MINIMAL: dict[str, Any] = {
    "name": "churn-api",
    "lambda_function": BASE["lambda_function"],
    "routes": {"predict": {"type": "lambda_proxy", "path": "predict"}},
    "usage_plans": {"free": {"stages": ["prod"]}},
    "api_keys": {"app": {"usage_plan": "free"}},
}


def test_defaults_apply_on_a_fresh_account_with_no_logging(tf: Workspace) -> None:
    # The default context is a fresh account: the conformance layer refuses any logging stage.
    plan = tf.plan(MODULE, MINIMAL)
    settings = plan.resource('aws_api_gateway_method_settings.all["prod"]')["settings"][0]
    assert (settings["logging_level"], settings["data_trace_enabled"]) == ("OFF", False)
    assert plan.resource('aws_api_gateway_stage.this["prod"]')["access_log_settings"] == []
    assert not plan.addresses("aws_cloudwatch_log_group.")
    assert not plan.addresses("aws_api_gateway_account.")
    assert not plan.addresses("aws_iam_role.cloudwatch")


def test_an_existing_account_role_turns_logging_on_by_default(tf: Workspace) -> None:
    plan = tf.plan(MODULE, {**MINIMAL, "account_cloudwatch_role": "existing"}, context=ROLE_SET)
    assert (
        plan.resource('aws_api_gateway_method_settings.all["prod"]')["settings"][0]["logging_level"]
        == "ERROR"
    )
    assert len(plan.resource('aws_api_gateway_stage.this["prod"]')["access_log_settings"]) == 1
    assert not plan.addresses("aws_api_gateway_account.")


def test_usage_plan_method_throttle_paths_are_the_unescaped_resource_path(tf: Workspace) -> None:
    usage_plans = {
        "free": {
            "stages": ["prod"],
            "throttle": {"rate": 5, "burst": 10},
            "method_throttles": {"predict-model": {"rate": 1, "burst": 2}},
        }
    }
    routes = {
        "predict": {"type": "lambda_proxy", "path": "predict"},
        "predict-model": {"type": "lambda_proxy", "path": "predict/{model}"},
    }
    plan = tf.plan(MODULE, {**MINIMAL, "routes": routes, "usage_plans": usage_plans})
    stages = plan.resource('aws_api_gateway_usage_plan.this["free"]')["api_stages"]
    assert stages[0]["throttle"] == [{"path": "/predict/{model}/POST", "rate_limit": 1, "burst_limit": 2}]


def _with(**overrides: Any) -> dict[str, Any]:
    return {**BASE, **overrides}


def _minimal(**overrides: Any) -> dict[str, Any]:
    return {**MINIMAL, **overrides}


@pytest.mark.parametrize(
    ("tf_vars", "message"),
    [
        (
            _with(usage_plans={"free": {"stages": ["staging"]}}, api_keys={}),
            "usage_plans: stages must name keys of stages; unknown stage(s): staging.",
        ),
        (
            _with(routes={"x": {"type": "http_proxy", "path": "x"}}),
            "routes: type must be lambda_proxy or sagemaker; unknown type(s): http_proxy.",
        ),
        (
            _with(stages={"prod v2": {}}, usage_plans={}, api_keys={}),
            'stages: invalid stage name(s) "prod v2": a stage name is 1 to 128 letters, digits,',
        ),
        (
            _with(api_keys={"app": {"usage_plan": "gold"}}),
            "api_keys: usage_plan must name a key of usage_plans; unknown plan(s): gold.",
        ),
        (
            _with(routes={"r": {"type": "sagemaker", "path": "r", "method": "ANY"}}),
            "method ANY is allowed only on lambda_proxy routes",
        ),
        (
            {"name": "ml", "routes": {"p": {"type": "lambda_proxy", "path": "p"}}},
            "lambda_proxy routes need lambda_function",
        ),
        (
            {"name": "ml", "routes": {"r": {"type": "sagemaker", "path": "r"}}},
            "a sagemaker route needs endpoint_name, or set default_endpoint_name.",
        ),
        (
            _with(endpoint_configuration={"type": "PRIVATE"}),
            "a PRIVATE API needs vpc_endpoint_ids",
        ),
        (
            _with(
                routes={
                    "a": {"type": "lambda_proxy", "path": "p"},
                    "b": {"type": "lambda_proxy", "path": "/p/"},
                }
            ),
            "two routes serve the same method and path",
        ),
        (
            _with(stages={"prod": {"method_throttles": {"nope": {"rate": 1, "burst": 1}}}}),
            "stages: method_throttles keys must be route names",
        ),
        (
            _minimal(stages={"prod": {"logging_level": "INFO"}}),
            "stages: execution logging (logging_level ERROR or INFO, data_trace) and access logs need the "
            'region\'s API Gateway CloudWatch role, and account_cloudwatch_role = "none" says there is none',
        ),
        (
            _minimal(stages={"prod": {"access_logs": True}}),
            "CloudWatch Logs role ARN must be set in account settings to enable logging",
        ),
        (
            _minimal(stages={"prod": {"data_trace": True}}),
            'Set account_cloudwatch_role = "create" (this module sets the role) or "existing"',
        ),
        (
            _minimal(account_cloudwatch_role="yes"),
            'account_cloudwatch_role must be "none"',
        ),
        (
            _minimal(
                usage_plans={
                    "free": {"stages": ["prod"], "quota": {"limit": 10, "period": "DAY", "offset": 1}}
                }
            ),
            "usage_plans: quota.offset must be 0 for a DAY quota, 0 to 6 for WEEK and 0 to 27 for MONTH",
        ),
        (
            _minimal(
                usage_plans={
                    "free": {"stages": ["prod"], "quota": {"limit": 10, "period": "WEEK", "offset": 7}}
                }
            ),
            "hashicorp/aws refuses any other value",
        ),
        (
            _minimal(
                usage_plans={
                    "free": {"stages": ["prod"], "quota": {"limit": 10, "period": "MONTH", "offset": 28}}
                }
            ),
            "0 to 27 for MONTH: hashicorp/aws refuses",
        ),
        (
            _minimal(
                usage_plans={
                    "free": {"stages": ["prod"], "method_throttles": {"predict": {"rate": 1, "burst": 1}}}
                }
            ),
            "usage_plans: a plan with method_throttles needs throttle too",
        ),
        (
            _minimal(usage_plans={}, api_keys={}),
            "stages: routes require an API key (api_key_required is true by default), "
            "but no usage plan covers stage prod, so no key can ever be valid there",
        ),
        (
            _minimal(stages={"prod": {}, "test": {}}),
            "but no usage plan covers stage test, so no key can ever be valid there and every "
            "request would get 403",
        ),
    ],
    ids=[
        "plan-unknown-stage",
        "unknown-route-type",
        "invalid-stage-name",
        "key-unknown-plan",
        "any-on-sagemaker",
        "proxy-without-function",
        "sagemaker-without-endpoint",
        "private-without-vpce",
        "duplicate-route",
        "throttle-unknown-route",
        "logging-without-account-role",
        "access-logs-without-account-role",
        "data-trace-without-account-role",
        "account-role-unknown-value",
        "quota-offset-day",
        "quota-offset-week",
        "quota-offset-month",
        "method-throttles-without-plan-throttle",
        "key-routes-without-plans",
        "key-routes-stage-without-plan",
    ],
)
def test_bad_inputs_fail_with_their_message(tf: Workspace, tf_vars: dict[str, Any], message: str) -> None:
    assert message in tf.plan_error(MODULE, tf_vars)


def _check_problems(plan: PlanResult, name: str) -> list[str]:
    """The messages of a failed check block (Terraform reports them as warnings)."""
    checks = [c for c in plan.raw._raw.get("checks", []) if c["address"].get("to_display") == f"check.{name}"]
    assert checks, f"check.{name} is not in the plan"
    return [p["message"] for i in checks[0].get("instances", []) for p in i.get("problems", [])]


def test_a_stage_whose_plans_have_no_key_here_warns_but_plans(tf: Workspace) -> None:
    # Keys may be attached to the plan outside the module (output usage_plan_ids): not an error.
    plan = tf.plan(MODULE, _minimal(api_keys={"app": {"usage_plan": "free", "enabled": False}}))
    problems = _check_problems(plan, "usage_plans_have_keys")
    assert len(problems) == 1
    assert "the usage plans of stage(s) prod have no enabled key in api_keys" in problems[0]
    assert "external_keys = true" in problems[0]
    assert plan.resource('aws_api_gateway_usage_plan.this["free"]')["api_stages"][0]["stage"] == "prod"


def test_external_keys_says_the_keys_are_attached_elsewhere(tf: Workspace) -> None:
    plan = tf.plan(
        MODULE, _minimal(usage_plans={"free": {"stages": ["prod"], "external_keys": True}}, api_keys={})
    )
    assert _check_problems(plan, "usage_plans_have_keys") == []
    assert not plan.addresses("aws_api_gateway_api_key.")
    assert plan.addresses("aws_api_gateway_usage_plan.") == ['aws_api_gateway_usage_plan.this["free"]']


def test_plans_with_an_enabled_key_raise_no_warning(tf: Workspace) -> None:
    assert _check_problems(tf.plan(MODULE, MINIMAL), "usage_plans_have_keys") == []


def test_the_usage_plan_without_its_depends_on_fails_the_conformance_layer(tf: Workspace) -> None:
    # The module's usage plans name their stages through a dynamic block and wait for them
    # through depends_on: without it, a first apply may create a plan before its stage.
    copy = tf.path("modules/rest-api-no-stage-wait")
    if not copy.exists():
        shutil.copytree(tf.path(MODULE), copy)
        usage_plans = copy / "usage-plans.tf"
        text = usage_plans.read_text(encoding="utf-8")
        assert "  depends_on = [aws_api_gateway_stage.this]\n" in text
        usage_plans.write_text(
            text.replace("  depends_on = [aws_api_gateway_stage.this]\n", ""), encoding="utf-8"
        )
    error = tf.plan_error("modules/rest-api-no-stage-wait", MINIMAL)
    assert "apigateway.usage-plan-after-stage" in error
    assert "names stage 'prod', which this apply creates" in error


def test_a_stage_covered_by_usage_plans_managed_elsewhere_plans(tf: Workspace) -> None:
    # A usage plan of another stack (one shared by several APIs) may cover the stage: the stage
    # says so, and the conformance layer is told the same.
    stages = {"prod": {"external_usage_plans": True}}
    context = Context(region="us-east-1", apigateway_usage_plans_elsewhere=True)
    plan = tf.plan(MODULE, _minimal(stages=stages, usage_plans={}, api_keys={}), context=context)
    assert not plan.addresses("aws_api_gateway_usage_plan.")
    assert plan.addresses("aws_api_gateway_stage.") == ['aws_api_gateway_stage.this["prod"]']


def test_api_settings_live_in_the_document(tf: Workspace) -> None:
    plan = tf.plan(
        MODULE,
        _minimal(
            binary_media_types=["image/png", "application/octet-stream"],
            minimum_compression_size=1024,
            disable_execute_api_endpoint=True,
        ),
    )
    document = _document(plan)
    assert document["openapi"] == "3.0.1"
    assert document["x-amazon-apigateway-binary-media-types"] == ["image/png", "application/octet-stream"]
    assert document["x-amazon-apigateway-minimum-compression-size"] == 1024
    assert document["servers"][0]["x-amazon-apigateway-endpoint-configuration"] == {
        "disableExecuteApiEndpoint": True
    }
    # Only the document carries them (an argument would override it after each import).
    api = plan.resource("aws_api_gateway_rest_api.this")
    for argument in ("binary_media_types", "minimum_compression_size", "disable_execute_api_endpoint"):
        assert argument not in api, argument
    assert "put_rest_api_mode" not in api or api["put_rest_api_mode"] in (None, "overwrite")


def test_api_settings_default_to_text_no_compression_and_the_execute_api_endpoint(tf: Workspace) -> None:
    document = _document(tf.plan(MODULE, MINIMAL))
    assert document["x-amazon-apigateway-binary-media-types"] == []
    assert "x-amazon-apigateway-minimum-compression-size" not in document
    assert document["servers"][0]["x-amazon-apigateway-endpoint-configuration"] == {
        "disableExecuteApiEndpoint": False
    }
    assert "x-amazon-apigateway-request-validators" not in document


def test_lambda_authorizers_are_security_schemes_invoked_through_the_api(tf: Workspace) -> None:
    authorizer_arn = (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:churn-auth/invocations"
    )
    routes = {
        "predict": {
            "type": "lambda_proxy",
            "path": "predict",
            "authorization": "CUSTOM",
            "authorizer": "tokens",
        },
        "scored": {
            "type": "lambda_proxy",
            "path": "scored",
            "authorization": "COGNITO_USER_POOLS",
            "authorizer": "users",
            "authorization_scopes": ["ml/predict"],
            "api_key_required": False,
        },
    }
    authorizers = {
        "tokens": {
            "type": "TOKEN",
            "function_name": "churn-auth",
            "function_invoke_arn": authorizer_arn,
            "identity_source": "method.request.header.X-Token",
            "result_ttl_in_seconds": 0,
        },
        "users": {
            "type": "COGNITO_USER_POOLS",
            "provider_arns": [f"arn:aws:cognito-idp:us-east-1:{ACCOUNT}:userpool/us-east-1_example"],
        },
    }
    plan = tf.plan(MODULE, _minimal(routes=routes, authorizers=authorizers))
    document = _document(plan)
    scheme = document["components"]["securitySchemes"]["churn-api-tokens"]
    assert (scheme["type"], scheme["name"], scheme["in"]) == ("apiKey", "X-Token", "header")
    assert scheme["x-amazon-apigateway-authtype"] == "custom"
    assert scheme["x-amazon-apigateway-authorizer"] == {
        "type": "token",
        "authorizerUri": authorizer_arn,
        "identitySource": "method.request.header.X-Token",
        "authorizerResultTtlInSeconds": 0,
    }
    operations = _operations(document)
    # API key and authorizer both apply: one security requirement holding both.
    assert operations["predict"]["security"] == [{"api_key": [], "churn-api-tokens": []}]
    # Cognito scopes go with the authorizer in the operation's security.
    assert operations["scored"]["security"] == [{"churn-api-users": ["ml/predict"]}]
    permission = plan.resource('aws_lambda_permission.authorizer["tokens"]')
    assert (permission["function_name"], permission["principal"]) == (
        "churn-auth",
        "apigateway.amazonaws.com",
    )
    source_arn = _config_resource(plan, "aws_lambda_permission.authorizer")["expressions"]["source_arn"]
    assert source_arn["references"][0] == "aws_api_gateway_rest_api.this.execution_arn"
    assert not plan.addresses('aws_lambda_permission.authorizer["users"]')


def test_the_integration_role_arn_follows_its_path_and_an_existing_role(tf: Workspace) -> None:
    routes = {
        "score": {"type": "sagemaker", "path": "score", "endpoint_name": "churn", "api_key_required": False}
    }
    named = tf.plan(
        MODULE, {"name": "churn", "routes": routes, "iam_role": {"name": "ml-api", "path": "/ml/"}}
    )
    credentials = _operations(_document(named))["score"]["x-amazon-apigateway-integration"]["credentials"]
    assert credentials == f"arn:aws:iam::{ACCOUNT}:role/ml/ml-api"
    assert (
        named.resource("aws_iam_role.sagemaker[0]")["name"],
        named.resource("aws_iam_role.sagemaker[0]")["path"],
    ) == (
        "ml-api",
        "/ml/",
    )
    existing = f"arn:aws:iam::{ACCOUNT}:role/platform/apigw"
    plan = tf.plan(MODULE, {"name": "churn", "routes": routes, "iam_role": {"arn": existing}})
    assert _operations(_document(plan))["score"]["x-amazon-apigateway-integration"]["credentials"] == existing


@pytest.mark.parametrize(
    ("routes", "messages"),
    [
        (
            {"a": {"type": "lambda_proxy", "path": "p"}, "b": {"type": "lambda_proxy", "path": "/p/"}},
            ["two routes serve the same method and path", "a and b both serve POST /p"],
        ),
        (
            {
                "users": {"type": "lambda_proxy", "path": "users/{id}"},
                "ratings": {"type": "lambda_proxy", "path": "users/{user_id}/ratings", "method": "GET"},
            },
            [
                "must use the same parameter name at the same position",
                "route ratings has {user_id} where route users has {id}, after /users",
            ],
        ),
        (
            {
                "ok": {"type": "lambda_proxy", "path": "predict"},
                "bad": {"type": "lambda_proxy", "path": "v1/pre dict"},
            },
            [
                'routes: invalid path(s) bad ("v1/pre dict")',
                "API Gateway refuses other characters in a path part",
            ],
        ),
        (
            {"greedy": {"type": "lambda_proxy", "path": "files/{key+}/meta"}},
            [
                'invalid path(s) greedy ("files/{key+}/meta")',
                "a greedy {parameter+} only as the last segment",
            ],
        ),
    ],
    ids=["same-method-and-path", "parameter-names-differ", "path-characters", "greedy-not-last"],
)
def test_conflicting_or_invalid_routes_fail_naming_the_routes(
    tf: Workspace, routes: dict[str, Any], messages: list[str]
) -> None:
    error = tf.plan_error(MODULE, _minimal(routes=routes))
    for message in messages:
        assert message in error


@pytest.mark.parametrize(
    ("tf_vars", "message"),
    [
        (
            _minimal(minimum_compression_size=10485761),
            "minimum_compression_size must be a whole number of bytes from 0 to 10485760",
        ),
        (_minimal(minimum_compression_size=-1), "or null to turn compression off"),
        (_minimal(binary_media_types=["png"]), "binary_media_types: each entry must be a media type"),
    ],
    ids=["compression-above-10-mb", "compression-negative", "binary-type-not-a-media-type"],
)
def test_bad_api_settings_fail_with_their_message(
    tf: Workspace, tf_vars: dict[str, Any], message: str
) -> None:
    assert message in tf.plan_error(MODULE, tf_vars)


def test_a_compression_size_at_the_limit_plans(tf: Workspace) -> None:
    document = _document(tf.plan(MODULE, _minimal(minimum_compression_size=10485760)))
    assert document["x-amazon-apigateway-minimum-compression-size"] == 10485760


def test_an_invoke_arn_of_another_function_fails_before_the_api_changes(tf: Workspace) -> None:
    # The document invokes the function named by function_name; an invoke ARN beside it that names
    # another function means the caller wired two different functions.
    other = INVOKE_ARN.replace("churn-predict", "churn-other")
    error = tf.plan_error(
        MODULE, _minimal(lambda_function={"function_name": "churn-predict", "invoke_arn": other})
    )
    assert "lambda_function: invoke_arn does not match function_name" in error


def test_cors_preflights_convert_binary_requests_to_text_and_declare_path_parameters(tf: Workspace) -> None:
    """A preflight has no Content-Type; under */* it is binary, and a mock integration with a
    template but no contentHandling answers 500 (https://github.com/aws/chalice/issues/1310)."""
    plan = tf.plan(
        MODULE,
        _minimal(
            binary_media_types=["*/*"],
            cors={"allow_origin": "*"},
            routes={
                "predict": {"type": "lambda_proxy", "path": "predict/{model}"},
                "proxy": {"type": "lambda_proxy", "path": "files/{proxy+}", "method": "GET"},
            },
        ),
    )
    document = _document(plan)
    for path, names in (("/predict/{model}", ["model"]), ("/files/{proxy+}", ["proxy"])):
        preflight = document["paths"][path]["options"]
        assert preflight["x-amazon-apigateway-integration"]["contentHandling"] == "CONVERT_TO_TEXT"
        assert preflight["x-amazon-apigateway-integration"]["type"] == "mock"
        assert [(p["name"], p["in"], p["required"]) for p in preflight["parameters"]] == [
            (n, "path", True) for n in names
        ]


def test_a_preflight_on_a_path_without_parameters_declares_none(tf: Workspace) -> None:
    document = _document(tf.plan(MODULE, _minimal(cors={"allow_origin": "*"})))
    assert "parameters" not in document["paths"]["/predict"]["options"]


@pytest.mark.parametrize(
    ("binary_media_types", "routes", "named"),
    [
        (
            ["*/*"],
            {"score": {"type": "sagemaker", "path": "score"}},
            "score: application/json (binary media type */*)",
        ),
        (
            ["image/png", "text/*"],
            {"csv": {"type": "sagemaker", "path": "csv", "content_types": ["text/csv"]}},
            "csv: text/csv (binary media type text/*)",
        ),
        (
            ["application/json"],
            {
                "ratings": {
                    "type": "sagemaker",
                    "path": "ratings/{user_id}",
                    "method": "GET",
                    "mapping": "ratings",
                }
            },
            "ratings: application/json (binary media type application/json)",
        ),
    ],
    ids=["any-type", "type-wildcard", "exact-type"],
)
def test_binary_media_types_covering_a_sagemaker_routes_content_types_fail_naming_both(
    tf: Workspace, binary_media_types: list[str], routes: dict[str, Any], named: str
) -> None:
    message = tf.plan_error(
        MODULE,
        _minimal(
            default_endpoint_name="Churn-Prod",
            binary_media_types=binary_media_types,
            routes={**MINIMAL["routes"], **routes},
        ),
    )
    assert "binary_media_types covers the content types of direct SageMaker route(s)" in message
    assert named in message
    assert "serve those content types from a lambda_proxy route, or remove the binary media type" in message


def test_binary_media_types_beside_sagemaker_routes_of_other_types_plan(tf: Workspace) -> None:
    plan = tf.plan(
        MODULE,
        _minimal(
            default_endpoint_name="Churn-Prod",
            binary_media_types=["image/*", "application/octet-stream"],
            routes={**MINIMAL["routes"], "score": {"type": "sagemaker", "path": "score"}},
        ),
    )
    assert _document(plan)["x-amazon-apigateway-binary-media-types"] == [
        "image/*",
        "application/octet-stream",
    ]
