"""API Gateway (REST APIs): the rules API Gateway applies to an OpenAPI ``body`` on import.

Each rule reads the planned ``aws_api_gateway_rest_api.body`` through ``conformance.openapi``
and names the place in the document (``paths['/predict'].post...``) in its message. A body
not known at plan time is skipped, as every value the plan does not know yet.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from tfharness.conformance import api_model
from tfharness.conformance.core import Context, Finding, Json, resource_rule
from tfharness.conformance.openapi import (
    INTEGRATION,
    VALIDATOR,
    VALIDATORS,
    Document,
    Operation,
    Unparseable,
    document_of,
    location,
    parse,
)

REST_API = "aws_api_gateway_rest_api"


def _integrations(document: Document) -> Iterator[tuple[Operation, Json]]:
    for operation in document.operations():
        if operation.integration is not None:
            yield operation, operation.integration


def _body(values: Json) -> Document | None:
    return document_of(values.get("body"))


# --------------------------------------------------------------------- the document itself


@lru_cache(maxsize=1)
def _validators() -> dict[str, Any]:
    """openapi-spec-validator's validator per OpenAPI version, imported on first use: the
    stand-in provider starts several times per plan and most plans carry no document."""
    from openapi_spec_validator import (
        OpenAPIV2SpecValidator,
        OpenAPIV30SpecValidator,
        OpenAPIV31SpecValidator,
    )

    return {"2.0": OpenAPIV2SpecValidator, "3.0": OpenAPIV30SpecValidator, "3.1": OpenAPIV31SpecValidator}


_FIRST_ERRORS = 3


_UNRESOLVED = re.compile(r"Path parameter '(?P<name>[^']*)' for '[^']*' operation in '(?P<path>[^']*)'")


def _tolerated(path: list[Any], message: str) -> bool:
    """Departures from OpenAPI that AWS's own documented documents make, so AWS imports them:
    operations with empty or no ``responses`` (the OpenAPI 3.0 examples of
    https://docs.aws.amazon.com/apigateway/latest/developerguide/api-key-usage-plan-oas.html and
    https://docs.aws.amazon.com/apigateway/latest/developerguide/setup-http-integrations.html), and
    greedy path variables, ``/{proxy+}`` declared as the parameter ``proxy`` (the same pages)."""
    if path and path[-1] == "responses" and "should be non-empty" in message:
        return True
    if "'responses' is a required property" in message:
        return True
    greedy = _UNRESOLVED.search(message)
    return bool(greedy and "{" + greedy["name"].rstrip("+") + "+}" in greedy["path"])


@lru_cache(maxsize=64)
def validation_errors(body: str, strict: bool = False) -> tuple[str, ...]:
    """The validator's errors for a body, each with the JSON path it concerns; ``strict`` keeps
    the departures AWS's own examples make (see ``_tolerated``)."""
    try:
        document = parse(body)
    except Unparseable as exc:
        return (str(exc),)
    validator = _validators().get(document.version or "")
    if validator is None:
        return ("the document names no OpenAPI version it is written in: 'openapi: 3.0.x' or 'swagger: 2.0'",)
    found: list[str] = []
    for error in validator(document.raw).iter_errors():
        path = list(getattr(error, "absolute_path", None) or [])
        message = str(getattr(error, "message", error))
        if not strict and _tolerated(path, message):
            continue
        found.append(f"{location(*path) or '(document)'}: {message}")
    return tuple(found)


@resource_rule(
    "apigateway.openapi-document-valid",
    REST_API,
    source="https://docs.aws.amazon.com/apigateway/latest/api/API_PutRestApi.html",
    evidence=(
        "body: the request body containing external API definitions; currently, only OpenAPI "
        "definition JSON/YAML files are supported"
    ),
)
def openapi_document_valid(values: Json, ctx: Context) -> Iterator[Finding]:
    # What openapi-spec-validator refuses, but for the departures AWS's own examples make. A
    # document that is not OpenAPI is refused by API Gateway, or imported as something other
    # than what it says; users generate clients and docs from it too.
    body = values.get("body")
    if not isinstance(body, str) or not body.strip():
        return
    errors = validation_errors(body)
    if errors:
        more = f" (and {len(errors) - _FIRST_ERRORS} more)" if len(errors) > _FIRST_ERRORS else ""
        yield (
            "body",
            "the body is not a valid OpenAPI document: " + "; ".join(errors[:_FIRST_ERRORS]) + more,
        )


# --------------------------------------------------------------------- integrations

_INTEGRATION_DOC = "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-integration.html"
_TYPES = ("aws", "aws_proxy", "http", "http_proxy", "mock")


@resource_rule(
    "apigateway.openapi-integration-type",
    REST_API,
    source=_INTEGRATION_DOC,
    evidence=(
        "type: the type of integration with the specified backend; valid values are http or "
        "http_proxy, aws_proxy, aws, and mock"
    ),
)
def openapi_integration_type(values: Json, ctx: Context) -> Iterator[Finding]:
    # The extension's page writes the values in lower case and the API's enum in upper case
    # (IntegrationType in botocore's apigateway model); published documents use both, so the
    # case is not checked.
    document = _body(values)
    if document is None:
        return
    for operation, integration in _integrations(document):
        kind = integration.get("type")
        if not isinstance(kind, str) or kind.lower() not in _TYPES:
            yield (
                "body",
                f"{operation.where(INTEGRATION, 'type')}: {kind!r} is no integration type; it must be "
                "one of aws, aws_proxy, http, http_proxy or mock",
            )


_LAMBDA_URI = re.compile(r"^arn:aws[a-z-]*:apigateway:[^:]+:lambda:path/")


@resource_rule(
    "apigateway.openapi-integration-http-method",
    REST_API,
    source="https://docs.aws.amazon.com/apigateway/latest/api/API_Integration.html",
    evidence=(
        "httpMethod: if you specify MOCK, this property is optional; for Lambda integrations, you "
        "must set the integration method to POST; for all other types, you must specify this property"
    ),
)
def openapi_integration_http_method(values: Json, ctx: Context) -> Iterator[Finding]:
    document = _body(values)
    if document is None:
        return
    for operation, integration in _integrations(document):
        kind = str(integration.get("type", "")).lower()
        method = integration.get("httpMethod")
        where = operation.where(INTEGRATION, "httpMethod")
        if kind not in _TYPES or kind == "mock":
            continue
        if not isinstance(method, str) or not method:
            yield "body", f"{where}: a {kind} integration needs httpMethod, the method of the backend request"
        elif _LAMBDA_URI.match(str(integration.get("uri", ""))) and method.upper() != "POST":
            yield "body", f"{where}: a Lambda function is invoked with POST, not {method!r}"


_PASSTHROUGH = ("when_no_match", "when_no_templates", "never")


@resource_rule(
    "apigateway.openapi-passthrough-behavior",
    REST_API,
    source=_INTEGRATION_DOC,
    evidence=(
        "passthroughBehavior: specifies how a request payload of unmapped content type is passed "
        "through; supported values are when_no_templates, when_no_match, and never"
    ),
)
def openapi_passthrough_behavior(values: Json, ctx: Context) -> Iterator[Finding]:
    # Case as for the integration type: the page writes lower case, the API's enum upper case.
    document = _body(values)
    if document is None:
        return
    for operation, integration in _integrations(document):
        behavior = integration.get("passthroughBehavior")
        if behavior is not None and (not isinstance(behavior, str) or behavior.lower() not in _PASSTHROUGH):
            yield (
                "body",
                f"{operation.where(INTEGRATION, 'passthroughBehavior')}: {behavior!r} must be "
                "when_no_match, when_no_templates or never",
            )


# The mapping expressions of an integration request
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-parameter-mapping-sources.html).
# The requestParameters extension page also writes context and stage variables with a leading
# "$" ("$context.VARIABLE_NAME"), so that form is accepted too.
_LOCATIONS = "path|querystring|multivaluequerystring|header|multivalueheader"
_TARGET = re.compile(rf"^integration\.request\.({_LOCATIONS})\.[^.\s]\S*$")
_METHOD_SOURCE = re.compile(rf"^method\.request\.(?P<where>{_LOCATIONS})\.(?P<name>\S+)$")
_OTHER_SOURCE = re.compile(
    r"^('[^']*'|method\.request\.body(\.\S+)?|\$?stageVariables\.\S+|\$?context\.\S+)$"
)


