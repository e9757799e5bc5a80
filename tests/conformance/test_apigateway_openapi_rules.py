"""API Gateway rules over an OpenAPI ``body``: each plan of a REST API whose document breaks a
rule fails naming the rule, and the clean document plans. The documents are written in AWS's
documented format (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions.html)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from tfharness import Workspace
from tfharness.conformance.openapi import Document, parse, route_table
from tfharness.conformance.rules.apigateway_openapi import java_pattern_error, validation_errors

pytestmark = pytest.mark.terraform

ROLE_ARN = "arn:aws:iam::123456789012:role/conformance-sagemaker"
LAMBDA_URI = (
    "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
    "arn:aws:lambda:us-east-1:123456789012:function:churn-predict/invocations"
)
SAGEMAKER_URI = "arn:aws:apigateway:us-east-1:runtime.sagemaker:path/endpoints/{endpoint}/invocations"
JSON_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/Rows"}}}
PROXY = {"name": "proxy", "in": "path", "required": True, "schema": {"type": "string"}}
LAMBDA_PROXY = {"type": "aws_proxy", "httpMethod": "POST", "uri": LAMBDA_URI}

# Every route kind the module has: a direct SageMaker route with mappings and integration
# responses, a Lambda proxy, a mock, and a greedy path whose operation has no responses (as AWS's
# own examples write it).
GOOD: dict[str, Any] = {
    "openapi": "3.0.1",
    "info": {"title": "conformance", "version": "1"},
    "x-amazon-apigateway-api-key-source": "HEADER",
    "x-amazon-apigateway-binary-media-types": ["application/octet-stream"],
    "x-amazon-apigateway-request-validators": {
        "all": {"validateRequestBody": True, "validateRequestParameters": True},
        "params-only": {"validateRequestBody": False, "validateRequestParameters": True},
    },
    "x-amazon-apigateway-gateway-responses": {
        "DEFAULT_4XX": {
            "statusCode": "400",
            "responseTemplates": {"application/json": '{"message": $context.error.messageString}'},
        },
        "INVALID_API_KEY": {"statusCode": 403},
    },
    "components": {
        "securitySchemes": {"api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}},
        "schemas": {"Rows": {"type": "object"}},
        "parameters": {"Model": dict(PROXY, name="model")},
    },
    "paths": {
        "/predict/{model}": {
            "post": {
                "summary": "Score rows with a SageMaker endpoint",
                "parameters": [
                    {"$ref": "#/components/parameters/Model"},
                    {"name": "x-request-id", "in": "header", "schema": {"type": "string"}},
                ],
                "requestBody": {"content": JSON_BODY},
                "responses": {"200": {"description": "predictions"}, "500": {"description": "failure"}},
                "security": [{"api_key": []}],
                "x-amazon-apigateway-request-validator": "all",
                "x-amazon-apigateway-integration": {
                    "type": "aws",
                    "httpMethod": "POST",
                    "uri": SAGEMAKER_URI,
                    "credentials": ROLE_ARN,
                    "passthroughBehavior": "never",
                    "timeoutInMillis": 29000,
                    "requestParameters": {
                        "integration.request.path.endpoint": "method.request.path.model",
                        "integration.request.header.X-Request-Id": "method.request.header.x-request-id",
                        "integration.request.header.X-Stage": "'prod'",
                        "integration.request.header.X-Trace": "context.requestId",
                    },
                    "requestTemplates": {"application/json": "$input.body"},
                    "responses": {
                        "default": {"statusCode": "200"},
                        "5\\d{2}": {"statusCode": "500"},
                        "\\QModel error (\\E.*": {"statusCode": "500"},
                        "\\p{Alpha}+ failed": {"statusCode": "500"},
                    },
                },
            }
        },
        "/explain": {
            "post": {
                "responses": {"200": {"description": "explanation"}},
                "x-amazon-apigateway-request-validator": "params-only",
                "x-amazon-apigateway-integration": dict(LAMBDA_PROXY, type="AWS_PROXY"),
            }
        },
        "/health": {
            "get": {
                "responses": {"200": {"description": "healthy"}},
                "x-amazon-apigateway-integration": {
                    "type": "mock",
                    "requestTemplates": {"application/json": '{"statusCode": 200}'},
                    "responses": {"default": {"statusCode": "200"}},
                },
            }
        },
        "/files/{proxy+}": {
            "x-amazon-apigateway-any-method": {
                "parameters": [PROXY],
                "responses": {},
                "x-amazon-apigateway-integration": LAMBDA_PROXY,
            },
            "get": {
                "parameters": [PROXY],
                "responses": {},
                "x-amazon-apigateway-integration": LAMBDA_PROXY,
            },
        },
    },
}

SOURCE_ACCOUNT = """condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = ["123456789012"]
    }"""
BODY_TRIGGER = "triggers = { redeployment = sha1(aws_api_gateway_rest_api.this.body) }"
USAGE_PLAN = """
resource "aws_api_gateway_usage_plan" "this" {
  name = "conformance"
  api_stages {
    api_id = aws_api_gateway_rest_api.this.id
    stage  = aws_api_gateway_stage.prod.stage_name
  }
}
"""


def _hcl(document: dict[str, Any]) -> str:
    """The document as an HCL expression: JSON is HCL object syntax once template sequences are
    escaped."""
    return json.dumps(document, indent=2).replace("${", "$${").replace("%{", "%%{")


def _config(
    document: dict[str, Any] | str = GOOD,
    condition: str = "",
    triggers: str = BODY_TRIGGER,
    usage_plan: str = USAGE_PLAN,
    extra: str = "",
) -> str:
    body = document if isinstance(document, str) else _hcl(document)
    return f"""
