"""A REST API's OpenAPI document, read as API Gateway reads it on import.

The document is the one ``modules/rest-api`` sets as ``aws_api_gateway_rest_api.body`` and
exposes as its ``openapi`` output: OpenAPI 3.0 with API Gateway's extensions
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions.html).
Every operation, integration, validator, model and gateway response local mode serves comes from
here; nothing is read from the module's internals.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jsonschema
from jsonschema.protocols import Validator

# Operation keys of a path item: the HTTP methods OpenAPI names, plus API Gateway's ANY.
_METHODS = {
    "get": "GET",
    "put": "PUT",
    "post": "POST",
    "delete": "DELETE",
    "options": "OPTIONS",
    "head": "HEAD",
    "patch": "PATCH",
    "x-amazon-apigateway-any-method": "ANY",
}
# OpenAPI's parameter locations, named as API Gateway's mapping expressions name them.
_LOCATIONS = {"path": "path", "query": "querystring", "header": "header"}
# A Lambda invoke ARN: ...:lambda:path/2015-03-31/functions/<function ARN>/invocations, the
# function ARN ending in function:<name> or function:<name>:<qualifier>.
_LAMBDA_URI = re.compile(
    r":lambda:path/2015-03-31/functions/arn:[^:]+:lambda:[^:]+:[^:]+:function:([^:/]+)(?::[^/]+)?/invocations$"
)
# The SageMaker runtime action of an AWS integration (the path may carry a doubled slash).
_SAGEMAKER_URI = re.compile(r":runtime\.sagemaker:path/+endpoints/([^/]+)/invocations$")
_SERVED = {"AWS_PROXY", "AWS", "MOCK"}


class DocumentError(ValueError):
    """The document holds something API Gateway would refuse or local mode does not serve."""


@dataclass(frozen=True)
class Parameter:
    location: str  # path, querystring or header
    name: str
    required: bool


@dataclass(frozen=True)
class IntegrationResponse:
    key: str
    selection_pattern: str | None
    status_code: int
    parameters: dict[str, str]
    templates: dict[str, str]
    content_handling: str | None


@dataclass(frozen=True)
class Integration:
    type: str  # AWS_PROXY, AWS or MOCK
    uri: str | None
    http_method: str | None
    passthrough_behavior: str
    request_parameters: dict[str, str]
    request_templates: dict[str, str]
    responses: dict[str, IntegrationResponse]
    timeout_seconds: float
    content_handling: str | None

    @property
    def function_name(self) -> str | None:
        """The Lambda function a proxy integration invokes, from its invoke ARN."""
        found = _LAMBDA_URI.search(self.uri or "")
        return found[1] if found else None

    @property
    def endpoint_name(self) -> str | None:
        """The SageMaker endpoint an AWS integration invokes, from its action URI."""
        found = _SAGEMAKER_URI.search(self.uri or "")
        return found[1] if found else None


@dataclass(frozen=True)
class Operation:
    """One method of the API: its method request and its integration."""

    path: str  # as the document keys it: "/predict/{model}"
    method: str  # upper case, or ANY
    operation_id: str
    parameters: tuple[Parameter, ...]
    api_key_required: bool
    validate_parameters: bool
    validate_body: bool
    body_schemas: dict[str, Validator]
    integration: Integration

    @property
    def segments(self) -> list[str]:
        return [s for s in self.path.split("/") if s]


@dataclass(frozen=True)
class GatewayResponse:
    status_code: int | None
    parameters: dict[str, str]
    templates: dict[str, str]


@dataclass(frozen=True)
class Api:
    title: str
    operations: list[Operation] = field(default_factory=list)
    gateway_responses: dict[str, GatewayResponse] = field(default_factory=dict)
    binary_media_types: tuple[str, ...] = ()
    api_key_source: str = "HEADER"


def _upper(value: Any, default: str) -> str:
    return str(value).upper() if value else default


def _api_key_schemes(document: Mapping[str, Any]) -> set[str]:
    """Security schemes that are API Gateway's API key: type apiKey, header x-api-key, and not
    an authorizer (authorizers are apiKey schemes too, marked by x-amazon-apigateway-authtype)
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-key-usage-plan-oas.html)."""
    schemes = (document.get("components") or {}).get("securitySchemes") or {}
    return {
        name
        for name, scheme in schemes.items()
        if scheme.get("type") == "apiKey"
        and str(scheme.get("name", "")).lower() == "x-api-key"
        and scheme.get("in") == "header"
        and "x-amazon-apigateway-authtype" not in scheme
        and "x-amazon-apigateway-authorizer" not in scheme
    }


def _body_validators(
    document: Mapping[str, Any], request_body: Mapping[str, Any] | None
) -> dict[str, Validator]:
    """A draft-4 validator per media type of the request body (API Gateway's models are JSON
    Schema draft 4), resolving ``#/components/schemas/...`` references against the document."""
    validators: dict[str, Validator] = {}
    for media_type, content in ((request_body or {}).get("content") or {}).items():
        schema = content.get("schema")
        if schema is None:
            continue
        root = {**schema, "components": document.get("components") or {}}
        validators[media_type.lower()] = jsonschema.Draft4Validator(root)
    return validators