def _mapping_source(source: Any) -> bool:
    return isinstance(source, str) and bool(_METHOD_SOURCE.match(source) or _OTHER_SOURCE.match(source))


@resource_rule(
    "apigateway.openapi-request-parameter-syntax",
    REST_API,
    source="https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-parameter-mapping-sources.html",
    evidence=(
        "sources: method.request.path|querystring|multivaluequerystring|header|multivalueheader.name, "
        "method.request.body[.JSONPath], stageVariables.name, context.name, or 'static_value' "
        "in single quotes"
    ),
)
def openapi_request_parameter_syntax(values: Json, ctx: Context) -> Iterator[Finding]:
    document = _body(values)
    if document is None:
        return
    for operation, integration in _integrations(document):
        mappings = integration.get("requestParameters")
        if not isinstance(mappings, dict):
            continue
        for target, source in mappings.items():
            where = operation.where(INTEGRATION, "requestParameters", target)
            if not _TARGET.match(target):
                yield (
                    "body",
                    f"{where}: the key must be integration.request.<path|querystring|header|"
                    "multivaluequerystring|multivalueheader>.<name>",
                )
            elif not _mapping_source(source):
                yield (
                    "body",
                    f"{where}: {source!r} is no mapping expression: use method.request.<location>.<name>, "
                    "method.request.body, stageVariables.<name>, context.<name>, or a static value in "
                    "single quotes ('value')",
                )


