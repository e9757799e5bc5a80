"""An ``aws_api_gateway_rest_api.body`` read as API Gateway reads it.

The body is an OpenAPI 2.0 or 3.0 document with API Gateway's extensions
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions.html),
in JSON or YAML (https://docs.aws.amazon.com/apigateway/latest/api/API_PutRestApi.html: "only
OpenAPI definition JSON/YAML files are supported"). ``parse`` returns a ``Document`` whose
``operations`` are each path's methods, ``x-amazon-apigateway-any-method`` as ``ANY``, with
their integration, parameters (the path's and the operation's), effective security and request
validator, every local ``$ref`` resolved. ``route_table`` renders those operations as Markdown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml

Json = dict[str, Any]

ANY_METHOD = "x-amazon-apigateway-any-method"
INTEGRATION = "x-amazon-apigateway-integration"
VALIDATOR = "x-amazon-apigateway-request-validator"
VALIDATORS = "x-amazon-apigateway-request-validators"
AUTHTYPE = "x-amazon-apigateway-authtype"
AUTHORIZER = "x-amazon-apigateway-authorizer"
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def location(*steps: str | int) -> str:
    """A JSON path of the document, as findings name it: ``paths['/predict'].post.responses``."""
    out = ""
    for step in steps:
        if isinstance(step, int) or not step.replace("-", "").replace("_", "").isalnum():
            out += f"[{step!r}]"
        else:
            out += f".{step}" if out else step
    return out


@dataclass(frozen=True)
class Operation:
    """One method of one path, as API Gateway imports it."""

    path: str  # "/predict/{model}"
    method: str  # upper case; "ANY" for x-amazon-apigateway-any-method
    key: str  # the key in the path item: "post" or "x-amazon-apigateway-any-method"
    operation: Json = field(repr=False)
    integration: Json | None = field(repr=False)
    parameters: tuple[Json, ...] = field(repr=False)
    security: tuple[Json, ...] = field(repr=False)  # the effective security requirements
    validator: str | None = None  # the effective request validator's name

    def where(self, *steps: str | int) -> str:
        return location("paths", self.path, self.key, *steps)

    def declared(self, where: str) -> set[str]:
        """Names of the parameters declared ``in`` ``where`` (path, query, header)."""
        return {
            str(p["name"]) for p in self.parameters if p.get("in") == where and isinstance(p.get("name"), str)
        }


class Document:
    """A parsed body. Reads never fail on an odd shape: what is not there is skipped."""

    def __init__(self, raw: Json) -> None:
        self.raw = raw

    @property
    def version(self) -> str | None:
        """``"3.0"`` or ``"2.0"`` (the document's own ``openapi`` / ``swagger`` field)."""
        if isinstance(self.raw.get("openapi"), str):
            return self.raw["openapi"][:3]
        if isinstance(self.raw.get("swagger"), str):
            return self.raw["swagger"][:3]
        return None

    def resolve(self, node: Any) -> Any:
        """``node`` with a local ``$ref`` (``#/components/...``) followed, through chains of refs;
        a ref that leads nowhere (or in a cycle) gives ``{}``."""
        seen: set[str] = set()
        while isinstance(node, dict) and isinstance(node.get("$ref"), str):
            ref = node["$ref"]
            if not ref.startswith("#/") or ref in seen:
                return {}
            seen.add(ref)
            target: Any = self.raw
            for raw_part in ref[2:].split("/"):
                part = raw_part.replace("~1", "/").replace("~0", "~")
                target = target.get(part) if isinstance(target, dict) else None
            node = target if target is not None else {}
        return node

    def _dict(self, node: Any) -> Json:
        resolved = self.resolve(node)
        return resolved if isinstance(resolved, dict) else {}

    @property
    def security_schemes(self) -> dict[str, Json]:
        """``components.securitySchemes`` (3.0) or ``securityDefinitions`` (2.0), resolved."""
        schemes = self._dict(self.raw.get("components")).get("securitySchemes")
        if not isinstance(schemes, dict):
            schemes = self.raw.get("securityDefinitions")
        if not isinstance(schemes, dict):
            return {}
        return {str(name): self._dict(scheme) for name, scheme in schemes.items()}

    def scheme_kind(self, name: str) -> str:
        """What a security scheme is to API Gateway: ``api_key`` (an ``apiKey`` scheme for the
        ``x-api-key`` header, https://docs.aws.amazon.com/apigateway/latest/developerguide/api-key-usage-plan-oas.html),
        ``iam`` (authtype awsSigv4), ``authorizer`` (a Lambda or Cognito authorizer), or
        ``unknown`` (not declared, or none of those)."""
        scheme = self.security_schemes.get(name)
        if scheme is None:
            return "unknown"
        authtype = str(scheme.get(AUTHTYPE, "")).lower()
        if authtype == "awssigv4":
            return "iam"
        if authtype or AUTHORIZER in scheme:
            return "authorizer"
        if (
            scheme.get("type") == "apiKey"
            and scheme.get("in") == "header"
            and str(scheme.get("name", "")).lower() == "x-api-key"
        ):
            return "api_key"
        return "unknown"

    def requires_api_key(self, operation: Operation) -> bool:
        """Whether a security requirement of the operation names an API key scheme."""
        return any(
            self.scheme_kind(name) == "api_key" for requirement in operation.security for name in requirement
        )

    @property
    def validators(self) -> Json:
        declared = self.raw.get(VALIDATORS)
        return declared if isinstance(declared, dict) else {}

    def operations(self) -> Iterator[Operation]:
        paths = self.raw.get("paths")
        if not isinstance(paths, dict):
            return
        top_security = self.raw.get("security")
        top_validator = self.raw.get(VALIDATOR)
        for path, raw_item in paths.items():
            item = self._dict(raw_item)
            shared = [self._dict(p) for p in item.get("parameters") or [] if isinstance(p, dict)]
            for key, raw_operation in item.items():
                method = "ANY" if key == ANY_METHOD else key.upper() if key in _METHODS else None
                operation = self._dict(raw_operation)
                if method is None or not operation:
                    continue
                own = [self._dict(p) for p in operation.get("parameters") or [] if isinstance(p, dict)]
                # An operation's parameter overrides the path's of the same name and location.
                names = {(p.get("name"), p.get("in")) for p in own}
                parameters = tuple(own + [p for p in shared if (p.get("name"), p.get("in")) not in names])
                security = operation.get("security", top_security)
                validator = operation.get(VALIDATOR, top_validator)
                integration = self._dict(operation.get(INTEGRATION)) if INTEGRATION in operation else None
                yield Operation(
                    path=str(path),
                    method=method,
                    key=key,
                    operation=operation,
                    integration=integration,
                    parameters=parameters,
                    security=tuple(r for r in security if isinstance(r, dict))
                    if isinstance(security, list)
                    else (),
                    validator=validator if isinstance(validator, str) else None,
                )


class Unparseable(ValueError):
    """The body is neither JSON nor YAML, or not a mapping at its top."""


@lru_cache(maxsize=64)
def parse(body: str) -> Document:
    """The document in ``body``: JSON, else YAML. Raises ``Unparseable``. Cached: every rule
    reading the same body parses it once."""
    try:
        raw = json.loads(body)
    except ValueError:
        try:
            raw = yaml.safe_load(body)
        except yaml.YAMLError as exc:
            raise Unparseable(f"the body is neither JSON nor YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise Unparseable("the body is not an OpenAPI document: its top level is not an object")
    return Document(raw)


def document_of(body: Any) -> Document | None:
    """The document of a planned ``body``; None when there is none, it is not known yet, or it
    cannot be parsed (``apigateway.openapi-document-valid`` reports that)."""
    if not isinstance(body, str) or not body.strip():
        return None
    try:
        return parse(body)
    except Unparseable:
        return None


# --------------------------------------------------------------------- route table
#
# What the table shows comes from the document alone, read as API Gateway reads it:
# - integration URIs (``uri`` in
#   https://docs.aws.amazon.com/apigateway/latest/api/API_Integration.html): a Lambda function's is
#   ``arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function ARN}/invocations``
#   (the syntax shown for authorizerUri in
#   https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-authorizer.html);
#   a SageMaker endpoint's is the runtime.sagemaker service by path, InvokeEndpoint's request URI
#   ``/endpoints/{EndpointName}/invocations`` (botocore's sagemaker-runtime/2017-05-13/service-2.json);
# - authorizer types: ``token`` and ``request`` (Lambda) and ``cognito_user_pools`` (same page);
# - what a request validator checks: validateRequestBody, validateRequestParameters
#   (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-request-validators.requestValidator.html);
# - security requirements as OpenAPI defines them: every scheme of one requirement applies, and
#   any one requirement of the list suffices
#   (https://spec.openapis.org/oas/v3.0.1#security-requirement-object).

_KINDS = {"aws_proxy": "AWS proxy", "aws": "AWS", "http": "HTTP", "http_proxy": "HTTP proxy", "mock": "mock"}
_LAMBDA_URI = re.compile(
    r"^arn:[^:]+:apigateway:[^:]+:lambda:path/[^/]+/functions/arn:[^:]+:lambda:[^:]+:[^:]+:function:([^/]+)/invocations$"
)
_SAGEMAKER_URI = re.compile(
    r"^arn:[^:]+:apigateway:[^:]+:runtime\.sagemaker:path/+endpoints/([^/]+)/invocations$"
)
_AUTHORIZER_KINDS = {
    "token": "Lambda authorizer",
    "request": "Lambda authorizer",
    "cognito_user_pools": "Cognito authorizer",
}


def _integration(integration: Json | None) -> str:
    if integration is None:
        return "none"
    kind = str(integration.get("type", "")).lower()
    uri = str(integration.get("uri", ""))
    lambda_uri = _LAMBDA_URI.match(uri)
    if kind == "aws_proxy" and lambda_uri:
        return f"Lambda proxy: function `{lambda_uri.group(1)}`"
    sagemaker_uri = _SAGEMAKER_URI.match(uri)
    if kind == "aws" and sagemaker_uri:
        return f"SageMaker: endpoint `{sagemaker_uri.group(1)}`"
    return _KINDS.get(kind, kind or "none")


def _scheme(document: Document, name: str) -> str:
    kind = document.scheme_kind(name)
    if kind == "api_key":
        return "API key"
    if kind == "iam":
        return "IAM"
    if kind == "authorizer":
        scheme = document.security_schemes[name]
        authorizer = scheme.get(AUTHORIZER)
        authorizer_type = str(authorizer.get("type", "")).lower() if isinstance(authorizer, dict) else ""
        if not authorizer_type and str(scheme.get(AUTHTYPE, "")).lower() == "cognito_user_pools":
            authorizer_type = "cognito_user_pools"
        return f"{_AUTHORIZER_KINDS.get(authorizer_type, 'authorizer')} `{name}`"
    return f"`{name}`"


def _auth(document: Document, operation: Operation) -> str:
    requirements = [
        " + ".join(_scheme(document, name) for name in requirement) for requirement in operation.security
    ]
    return " or ".join(r for r in requirements if r) or "none"


def _body_models(document: Document, operation: Operation) -> list[str]:
    """The model names (``$ref`` targets) of the operation's request body, per content type."""
    content = document._dict(operation.operation.get("requestBody")).get("content")
    models = []
    for media in (content or {}).values() if isinstance(content, dict) else []:
        schema = media.get("schema") if isinstance(media, dict) else None
        if isinstance(schema, dict) and isinstance(schema.get("$ref"), str):
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in models:
                models.append(name)
    return models


def _validation(document: Document, operation: Operation) -> str:
    if operation.validator is None:
        return "none"
    declared = document.validators.get(operation.validator)
    if not isinstance(declared, dict):
        return f"`{operation.validator}` (not declared)"
    checks = []
    if declared.get("validateRequestBody") is True:
        models = _body_models(document, operation)
        checks.append("body" + (f" ({', '.join(f'`{m}`' for m in models)})" if models else ""))
    if declared.get("validateRequestParameters") is True:
        checks.append("parameters")
    return ", ".join(checks) or "none"


def _is_cors_preflight(operation: Operation) -> bool:
    integration = operation.integration or {}
    if operation.method != "OPTIONS" or str(integration.get("type", "")).lower() != "mock":
        return False
    responses = integration.get("responses")
    return any(
        "access-control-allow-origin" in str(name).lower()
        for response in (responses.values() if isinstance(responses, dict) else [])
        if isinstance(response, dict) and isinstance(response.get("responseParameters"), dict)
        for name in response["responseParameters"]
    )


def _notes(operation: Operation) -> str:
    notes = []
    summary = operation.operation.get("summary") or operation.operation.get("description")
    if summary:
        notes.append(str(summary))
    if _is_cors_preflight(operation):
        notes.append("CORS preflight, answered by API Gateway")
    for where, label in (("query", "query"), ("header", "header")):
        parameters = [
            p for p in operation.parameters if p.get("in") == where and isinstance(p.get("name"), str)
        ]
        required = sorted(f"`{p['name']}`" for p in parameters if p.get("required") is True)
        optional = sorted(f"`{p['name']}`" for p in parameters if p.get("required") is not True)
        if required:
            notes.append(f"required {label}: {', '.join(required)}")
        if optional:
            notes.append(f"optional {label}: {', '.join(optional)}")
    return "; ".join(notes)


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def route_table(document: Json | Document) -> str:
    """A Markdown table of the document's operations, sorted by path then method: method, path,
    integration (Lambda function, SageMaker endpoint, mock...), auth (API key, authorizers,
    IAM or none), what the request validator checks, and notes (the operation's summary, CORS
    preflight, query and header parameters). A line under the table lists the API's binary media
    types when it has any."""
    doc = document if isinstance(document, Document) else Document(document)
    rows = [
        "| Method | Path | Integration | Auth | Request validation | Notes |",
        "|---|---|---|---|---|---|",
    ]
    for op in sorted(doc.operations(), key=lambda o: (o.path, o.method)):
        cells = [
            op.method,
            f"`{op.path}`",
            _integration(op.integration),
            _auth(doc, op),
            _validation(doc, op),
            _notes(op),
        ]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    binary = doc.raw.get("x-amazon-apigateway-binary-media-types")
    if isinstance(binary, list) and binary:
        types = ", ".join(f"`{t}`" for t in binary)
        rows += ["", f"Binary media types (API-wide, x-amazon-apigateway-binary-media-types): {types}."]
    return "\n".join(rows) + "\n"