def _integration(where: str, spec: Mapping[str, Any]) -> Integration:
    kind = _upper(spec.get("type"), "")
    if kind not in _SERVED:
        raise DocumentError(f"{where}: integration type {spec.get('type')!r} is not served by local mode")
    responses = {}
    for key, response in (spec.get("responses") or {}).items():
        responses[key] = IntegrationResponse(
            key=key,
            # "default" is the response of no selection pattern.
            selection_pattern=None if key == "default" else key,
            status_code=int(response["statusCode"]),
            parameters={k: str(v) for k, v in (response.get("responseParameters") or {}).items()},
            templates=dict(response.get("responseTemplates") or {}),
            content_handling=response.get("contentHandling"),
        )
    integration = Integration(
        type=kind,
        uri=spec.get("uri"),
        http_method=spec.get("httpMethod"),
        # WHEN_NO_MATCH is API Gateway's default passthrough behaviour
        # (https://docs.aws.amazon.com/apigateway/latest/api/API_Integration.html).
        passthrough_behavior=_upper(spec.get("passthroughBehavior"), "WHEN_NO_MATCH"),
        request_parameters={k: str(v) for k, v in (spec.get("requestParameters") or {}).items()},
        request_templates=dict(spec.get("requestTemplates") or {}),
        responses=responses,
        # 29 seconds unless the integration says otherwise.
        timeout_seconds=int(spec.get("timeoutInMillis") or 29000) / 1000,
        content_handling=spec.get("contentHandling"),
    )
    if kind == "AWS_PROXY" and integration.function_name is None:
        raise DocumentError(f"{where}: {integration.uri} is not a Lambda invoke ARN local mode can serve")
    if kind == "AWS" and integration.endpoint_name is None:
        raise DocumentError(f"{where}: AWS integration {integration.uri} is not served by local mode")
    return integration


def parse(document: Mapping[str, Any]) -> Api:
    """The API the document describes, with every reference resolved."""
    validators = document.get("x-amazon-apigateway-request-validators") or {}
    default_validator = document.get("x-amazon-apigateway-request-validator")
    key_schemes = _api_key_schemes(document)
    api = Api(
        title=str((document.get("info") or {}).get("title", "")),
        binary_media_types=tuple(document.get("x-amazon-apigateway-binary-media-types") or ()),
        api_key_source=_upper(document.get("x-amazon-apigateway-api-key-source"), "HEADER"),
    )
    for path, item in (document.get("paths") or {}).items():
        shared = item.get("parameters") or []
        for key, operation in item.items():
            method = _METHODS.get(key)
            if method is None:
                continue
            where = f"{method} {path}"
            spec = operation.get("x-amazon-apigateway-integration")
            if spec is None:
                raise DocumentError(f"{where} has no x-amazon-apigateway-integration")
            # An operation's parameters override the path item's of the same name and location.
            parameters: dict[tuple[str, str], Parameter] = {}
            for parameter in [*shared, *(operation.get("parameters") or [])]:
                location = _LOCATIONS.get(parameter.get("in", ""))
                if location is not None:
                    parameters[(location, parameter["name"])] = Parameter(
                        location, parameter["name"], bool(parameter.get("required"))
                    )
            validator_name = operation.get("x-amazon-apigateway-request-validator", default_validator)
            if validator_name and validator_name not in validators:
                raise DocumentError(f"{where}: request validator {validator_name!r} is not defined")
            validator = validators[validator_name] if validator_name else {}
            security = operation.get("security") or []
            api.operations.append(
                Operation(
                    path=path,
                    method=method,
                    operation_id=str(operation.get("operationId") or where),
                    parameters=tuple(parameters.values()),
                    api_key_required=any(set(requirement) & key_schemes for requirement in security),
                    validate_parameters=bool(validator.get("validateRequestParameters")),
                    validate_body=bool(validator.get("validateRequestBody")),
                    body_schemas=_body_validators(document, operation.get("requestBody")),
                    integration=_integration(where, spec),
                )
            )
    for response_type, response in (document.get("x-amazon-apigateway-gateway-responses") or {}).items():
        status = response.get("statusCode")
        api.gateway_responses[response_type] = GatewayResponse(
            status_code=int(status) if status else None,
            parameters={k: str(v) for k, v in (response.get("responseParameters") or {}).items()},
            templates=dict(response.get("responseTemplates") or {}),
        )
    if api.api_key_source != "HEADER" and any(op.api_key_required for op in api.operations):
        raise DocumentError(
            f"x-amazon-apigateway-api-key-source {api.api_key_source}: local mode reads keys from the "
            "x-api-key header only"
        )
    return api


def media_type(header: str | None) -> str | None:
    """The first media type of a Content-Type or Accept value, without parameters, lower-cased."""
    if not header:
        return None
    first = header.split(",", 1)[0].split(";", 1)[0].strip().lower()
    return first or None


def is_binary(header: str | None, binary_media_types: tuple[str, ...]) -> bool:
    """Whether the first media type of ``header`` is one of the API's binary media types.

    API Gateway compares the request's Content-Type (request payload) or the first media type of
    its Accept header (response payload) with binaryMediaTypes
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html);
    "*/*" covers every type, "image/*" every image type (observed against AWS:
    https://github.com/ministackorg/ministack/pull/767).
    """
    found = media_type(header)
    if found is None or "/" not in found:
        return False
    kind, _, subtype = found.partition("/")
    for entry in binary_media_types:
        want_kind, _, want_subtype = entry.split(";", 1)[0].strip().lower().partition("/")
        if want_kind == "*" and want_subtype == "*":
            return True
        if want_kind == kind and want_subtype in ("*", subtype):
            return True
    return False


def is_binary_request(content_type: str | None, binary_media_types: tuple[str, ...]) -> bool:
    """Whether API Gateway treats a request payload as binary.

    As ``is_binary`` for its Content-Type; a request without one is binary when */* is among the
    binary media types: a CORS preflight (no Content-Type) reaches its mock integration as
    "[Binary Data]" under */* (https://github.com/clebert/aws-simple/issues/167,
    https://github.com/aws/chalice/issues/1310).
    """
    if media_type(content_type) is None:
        return any(entry.split(";", 1)[0].strip() == "*/*" for entry in binary_media_types)
    return is_binary(content_type, binary_media_types)