_DECLARED_IN = {
    "path": "path",
    "querystring": "query",
    "multivaluequerystring": "query",
    "header": "header",
    "multivalueheader": "header",
}
_TEMPLATE_VARIABLE = re.compile(r"\{([^}]+?)\+?\}")


def _declared(document: Document, operation: Operation, where: str) -> set[str]:
    """The method request parameters of a location. Conservatively wide: path variables of the
    path template count as declared, and so do headers that security schemes read."""
    names = operation.declared(_DECLARED_IN[where])
    if where == "path":
        names |= set(_TEMPLATE_VARIABLE.findall(operation.path))
    if _DECLARED_IN[where] == "header":
        names |= {str(s.get("name")) for s in document.security_schemes.values() if s.get("in") == "header"}
    return names


@resource_rule(
    "apigateway.openapi-request-parameter-declared",
    REST_API,
    source="https://github.com/aws/aws-cdk/issues/17318",
    evidence=(
        "mapping method.request.path.page to an integration request parameter when the method "
        "declares no such parameter fails: 'Invalid mapping expression parameter specified: "
        "method.request.path.page'"
    ),
)
def openapi_request_parameter_declared(values: Json, ctx: Context) -> Iterator[Finding]:
    # The requestParameters extension page says it too: "The method request parameters must be
    # defined before being referenced"
    # (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-integration-requestParameters.html).
    document = _body(values)
    if document is None:
        return
    for operation, integration in _integrations(document):
        mappings = integration.get("requestParameters")
        if not isinstance(mappings, dict):
            continue
        for target, source in mappings.items():
            found = _METHOD_SOURCE.match(source) if isinstance(source, str) else None
            if found is None:
                continue
            where, name = found["where"], found["name"]
            if name not in _declared(document, operation, where):
                yield (
                    "body",
                    f"{operation.where(INTEGRATION, 'requestParameters', target)}: {source!r} names a "
                    f"{_DECLARED_IN[where]} parameter the operation does not declare; AWS refuses it with "
                    f"'Invalid mapping expression parameter specified: {source}': add it to the "
                    "operation's parameters",
                )


# --------------------------------------------------------------------- integration responses

# Java's java.util.regex and Python's re agree on the structural errors below; the constructs
# only Java has (\Q...\E quoting, \p{...} classes) are neutralised before compiling, and any other
# error Python reports is not taken as Java's, so a pattern Java compiles is never refused.
_JAVA_ONLY = re.compile(r"\\Q.*?(\\E|$)|\\[pP]\{[^}]*\}|\\[pP][A-Za-z]", re.DOTALL)
_STRUCTURAL = (
    "missing ), unterminated subpattern",
    "unbalanced parenthesis",
    "unterminated character set",
    "nothing to repeat",
    "multiple repeat",
    "bad character range",
)


def java_pattern_error(pattern: str) -> str | None:
    """Why ``pattern`` is no Java regular expression, for the errors both engines share."""
    try:
        re.compile(_JAVA_ONLY.sub("x", pattern))
    except re.error as exc:
        if any(exc.msg.startswith(kind) for kind in _STRUCTURAL):
            return f"{exc.msg} at position {exc.pos}" if exc.pos is not None else exc.msg
    return None