data "aws_iam_policy_document" "assume" {{
  statement {{
    actions = ["sts:AssumeRole"]
    principals {{
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }}
    {condition}
  }}
}}

resource "aws_iam_role" "sagemaker" {{
  name               = "conformance-sagemaker"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}}

resource "aws_api_gateway_rest_api" "this" {{
  name = "conformance"
  body = jsonencode({body})
}}

resource "aws_api_gateway_deployment" "this" {{
  rest_api_id = aws_api_gateway_rest_api.this.id
  {triggers}
  lifecycle {{
    create_before_destroy = true
  }}
}}

resource "aws_api_gateway_stage" "prod" {{
  rest_api_id   = aws_api_gateway_rest_api.this.id
  deployment_id = aws_api_gateway_deployment.this.id
  stage_name    = "prod"
}}
{usage_plan}
{extra}
"""


def _changed(change: Callable[[dict[str, Any]], object]) -> dict[str, Any]:
    document = copy.deepcopy(GOOD)
    change(document)
    return document


def _predict(document: dict[str, Any]) -> dict[str, Any]:
    return document["paths"]["/predict/{model}"]["post"]


def _integration(document: dict[str, Any]) -> dict[str, Any]:
    return _predict(document)["x-amazon-apigateway-integration"]


def _explain(document: dict[str, Any]) -> dict[str, Any]:
    return document["paths"]["/explain"]["post"]["x-amazon-apigateway-integration"]


def test_a_document_in_aws_format_with_every_route_kind_plans(tf: Workspace) -> None:
    plan = tf.plan(tf.inline(_config()))
    assert json.loads(plan.resource("aws_api_gateway_rest_api.this")["body"]) == GOOD


# --------------------------------------------------------------------- rules of the document

BREAKS: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("apigateway.openapi-document-valid", lambda d: d.pop("info"), "'info' is a required property"),
    (
        "apigateway.openapi-integration-type",
        lambda d: _integration(d).update(type="lambda"),
        "'lambda' is no integration type",
    ),
    (
        "apigateway.openapi-integration-http-method",
        lambda d: _explain(d).pop("httpMethod"),
        "a aws_proxy integration needs httpMethod",
    ),
    (
        "apigateway.openapi-integration-http-method",
        lambda d: _explain(d).update(httpMethod="GET"),
        "a Lambda function is invoked with POST, not 'GET'",
    ),
    (
        "apigateway.openapi-passthrough-behavior",
        lambda d: _integration(d).update(passthroughBehavior="when_no_template"),
        "must be when_no_match, when_no_templates or never",
    ),
    (
        "apigateway.openapi-request-parameter-syntax",
        lambda d: _integration(d)["requestParameters"].update({"integration.request.header.X-Stage": "prod"}),
        "'prod' is no mapping expression",
    ),
    (
        "apigateway.openapi-request-parameter-syntax",
        lambda d: _integration(d)["requestParameters"].update({"integration.request.body.x": "'x'"}),
        "the key must be integration.request.<path|querystring|header",
    ),
    (
        "apigateway.openapi-request-parameter-declared",
        lambda d: _integration(d)["requestParameters"].update(
            {"integration.request.querystring.v": "method.request.querystring.version"}
        ),
        "Invalid mapping expression parameter specified: method.request.querystring.version",
    ),
    (
        "apigateway.openapi-selection-pattern",
        lambda d: _integration(d)["responses"].update({"(5\\d{2}": {"statusCode": "500"}}),
        "is no Java regular expression (missing ), unterminated subpattern",
    ),
    (
        "apigateway.openapi-gateway-responses",
        lambda d: d["x-amazon-apigateway-gateway-responses"].update({"NOT_FOUND": {"statusCode": "404"}}),
        "'NOT_FOUND' is no gateway response type",
    ),
    (
        "apigateway.openapi-gateway-responses",
        lambda d: d["x-amazon-apigateway-gateway-responses"]["DEFAULT_4XX"].update(statusCode="4xx"),
        "'4xx' must be an HTTP status code",
    ),
    (
        "apigateway.openapi-request-validator-declared",
        lambda d: _predict(d).update({"x-amazon-apigateway-request-validator": "body-only"}),
        "'body-only' names no validator of x-amazon-apigateway-request-validators",
    ),
    (
        "apigateway.openapi-api-key-source",
        lambda d: d.update({"x-amazon-apigateway-api-key-source": "QUERY"}),
        "'QUERY' must be HEADER",
    ),
    (
        "apigateway.integration-timeout",
        lambda d: _integration(d).update(timeoutInMillis=10),
        "x-amazon-apigateway-integration.timeoutInMillis: 10 ms is outside 50 to 300000 ms",
    ),
    (
        "apigateway.sagemaker-integration-uri",
        lambda d: _integration(d).update(uri=SAGEMAKER_URI.replace("invocations", "invoke")),
        "a SageMaker runtime integration is arn:<partition>:apigateway",
    ),
    (
        "apigateway.sagemaker-integration-uri",
        lambda d: _integration(d).update(uri=SAGEMAKER_URI.replace("{endpoint}", "churn_prod")),
        "'churn_prod' is not a SageMaker endpoint name",
    ),
]


@pytest.mark.parametrize(("rule", "change", "words"), BREAKS, ids=[f"{r}:{w[:24]}" for r, _, w in BREAKS])
def test_a_document_breaking_an_import_rule_is_rejected(
    tf: Workspace, rule: str, change: Callable[[dict[str, Any]], object], words: str
) -> None:
    error = tf.plan_error(tf.inline(_config(_changed(change))))
    assert f"[{rule}]" in error
    assert "aws_api_gateway_rest_api.body" in error or "aws_api_gateway_rest_api.this.body" in error
    assert words in error


def test_a_body_that_is_not_openapi_at_all_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_config('{ swagger = "1.2", paths = {} }')))
    assert "[apigateway.openapi-document-valid]" in error
    assert "names no OpenAPI version" in error


def test_the_validator_departures_tolerated_are_only_those_aws_documents() -> None:
    body = json.dumps(GOOD)
    assert validation_errors(body) == ()
    strict = validation_errors(body, strict=True)
    assert strict
    assert all("/files/{proxy+}" in e for e in strict)


@pytest.mark.parametrize("pattern", ["5\\d{2}", "\\Q(\\E.*", "\\p{Alpha}+", "(?<code>\\d+)", "a{2,3}+", ".*"])
def test_java_patterns_python_reads_differently_are_never_refused(pattern: str) -> None:
    assert java_pattern_error(pattern) is None


@pytest.mark.parametrize("pattern", ["(5\\d{2}", "[4", "*error", "a**", "[z-a]"])
def test_patterns_java_cannot_compile_are_refused(pattern: str) -> None:
    assert java_pattern_error(pattern)


# --------------------------------------------------------------------- rules across resources


def test_integration_role_named_by_arn_in_the_body_with_source_account_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_config(condition=SOURCE_ACCOUNT)))
    assert "[apigateway.integration-role-trust] aws_iam_role.sagemaker.assume_role_policy" in error
    assert "does not set for integration credentials" in error


def test_integration_role_referenced_by_the_body_with_source_account_is_rejected(tf: Workspace) -> None:
    # The document takes the role's ARN from the role: the body is known only after apply.
    body = _hcl(GOOD).replace(json.dumps(ROLE_ARN), "aws_iam_role.sagemaker.arn")
    assert "aws_iam_role.sagemaker.arn" in body
    error = tf.plan_error(tf.inline(_config(body, condition=SOURCE_ACCOUNT)))
    assert "[apigateway.integration-role-trust] aws_iam_role.sagemaker" in error
    assert tf.plan(tf.inline(_config(body))).resources


def test_keyed_operations_on_a_stage_without_usage_plan_are_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_config(usage_plan="")))
    assert "[apigateway.api-key-without-usage-plan] aws_api_gateway_rest_api.this.body" in error
    assert "POST /predict/{model} require an API key" in error
    assert "stage 'prod' of the API has no usage plan" in error
    # Without the api_key requirement, no usage plan is needed.
    keyless = _changed(lambda d: _predict(d).pop("security"))
    assert tf.plan(tf.inline(_config(keyless, usage_plan=""))).resources


@pytest.mark.parametrize(
    "triggers",
    ["", "triggers = { redeployment = aws_api_gateway_rest_api.this.id }", 'triggers = { release = "v1" }'],
)
def test_deployment_whose_triggers_do_not_follow_the_body_is_rejected(tf: Workspace, triggers: str) -> None:
    error = tf.plan_error(tf.inline(_config(triggers=triggers)))
    assert "apigateway.deployment-triggers-body" in error
    assert "aws_api_gateway_deployment.this.triggers" in error
    assert "a changed document is never deployed to the stages" in error


def test_deployment_triggered_by_a_hash_of_the_document_and_stage_inputs_plans(tf: Workspace) -> None:
    # The module's form: a hash of the document it renders and of stage-relevant inputs.
    extra = 'locals {\n  redeploy = sha1(jsonencode([aws_api_gateway_rest_api.this.body, "prod"]))\n}\n'
    hcl = _config(triggers="triggers = { redeployment = local.redeploy }", extra=extra)
    assert tf.plan(tf.inline(hcl)).resources


# --------------------------------------------------------------------- the document reader

ROUTES = """
openapi: 3.0.1
info: {title: routes, version: "1"}
security: [{api_key: []}]
x-amazon-apigateway-request-validator: all
x-amazon-apigateway-request-validators:
  all: {validateRequestBody: true, validateRequestParameters: true}
  params-only: {validateRequestBody: false, validateRequestParameters: true}
