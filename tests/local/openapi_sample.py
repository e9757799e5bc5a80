"""A handcrafted OpenAPI document in API Gateway's import format, and the gateway around it.

Written as the extension reference describes each piece
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions.html),
with the module's own mapping templates and integration response table, so the local gateway can
be tested on every route kind without planning anything.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlgw_local.openapi import parse
from mlgw_local.plan import ApiKey, Bucket, Gateway, Quota, Stage, Throttle, UsagePlan

TEMPLATES = Path(__file__).resolve().parents[2] / "modules" / "rest-api" / "templates"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/churn-apigateway-sagemaker"
KEY = "developer-key-0123456789abcdefghijklmno"
OTHER_STAGE_KEY = "test-only-key-0123456789abcdefghijklmno"
QUOTA_KEY = "quota-key-0123456789abcdefghijklmnopqr"


def invoke_arn(function: str) -> str:
    return (
        "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function}/invocations"
    )


def _template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def _sagemaker_responses(success_template: str | None) -> dict[str, Any]:
    """The module's integration response table, keyed by selection pattern as the document keys it."""
    table = json.loads((TEMPLATES / "integration_responses.json").read_text(encoding="utf-8"))
    responses: dict[str, Any] = {}
    for spec in table.values():
        template = _template(spec["template"]) if spec["template"] else success_template
        response: dict[str, Any] = {"statusCode": spec["status_code"]}
        if template is not None:
            response["responseTemplates"] = {"application/json": template}
        if spec["response_headers"]:
            response["responseParameters"] = {
                f"method.response.header.{name}": value for name, value in spec["response_headers"].items()
            }
        responses[spec["selection_pattern"] or "default"] = response
    return responses


def _lambda(function: str = "churn-predict") -> dict[str, Any]:
    return {
        "type": "aws_proxy",
        "httpMethod": "POST",
        "uri": invoke_arn(function),
        "passthroughBehavior": "when_no_match",
        "timeoutInMillis": 29000,
    }


def _sagemaker(
    endpoint: str, templates: dict[str, str], success_template: str | None, **extra: Any
) -> dict[str, Any]:
    return {
        "type": "aws",
        "httpMethod": "POST",
        "uri": f"arn:aws:apigateway:us-east-1:runtime.sagemaker:path/endpoints/{endpoint}/invocations",
        "credentials": ROLE,
        "passthroughBehavior": "never",
        "requestTemplates": templates,
        "responses": _sagemaker_responses(success_template),
        "timeoutInMillis": 29000,
        **extra,
    }


def _error(code: str, message: str) -> dict[str, str]:
    return {
        "application/json": json.dumps({"message": message, "code": code, "requestId": "$context.requestId"})
    }