@resource_rule(
    "apigateway.openapi-selection-pattern",
    REST_API,
    source="https://docs.aws.amazon.com/apigateway/latest/developerguide/setup-http-integrations.html",
    evidence=(
        "selectionPattern chooses an integration response (for HTTP the status code, for Lambda the "
        "errorMessage); API Gateway uses Java pattern-style regexes for response mapping"
    ),
)
def openapi_selection_pattern(values: Json, ctx: Context) -> Iterator[Finding]:
    # The keys of x-amazon-apigateway-integration.responses are the selection patterns, or
    # "default" (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-integration-responses.html).
    document = _body(values)
    if document is None:
        return
    for operation, integration in _integrations(document):
        responses = integration.get("responses")
        if not isinstance(responses, dict):
            continue
        for pattern in responses:
            if pattern == "default":
                continue
            problem = java_pattern_error(pattern)
            if problem:
                yield (
                    "body",
                    f"{operation.where(INTEGRATION, 'responses', pattern)}: {pattern!r} is no Java "
                    f"regular expression ({problem}), so no response can ever be selected by it",
                )


# --------------------------------------------------------------------- API-level extensions

_BOTOCORE_APIGATEWAY = (
    "https://github.com/boto/botocore/blob/develop/botocore/data/apigateway/2015-07-09/service-2.json"
)


def _enum(shape: str) -> list[str]:
    return list(api_model.service_model("apigateway").shape_for(shape).enum)


@resource_rule(
    "apigateway.openapi-gateway-responses",
    REST_API,
    source=_BOTOCORE_APIGATEWAY,
    evidence=(
        "PutGatewayResponse: responseType is a GatewayResponseType (DEFAULT_4XX, DEFAULT_5XX, "
        "UNAUTHORIZED, ... WAF_FILTERED); statusCode is a StatusCode matching [1-5]\\d\\d"
    ),
)
def openapi_gateway_responses(values: Json, ctx: Context) -> Iterator[Finding]:
    # x-amazon-apigateway-gateway-responses is a map from response type to gatewayResponse
    # (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-gateway-responses.html).
    document = _body(values)
    responses = document.raw.get("x-amazon-apigateway-gateway-responses") if document else None
    if not isinstance(responses, dict):
        return
    types = _enum("GatewayResponseType")
    for kind, response in responses.items():
        where = location("x-amazon-apigateway-gateway-responses", kind)
        if kind not in types:
            listed = ", ".join(types)
            yield "body", f"{where}: {kind!r} is no gateway response type; it must be one of {listed}"
            continue
        status = response.get("statusCode") if isinstance(response, dict) else None
        if status is not None and not re.fullmatch(r"[1-5]\d\d", str(status)):
            yield "body", f"{where}.statusCode: {status!r} must be an HTTP status code from 100 to 599"


@resource_rule(
    "apigateway.openapi-request-validator-declared",
    REST_API,
    source=(
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/"
        "api-gateway-swagger-extensions-request-validator.html"
    ),
    evidence=(
        "x-amazon-apigateway-request-validator specifies a request validator by referencing a "
        "request_validator_name of the x-amazon-apigateway-request-validators object map"
    ),
)
def openapi_request_validator_declared(values: Json, ctx: Context) -> Iterator[Finding]:
    document = _body(values)
    if document is None:
        return
    declared = document.validators
    named: list[tuple[str, Any]] = [(VALIDATOR, document.raw.get(VALIDATOR))]
    for operation in document.operations():
        if VALIDATOR in operation.operation:
            named.append((operation.where(VALIDATOR), operation.operation[VALIDATOR]))
    for where, name in named:
        if name is not None and name not in declared:
            known = ", ".join(repr(k) for k in declared) or "none"
            yield (
                "body",
                f"{where}: {name!r} names no validator of {VALIDATORS} (declared: {known}); declare it "
                "there or reference a declared one",
            )


@resource_rule(
    "apigateway.openapi-api-key-source",
    REST_API,
    source=_BOTOCORE_APIGATEWAY,
    evidence="ApiKeySourceType: enum HEADER, AUTHORIZER (the RestApi's apiKeySource)",
)
def openapi_api_key_source(values: Json, ctx: Context) -> Iterator[Finding]:
    # x-amazon-apigateway-api-key-source sets the RestApi's apiKeySource
    # (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-api-key-source.html).
    # The case is not checked: nothing shows whether the import is case-sensitive.
    document = _body(values)
    source = document.raw.get("x-amazon-apigateway-api-key-source") if document else None
    allowed = _enum("ApiKeySourceType")
    if source is not None and (not isinstance(source, str) or source.upper() not in allowed):
        yield (
            "body",
            f"x-amazon-apigateway-api-key-source: {source!r} must be HEADER (the x-api-key header) or "
            "AUTHORIZER (the usageIdentifierKey a Lambda authorizer returns)",
        )