x-amazon-apigateway-binary-media-types: [image/png, application/octet-stream]
components:
  schemas:
    Rows: {type: object}
  securitySchemes:
    api_key: {type: apiKey, name: x-api-key, in: header}
    jwt:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: cognito_user_pools
    tokens:
      type: apiKey
      name: Authorization
      in: header
      x-amazon-apigateway-authtype: custom
      x-amazon-apigateway-authorizer: {type: token, authorizerUri: "LAMBDA_URI"}
    sigv4: {type: apiKey, name: Authorization, in: header, x-amazon-apigateway-authtype: awsSigv4}
  parameters:
    Model: {name: model, in: path, required: true, schema: {type: string}}
paths:
  /predict/{model}:
    parameters: [{$ref: '#/components/parameters/Model'}]
    post:
      summary: Score | rows
      parameters:
        - {name: format, in: query, schema: {type: string}}
        - {name: rows, in: query, required: true, schema: {type: string}}
        - {name: X-Tenant, in: header, required: true, schema: {type: string}}
      requestBody: {content: {application/json: {schema: {$ref: '#/components/schemas/Rows'}}}}
      x-amazon-apigateway-integration: {type: aws, httpMethod: POST, uri: "SAGEMAKER_URI"}
    options:
      security: []
      x-amazon-apigateway-request-validator: params-only
      x-amazon-apigateway-integration:
        type: mock
        responses:
          default:
            statusCode: "200"
            responseParameters: {method.response.header.Access-Control-Allow-Origin: "'*'"}
  /admin:
    x-amazon-apigateway-any-method:
      security: [{tokens: [], api_key: []}, {jwt: []}, {sigv4: []}]
      x-amazon-apigateway-request-validator: checks
      x-amazon-apigateway-integration: {type: aws_proxy, httpMethod: POST, uri: "LAMBDA_URI"}