KEYED = [{"api_key": []}]
CORS = {
    "method.response.header.Access-Control-Allow-Origin": "'https://app.example.com'",
    "method.response.header.Access-Control-Allow-Methods": "'GET,OPTIONS'",
    "method.response.header.Access-Control-Allow-Headers": "'Content-Type,X-Api-Key'",
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.1",
        "info": {"title": "churn-api", "version": "1"},
        "paths": {
            "/predict": {
                "post": {
                    "operationId": "predict",
                    "security": KEYED,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}
                        },
                    },
                    "x-amazon-apigateway-request-validator": "body",
                    "responses": {"200": {"description": "The prediction"}},
                    "x-amazon-apigateway-integration": _lambda(),
                },
                "get": {
                    "operationId": "predict-get",
                    "security": KEYED,
                    "parameters": [
                        {"name": "data", "in": "query", "required": True, "schema": {"type": "string"}}
                    ],
                    "x-amazon-apigateway-request-validator": "parameters",
                    "responses": {"200": {"description": "The prediction"}},
                    "x-amazon-apigateway-integration": _lambda(),
                },
            },
            "/predict/{model}": {
                "parameters": [
                    {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "post": {
                    "operationId": "predict-model",
                    "security": KEYED,
                    "responses": {"200": {"description": "The prediction"}},
                    "x-amazon-apigateway-integration": _lambda(),
                },
            },
            "/predict/health": {
                "x-amazon-apigateway-any-method": {
                    "operationId": "health",
                    "responses": {"200": {"description": "Alive"}},
                    "x-amazon-apigateway-integration": _lambda("churn-health"),
                },
            },
            "/predicted-ratings/{user_id}": {
                "get": {
                    "operationId": "ratings",
                    "security": KEYED,
                    "parameters": [
                        {"name": "user_id", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "items", "in": "query", "required": True, "schema": {"type": "string"}},
                    ],
                    "x-amazon-apigateway-request-validator": "parameters",
                    "responses": {"200": {"description": "Ratings"}},
                    "x-amazon-apigateway-integration": _sagemaker(
                        "ratings",
                        {"application/json": _template("ratings_request.vtl")},
                        _template("ratings_response.vtl"),
                        requestParameters={
                            "integration.request.header.Content-Type": "'application/json'",
                            "integration.request.header.Accept": "'application/json'",
                        },
                    ),
                },
                "options": {
                    "operationId": "ratings-cors",
                    "responses": {"200": {"description": "CORS preflight"}},
                    "x-amazon-apigateway-integration": {
                        "type": "mock",
                        "requestTemplates": {"application/json": '{"statusCode": 200}'},
                        "passthroughBehavior": "when_no_match",
                        "responses": {"default": {"statusCode": "200", "responseParameters": CORS}},
                    },
                },
            },
            "/models/legacy/csv": {
                "post": {
                    "operationId": "csv",
                    "security": KEYED,
                    "parameters": [
                        {
                            "name": "X-Amzn-SageMaker-Custom-Attributes",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {"200": {"description": "Predictions"}},
                    "x-amazon-apigateway-integration": _sagemaker(
                        "legacy-csv",
                        {"text/csv": _template("passthrough_request.vtl")},
                        None,
                        requestParameters={
                            "integration.request.header.Content-Type": "'text/csv'",
                            "integration.request.header.Accept": "'text/csv'",
                            "integration.request.header.X-Amzn-SageMaker-Custom-Attributes": (
                                "method.request.header.X-Amzn-SageMaker-Custom-Attributes"
                            ),
                        },
                    ),
                },
            },
        },
        "components": {
            "schemas": {
                "PredictRequest": {
                    "type": "object",
                    "required": ["instances"],
                    "properties": {"instances": {"$ref": "#/components/schemas/Instances"}},
                },
                "Instances": {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
            },
            "securitySchemes": {"api_key": {"type": "apiKey", "name": "x-api-key", "in": "header"}},
        },
        "x-amazon-apigateway-request-validators": {
            "body": {"validateRequestBody": True, "validateRequestParameters": False},
            "parameters": {"validateRequestBody": False, "validateRequestParameters": True},
        },
        "x-amazon-apigateway-gateway-responses": {
            "INVALID_API_KEY": {
                "statusCode": "403",
                "responseTemplates": _error("InvalidApiKey", "Forbidden"),
            },
            "MISSING_AUTHENTICATION_TOKEN": {
                "statusCode": "404",
                "responseTemplates": _error("NotFound", "No route"),
            },
            "THROTTLED": {
                "statusCode": "429",
                "responseParameters": {
                    "gatewayresponse.header.Retry-After": "'1'",
                    "gatewayresponse.header.X-Stage": "context.stage",
                },
                "responseTemplates": _error("Throttled", "Too many requests"),
            },
            "QUOTA_EXCEEDED": {
                "statusCode": "429",
                "responseTemplates": _error("QuotaExceeded", "Quota used up"),
            },
            "BAD_REQUEST_BODY": {"statusCode": "400", "responseTemplates": _error("BadRequest", "Bad body")},
            "INTEGRATION_FAILURE": {
                "statusCode": "502",
                "responseTemplates": _error("IntegrationFailure", "Failed"),
            },
            "DEFAULT_4XX": {
                "responseParameters": {"gatewayresponse.header.Access-Control-Allow-Origin": "'*'"},
                "responseTemplates": {
                    "application/json": (
                        '{"message": $context.error.messageString, "code": "ClientError", '
                        '"requestId": "$context.requestId"}'
                    )
                },
            },
        },
        "x-amazon-apigateway-api-key-source": "HEADER",
        "x-amazon-apigateway-binary-media-types": ["image/png", "application/octet-stream"],
    }


def gateway(doc: dict[str, Any] | None = None, *, quota: int | None = None) -> Gateway:
    """The document with a prod stage (throttled per method on the ratings route), a test stage,
    and keys of usage plans as the module's outputs describe them."""
    return Gateway(
        example="unit",
        api=parse(doc or document()),
        stages={
            "prod": Stage(
                "prod",
                {"modelVersion": "3"},
                None,
                {("/predicted-ratings/{user_id}", "GET"): Throttle(rate=0.001, burst=3)},
            ),
            "test": Stage("test", {}, None, {}),
        },
        usage_plans={
            "developer": UsagePlan("churn-developer", ("prod",), None, None, {}),
            "testers": UsagePlan("churn-testers", ("test",), None, None, {}),
            "tiny": UsagePlan("churn-tiny", ("prod",), None, Quota(quota, "DAY", 0) if quota else None, {}),
        },
        api_keys={
            "developer": ApiKey("churn-developer", KEY, True, "developer", False),
            "tester": ApiKey("churn-tester", OTHER_STAGE_KEY, True, "testers", False),
            "tiny": ApiKey("churn-tiny", QUOTA_KEY, True, "tiny", False),
        },
        buckets={"unused": Bucket("unused", False)},
    )