""".replace("SAGEMAKER_URI", SAGEMAKER_URI).replace("LAMBDA_URI", LAMBDA_URI)


def test_route_table_lists_every_operation_with_its_integration_auth_validation_and_notes() -> None:
    assert route_table(parse(ROUTES)) == (
        "| Method | Path | Integration | Auth | Request validation | Notes |\n"
        "|---|---|---|---|---|---|\n"
        "| ANY | `/admin` | Lambda proxy: function `churn-predict` "
        "| Lambda authorizer `tokens` + API key or Cognito authorizer `jwt` or IAM "
        "| `checks` (not declared) |  |\n"
        "| OPTIONS | `/predict/{model}` | mock | none | parameters "
        "| CORS preflight, answered by API Gateway |\n"
        "| POST | `/predict/{model}` | SageMaker: endpoint `{endpoint}` | API key "
        "| body (`Rows`), parameters "
        "| Score \\| rows; required query: `rows`; optional query: `format`; required header: `X-Tenant` |\n"
        "\n"
        "Binary media types (API-wide, x-amazon-apigateway-binary-media-types): `image/png`, "
        "`application/octet-stream`.\n"
    )


def test_the_reader_resolves_refs_and_reads_yaml_as_json() -> None:
    yaml_document = parse(ROUTES)
    json_document = parse(json.dumps(yaml_document.raw))
    assert route_table(yaml_document) == route_table(json_document.raw)
    post = next(o for o in yaml_document.operations() if o.method == "POST")
    assert post.declared("path") == {"model"}
    assert yaml_document.requires_api_key(post)
    assert isinstance(yaml_document, Document)
    assert yaml_document.version == "3.0"
