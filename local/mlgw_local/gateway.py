"""The REST API of the plan's OpenAPI document on localhost, as API Gateway serves it.

Per request, in API Gateway's order: the stage and the operation (``MISSING_AUTHENTICATION_TOKEN``
when none matches), the API key (``INVALID_API_KEY``), the usage plan's throttle and quota for
that key and the stage's throttle (``THROTTLED``, ``QUOTA_EXCEEDED``), the operation's request
validator (``BAD_REQUEST_PARAMETERS``, ``BAD_REQUEST_BODY``), then the integration the document
gives the operation:

- ``aws_proxy``: the function gets a REST proxy event and answers for itself;
- ``aws`` (the SageMaker runtime): the integration request template is rendered with the same
  VTL engine as the template tests, requestParameters become the call's headers, the integration
  response is selected by its selection pattern against the runtime's status, and its
  responseParameters and responseTemplates shape the answer;
- ``mock``: the request template's statusCode selects the integration response.

Bodies are converted between text and binary only as the document's binary media types and
contentHandling say. API Gateway's own errors are the document's gateway responses, rendered with
the VTL engine too, except the two 413s of a request too large (see ``REQUEST_TOO_LONG``), which
AWS was not seen to let a gateway response change.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlgw_local import access
from mlgw_local.http import Request, Response
from mlgw_local.openapi import IntegrationResponse, Operation, is_binary, is_binary_request, media_type
from mlgw_local.plan import ApiKey, Gateway, Quota, Throttle
from mlgw_local.vtl import render_request, render_response, select_integration_response

ACCOUNT_ID = "123456789012"
API_ID = "local"
# Each gateway response type's default status and message
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html).
_DEFAULT_MESSAGES = {
    "INVALID_API_KEY": (403, "Forbidden"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "THROTTLED": (429, "Too Many Requests"),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded"),
    "BAD_REQUEST_PARAMETERS": (400, "Missing required request parameters"),
    "BAD_REQUEST_BODY": (400, "Invalid request body"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Unsupported Media Type"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out"),
    "INTEGRATION_FAILURE": (504, "Internal server error"),
    "API_CONFIGURATION_ERROR": (500, "Internal server error"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
}
# The exception name API Gateway sends in x-amzn-ErrorType for its own refusals. An unknown
# route: MissingAuthenticationTokenException (a live answer in
# https://github.com/aws/chalice/issues/12). A request too large for Lambda: BadRequestException
# (see REQUEST_TOO_LONG). ForbiddenException for a refused key, TooManyRequestsException for
# throttle and quota, and BadRequestException for the request validator are the names seen in
# public captures of API Gateway answers; no AWS page states them. Types not listed keep their
# gateway response type as the header, since AWS's name for them was not found.
_ERROR_TYPES = {
    "MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException",
    "INVALID_API_KEY": "ForbiddenException",
    "THROTTLED": "TooManyRequestsException",
    "QUOTA_EXCEEDED": "TooManyRequestsException",
    "BAD_REQUEST_PARAMETERS": "BadRequestException",
    "BAD_REQUEST_BODY": "BadRequestException",
}
_PERIODS = {"DAY": 86400, "WEEK": 7 * 86400}
# API Gateway's limit on a REST API request body (10 MB), and Lambda's on a synchronous invoke:
# the JSON event going in, the result coming out
# (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html; Lambda states the
# request limit as 6291456 bytes and the answer's as 6291556).
MAX_BODY_BYTES = 10 * 1024 * 1024
MAX_INVOKE_REQUEST_BYTES = 6 * 1024 * 1024
MAX_INVOKE_RESPONSE_BYTES = 6 * 1024 * 1024 + 100
# How API Gateway answers a request too large for it or, on a Lambda-proxy route, one whose
# event is too large for Lambda: a fixed 413, not the document's REQUEST_TOO_LARGE gateway
# response. A live REST API answered an oversized Lambda event with 413, BadRequestException and
# {"message": "Request Too Long"}, and a body over 10 MB with 413 and a plain-text message; a
# customised REQUEST_TOO_LARGE response did not change either
# (https://github.com/koki-develop/lgtm-generator/issues/10; the same of a customised 413 in
# https://github.com/reapit/foundations/issues/4338). That API was edge-optimised (the answers came
# through CloudFront): what a regional API sends over 10 MB has not been observed.
REQUEST_TOO_LONG = b'{"message": "Request Too Long"}'
BODY_TOO_LARGE = f"HTTP content length exceeded {MAX_BODY_BYTES} bytes.".encode()
# A template is chosen by the request's Content-Type, application/json when it has none
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/integration-passthrough-behaviors.html).
DEFAULT_CONTENT_TYPE = "application/json"


class TokenBucket:
    """API Gateway's throttle: ``burst`` requests at once, refilled at ``rate`` a second."""

    def __init__(self, throttle: Throttle) -> None:
        self.rate = throttle.rate
        self.capacity = max(1.0, float(throttle.burst))
        self.tokens = self.capacity
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _quota_window(quota: Quota, now: datetime) -> str:
    """The current quota period (UTC), shifted by the plan's offset in days."""
    if quota.period == "MONTH":
        return f"{now.year}-{now.month}"
    seconds = _PERIODS[quota.period]
    return str((int(now.timestamp()) - quota.offset * 86400) // seconds)


class _Failure(Exception):
    """Ends a request with one of API Gateway's own error responses."""

    def __init__(self, kind: str, message: str | None = None) -> None:
        super().__init__(kind)
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class _Match:
    operation: Operation
    stage: str
    path: str
    path_parameters: dict[str, str]


@dataclass
class _Trace:
    """What the access log line of one request tells beyond the request and the answer."""

    stage: str = "-"
    key: str = "-"
    target: str = "gateway"
    note: str | None = None


@dataclass(frozen=True)
class _Call:
    """One request as the integration and its templates see it."""

    request: Request
    match: _Match
    request_id: str
    context: dict[str, Any]
    stage_variables: dict[str, str]
    trace: _Trace

    @property
    def template_inputs(self) -> dict[str, Any]:
        return {
            "path_params": self.match.path_parameters,
            "query": dict(self.request.query),
            "headers": dict(self.request.headers),
            "context": self.context,
            "stage_variables": self.stage_variables,
        }


def _match_path(segments: list[str], given: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for index, segment in enumerate(segments):
        if segment.startswith("{") and segment.endswith("+}"):
            if index >= len(given):
                return None
            params[segment[1:-2]] = "/".join(given[index:])
            return params
        if index >= len(given):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            params[segment[1:-1]] = given[index]
        elif segment != given[index]:
            return None
    return params if len(segments) == len(given) else None


def _specificity(segments: list[str]) -> tuple[int, ...]:
    """API Gateway prefers static segments over parameters, and parameters over greedy ones."""
    return tuple(0 if not s.startswith("{") else 2 if s.endswith("+}") else 1 for s in segments)


def _template_for(templates: Mapping[str, str], wanted: str | None) -> tuple[str, str] | None:
    """(media type, template) of a response: the one for the Accept header's media type, else
    application/json, else the first; this is LocalStack's reading of AWS
    (localstack-core/localstack/services/apigateway/next_gen/execute_api/handlers/integration_response.py)."""
    if not templates:
        return None
    lowered = {name.lower(): (name, body) for name, body in templates.items()}
    for candidate in (wanted, DEFAULT_CONTENT_TYPE):
        if candidate and candidate in lowered:
            return lowered[candidate]
    return next(iter(templates.items()))


def _answer_headers(result: Mapping[str, Any]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """A proxy answer's headers and multiValueHeaders as the header lines API Gateway sends.

    Both are sent, combined (single- and multi-value headers can be combined in one answer:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-lambda-proxy-integrations.html#apigateway-multivalue-headers-and-parameters),
    and each multiValueHeaders value is its own header line, so two Set-Cookie values stay two
    lines. A name in both gets the multiValueHeaders values only: the headers value is dropped,
    as observed in https://e-learn.cn/qa/answer/777643/1756731.html.
    Returns the first line of each name and the further lines.
    """
    multi = {str(k): [str(v) for v in vs] for k, vs in (result.get("multiValueHeaders") or {}).items() if vs}
    taken = {name.lower() for name in multi}
    headers = {
        str(k): str(v) for k, v in (result.get("headers") or {}).items() if str(k).lower() not in taken
    }
    more: list[tuple[str, str]] = []
    for name, values in multi.items():
        headers[name] = values[0]
        more.extend((name, value) for value in values[1:])
    return headers, more


class RestApi:
    def __init__(
        self,
        gateway: Gateway,
        invoke_function: Callable[[str, dict[str, Any]], Any],
        runtime_url: str,
        host: str,
    ) -> None:
        if gateway.api is None:
            raise ValueError("the gateway has no REST API")
        self.gateway = gateway
        self.api = gateway.api
        self.invoke_function = invoke_function
        self.runtime_url = runtime_url
        self.host = host
        self._keys = {key.value: key for key in gateway.api_keys.values()}
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, ...], TokenBucket] = {}
        self._quota_used: dict[tuple[str, str], int] = {}

    # -- routing
    def _match(self, request: Request) -> tuple[str | None, _Match | None]:
        stage, _, rest = request.path.lstrip("/").partition("/")
        if stage not in self.gateway.stages:
            return None, None
        path = rest.strip("/")
        given = path.split("/") if path else []
        candidates = []
        for operation in self.api.operations:
            if operation.method not in (request.method, "ANY"):
                continue
            params = _match_path(operation.segments, given)
            if params is not None:
                candidates.append(
                    (_specificity(operation.segments), operation.method == "ANY", operation, params)
                )
        if not candidates:
            return stage, None
        _, _, operation, params = min(candidates, key=lambda c: (c[0], c[1]))
        return stage, _Match(operation, stage, path, params)

    # -- mapping expressions
    def _source(
        self,
        expression: str,
        request: Request,
        match: _Match | None,
        stage: str | None,
        context: Mapping[str, Any],
    ) -> str | None:
        """The value of a mapping expression: a 'literal', method.request.<location>.<name>,
        stageVariables.<name> or context.<name>
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/request-response-data-mappings.html)."""
        if len(expression) >= 2 and expression[0] == expression[-1] == "'":
            return expression[1:-1]
        if expression.startswith("stageVariables."):
            variables = self.gateway.stages[stage].variables if stage in self.gateway.stages else {}
            return variables.get(expression.removeprefix("stageVariables."))
        if expression.startswith("context."):
            value: Any = context
            for part in expression.removeprefix("context.").split("."):
                value = value.get(part) if isinstance(value, Mapping) else None
            return None if value is None else str(value)
        parts = expression.split(".", 3)
        if parts[:2] != ["method", "request"] or len(parts) < 4:
            return None
        location, name = parts[2], parts[3]
        if location == "header":
            return request.header(name)
        if location == "querystring":
            return dict(request.query).get(name)
        if location == "path":
            return match.path_parameters.get(name) if match else None
        return None

    # -- errors
    def _gateway_response(
        self,
        kind: str,
        request: Request,
        request_id: str,
        stage: str | None,
        *,
        match: _Match | None = None,
        message: str | None = None,
    ) -> Response:
        default_status, default_message = _DEFAULT_MESSAGES.get(kind, (500, "Internal server error"))
        text = message or default_message
        family = "DEFAULT_4XX" if default_status < 500 else "DEFAULT_5XX"
        response = self.api.gateway_responses.get(kind) or self.api.gateway_responses.get(family)
        error_type = _ERROR_TYPES.get(kind, kind)
        if response is None:
            return Response.json(
                default_status,
                {"message": text},
                {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": error_type},
            )
        context = {
            "requestId": request_id,
            "stage": stage or "",
            "error": {"message": text, "messageString": json.dumps(text), "responseType": kind},
        }
        chosen = _template_for(response.templates, media_type(request.header("Accept")))
        content_type, template = chosen or (DEFAULT_CONTENT_TYPE, "")
        body = render_request(template, "", context=context) if template else json.dumps({"message": text})
        headers = {
            "Content-Type": content_type,
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": error_type,
        }
        for target, source in response.parameters.items():
            value = self._source(source, request, match, stage, context)
            if value is not None:
                headers[target.removeprefix("gatewayresponse.header.")] = value
        status = response.status_code if response.status_code is not None else default_status
        return Response(status, body.encode(), headers)

    # -- keys and limits
    def _key(self, request: Request, stage: str) -> ApiKey | None:
        key = self._keys.get(request.header("x-api-key") or "")
        if key is None or not key.enabled:
            return None
        plan = self.gateway.usage_plans.get(key.usage_plan)
        return key if plan is not None and stage in plan.stages else None

    def _take(self, scope: tuple[str, ...], throttle: Throttle | None) -> bool:
        if throttle is None:
            return True
        bucket = self._buckets.get(scope)
        if bucket is None:
            bucket = self._buckets[scope] = TokenBucket(throttle)
        return bucket.take()

    def _limit(self, match: _Match, key: ApiKey | None) -> str | None:
        operation = match.operation
        method = (operation.path, operation.method)
        with self._lock:
            if key is not None:
                plan = self.gateway.usage_plans[key.usage_plan]
                per_method = plan.method_throttles.get((match.stage, *method))
                if per_method is not None and not self._take(("key-method", key.value, *method), per_method):
                    return "THROTTLED"
                if not self._take(("key", key.value), plan.throttle):
                    return "THROTTLED"
                if plan.quota is not None:
                    window = _quota_window(plan.quota, datetime.now(UTC))
                    used = self._quota_used.get((key.value, window), 0)
                    if used >= plan.quota.limit:
                        return "QUOTA_EXCEEDED"
                    self._quota_used[(key.value, window)] = used + 1
            stage = self.gateway.stages[match.stage]
            per_route = stage.method_throttles.get(method)
            if per_route is not None:
                return None if self._take(("stage-method", match.stage, *method), per_route) else "THROTTLED"
            return None if self._take(("stage", match.stage), stage.throttle) else "THROTTLED"

    # -- validation
    def _missing_parameters(self, request: Request, match: _Match) -> list[str]:
        """Required parameters absent or blank: the validator checks presence, not type or format
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-method-request-validation.html)."""
        query = dict(request.query)
        missing = []
        for parameter in match.operation.parameters:
            if not parameter.required:
                continue
            value = (
                match.path_parameters.get(parameter.name)
                if parameter.location == "path"
                else query.get(parameter.name)
                if parameter.location == "querystring"
                else request.header(parameter.name)
            )
            if value is None or not value.strip():
                missing.append(parameter.name)
        return missing

    def _bad_body(self, request: Request, operation: Operation) -> str | None:
        """The body against the model of its content type, or of $default; no model for the
        content type means no validation
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-method-request-validation.html)."""
        wanted = media_type(request.header("Content-Type")) or DEFAULT_CONTENT_TYPE
        validator = operation.body_schemas.get(wanted) or operation.body_schemas.get("$default")
        if validator is None:
            return None
        try:
            document = json.loads(request.body or b"null")
        except ValueError as exc:
            return f"Invalid request body: {exc}"
        error = next(iter(validator.iter_errors(document)), None)
        return None if error is None else f"Invalid request body: {error.message}"

    # -- the request
    def __call__(self, request: Request) -> Response:
        started = time.monotonic()
        trace = _Trace()
        response = self._handle(request, trace)
        rest = request.path.lstrip("/").partition("/")[2]
        access.record(
            trace.stage,
            request.method,
            f"/{rest}" if trace.stage != "-" else request.path,
            status=response.status,
            seconds=time.monotonic() - started,
            target=trace.target,
            key=trace.key,
            note=trace.note,
        )
        return response

    def _refuse(
        self, kind: str, trace: _Trace, request: Request, request_id: str, stage: str | None, **extra: Any
    ) -> Response:
        trace.target = f"gateway response {kind}"
        trace.note = extra.get("message")
        return self._gateway_response(kind, request, request_id, stage, **extra)

    def _handle(self, request: Request, trace: _Trace) -> Response:
        request_id = str(uuid.uuid4())
        stage, match = self._match(request)
        trace.stage = stage or "-"
        given = request.header("x-api-key")
        if given:
            known = self._keys.get(given)
            trace.key = known.name if known is not None else "(unknown)"
        if match is None:
            return self._refuse("MISSING_AUTHENTICATION_TOKEN", trace, request, request_id, stage)
        if len(request.body) > MAX_BODY_BYTES:
            trace.target = "gateway: body over 10 MB"
            return Response(413, BODY_TOO_LARGE, {"Content-Type": "text; charset=utf-8"})
        key = self._key(request, match.stage)
        if match.operation.api_key_required and key is None:
            return self._refuse("INVALID_API_KEY", trace, request, request_id, stage, match=match)
        limited = self._limit(match, key)
        if limited is not None:
            return self._refuse(limited, trace, request, request_id, stage, match=match)
        if match.operation.validate_parameters:
            missing = self._missing_parameters(request, match)
            if missing:
                message = f"Missing required request parameters: [{', '.join(missing)}]"
                return self._refuse(
                    "BAD_REQUEST_PARAMETERS", trace, request, request_id, stage, match=match, message=message
                )
        if match.operation.validate_body:
            problem = self._bad_body(request, match.operation)
            if problem is not None:
                return self._refuse(
                    "BAD_REQUEST_BODY", trace, request, request_id, stage, match=match, message=problem
                )
        integration = match.operation.integration
        trace.target = (
            f"function {integration.function_name}"
            if integration.type == "AWS_PROXY"
            else f"sagemaker endpoint {integration.endpoint_name}"
            if integration.endpoint_name
            else integration.type.lower()
        )
        call = _Call(
            request=request,
            match=match,
            request_id=request_id,
            context=self._context(request, match, key, request_id),
            stage_variables=self.gateway.stages[match.stage].variables,
            trace=trace,
        )
        try:
            if integration.type == "AWS_PROXY":
                return self._proxy(call)
            return self._non_proxy(call)
        except _Failure as failure:
            target = trace.target
            response = self._refuse(
                failure.kind, trace, request, request_id, stage, match=match, message=failure.message
            )
            trace.target = f"{target}, then gateway response {failure.kind}"
            return response

    def _context(
        self, request: Request, match: _Match, key: ApiKey | None, request_id: str
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            "resourceId": match.operation.operation_id,
            "resourcePath": match.operation.path,
            "httpMethod": request.method,
            "extendedRequestId": request_id[:16],
            "requestTime": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "path": f"/{match.stage}/{match.path}" if match.path else f"/{match.stage}/",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": match.stage,
            "domainPrefix": API_ID,
            "requestTimeEpoch": int(now.timestamp() * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": request.client,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": request.header("User-Agent"),
                "user": None,
                "apiKey": key.value if key else None,
                "apiKeyId": key.name if key else None,
            },
            "domainName": self.host,
            "apiId": API_ID,
        }

    # -- Lambda proxy
    def _proxy(self, call: _Call) -> Response:
        """A REST proxy event in, the function's answer out. The body is base64-encoded in the
        event only when the request's Content-Type is one of the binary media types, and a
        base64 answer (isBase64Encoded) is decoded only when the first media type of the
        request's Accept header is; otherwise the client gets the base64 text
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html;
        both directions observed against AWS in https://github.com/ministackorg/ministack/pull/767,
        and that the answer's Content-Type plays no part in
        https://github.com/localstack/localstack/pull/12199)."""
        request, match = call.request, call.match
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers:
            headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        multi_query: dict[str, list[str]] = {}
        for name, value in request.query:
            multi_query.setdefault(name, []).append(value)
        binary = is_binary_request(request.header("Content-Type"), self.api.binary_media_types)
        if not request.body:
            body: str | None = None
        elif binary:
            body = base64.b64encode(request.body).decode("ascii")
        else:
            body = request.body.decode("utf-8", "replace")
        event = {
            "resource": match.operation.path,
            "path": f"/{match.path}",
            "httpMethod": request.method,
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": match.path_parameters or None,
            "stageVariables": call.stage_variables or None,
            "requestContext": call.context,
            "body": body,
            "isBase64Encoded": bool(body) and binary,
        }
        if len(json.dumps(event).encode("utf-8")) > MAX_INVOKE_REQUEST_BYTES:
            # The function never runs; API Gateway answers for it (see REQUEST_TOO_LONG).
            return Response(
                413,
                REQUEST_TOO_LONG,
                {
                    "Content-Type": "application/json",
                    "x-amzn-RequestId": call.request_id,
                    "x-amzn-ErrorType": "BadRequestException",
                },
            )
        function = str(match.operation.integration.function_name)
        try:
            result = self.invoke_function(function, event)
            if len(json.dumps(result).encode("utf-8")) > MAX_INVOKE_RESPONSE_BYTES:
                # Lambda fails to return the answer; API Gateway reports INTEGRATION_FAILURE with
                # 502 (https://github.com/DataBiosphere/azul/issues/8258).
                raise _Failure("INTEGRATION_FAILURE")
            status = int(result["statusCode"])
            out_headers, more_lines = _answer_headers(result)
            raw = str(result.get("body") or "")
            encoded = bool(result.get("isBase64Encoded"))
        except _Failure:
            raise
        except Exception as exc:
            call.trace.note = (
                f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}"
            )
            # A failed invocation or a malformed proxy answer: API Gateway's fixed 502.
            return Response.json(
                502,
                {"message": "Internal server error"},
                {"x-amzn-RequestId": call.request_id, "x-amzn-ErrorType": "InternalServerErrorException"},
            )
        payload = raw.encode("utf-8")
        if encoded and is_binary(request.header("Accept"), self.api.binary_media_types):
            try:
                payload = base64.b64decode(raw, validate=True)
            except binascii.Error:
                # Base64 that does not decode is an API configuration error (500)
                # (https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html).
                raise _Failure("API_CONFIGURATION_ERROR") from None
        return Response(status, payload, {"x-amzn-RequestId": call.request_id, **out_headers}, more_lines)

    # -- AWS (SageMaker runtime) and MOCK integrations
    def _request_payload(self, call: _Call) -> tuple[bytes, str | None]:
        """The integration request's body, and the template that makes it (None: passed through).

        Text and binary as API Gateway converts them
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings-workflow.html):
        a payload whose Content-Type is a binary media type is binary (under */* one without a
        Content-Type too), CONVERT_TO_TEXT turns it into base64 text, CONVERT_TO_BINARY
        base64-decodes a text payload. A template is chosen by Content-Type (application/json when
        there is none) and applies to a text payload only: a binary one is a configuration error
        (500); with no template, the passthrough behaviour decides
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/integration-passthrough-behaviors.html).
        """
        request, integration = call.request, call.match.operation.integration
        binary = is_binary_request(request.header("Content-Type"), self.api.binary_media_types)
        body = request.body
        if binary and integration.content_handling == "CONVERT_TO_TEXT":
            body, binary = base64.b64encode(body), False
        elif not binary and integration.content_handling == "CONVERT_TO_BINARY":
            try:
                body, binary = base64.b64decode(body, validate=True), True
            except binascii.Error:
                raise _Failure("API_CONFIGURATION_ERROR") from None
        content_type = media_type(request.header("Content-Type")) or DEFAULT_CONTENT_TYPE
        templates = {name.lower(): template for name, template in integration.request_templates.items()}
        template = templates.get(content_type)
        if template is None:
            behavior = integration.passthrough_behavior
            if behavior == "NEVER" or (behavior == "WHEN_NO_TEMPLATES" and templates):
                raise _Failure("UNSUPPORTED_MEDIA_TYPE")
            return body, None
        if binary:
            # A binary payload cannot go through a template: API Gateway fails the request with
            # "Execution failed due to configuration error: Unable to transform request" and 500
            # (https://github.com/clebert/aws-simple/issues/167,
            # https://github.com/brefphp/bref/issues/922); contentHandling CONVERT_TO_TEXT (above)
            # is the way through (https://github.com/aws/chalice/issues/1310).
            raise _Failure("API_CONFIGURATION_ERROR")
        return body, template

    def _non_proxy(self, call: _Call) -> Response:
        request, operation = call.request, call.match.operation
        integration = operation.integration
        body, template = self._request_payload(call)
        if template is not None:
            body = render_request(template, body.decode("utf-8", "replace"), **call.template_inputs).encode(
                "utf-8"
            )
        if integration.type == "MOCK":
            # The request template's statusCode picks the integration response
            # (https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-mock-integration.html).
            try:
                selection = str(int(json.loads(body or b"{}").get("statusCode", 200)))
            except (ValueError, AttributeError):
                selection = "200"
            return self._respond(call, selection, b"", {})
        headers: dict[str, str] = {}
        query: list[tuple[str, str]] = []
        for target, source in integration.request_parameters.items():
            value = self._source(source, request, call.match, call.match.stage, call.context)
            if value is None:
                continue
            if target.startswith("integration.request.header."):
                headers[target.removeprefix("integration.request.header.")] = value
            elif target.startswith("integration.request.querystring."):
                query.append((target.removeprefix("integration.request.querystring."), value))
        url = f"{self.runtime_url}/endpoints/{integration.endpoint_name}/invocations"
        if query:
            url = f"{url}?{urllib.parse.urlencode(query)}"
        runtime_call = urllib.request.Request(  # noqa: S310
            url, data=body, headers={**headers, access.GATEWAY_CALLER: "gateway"}, method="POST"
        )
        try:
            with urllib.request.urlopen(runtime_call, timeout=integration.timeout_seconds) as answer:  # noqa: S310
                status, answer_body, answer_headers = (
                    answer.status,
                    answer.read(),
                    dict(answer.headers.items()),
                )
        except urllib.error.HTTPError as exc:
            status, answer_body, answer_headers = exc.code, exc.read(), dict(exc.headers.items())
            call.trace.note = access.runtime_error(status, answer_body)
        except TimeoutError:
            raise _Failure("INTEGRATION_TIMEOUT") from None
        except urllib.error.URLError:
            raise _Failure("INTEGRATION_FAILURE") from None
        return self._respond(call, str(status), answer_body, answer_headers)

    def _selected(self, responses: Mapping[str, IntegrationResponse], selection: str) -> IntegrationResponse:
        """The integration response whose selection pattern matches the whole value, else the
        default; none, or overlapping patterns, is a configuration error."""
        try:
            name = select_integration_response(
                {k: r.selection_pattern for k, r in responses.items()}, selection
            )
        except ValueError:
            raise _Failure("API_CONFIGURATION_ERROR") from None
        return responses[name]

    def _response_payload(
        self, call: _Call, selected: IntegrationResponse, body: bytes, headers: Mapping[str, str]
    ) -> tuple[bytes, bool]:
        """The integration answer converted for the method response, and whether it is now text
        (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings-workflow.html):
        the answer is binary when its Content-Type is a binary media type, the client wants binary
        when the first media type of its Accept header is; without contentHandling, a binary
        answer for a text Accept becomes base64 text and a text answer for a binary Accept is
        base64-decoded."""
        types = self.api.binary_media_types
        answer_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
        binary_answer = is_binary(answer_type, types)
        binary_accept = is_binary(call.request.header("Accept"), types)
        handling = selected.content_handling or ("CONVERT_TO_BINARY" if binary_accept else "CONVERT_TO_TEXT")
        if handling == "CONVERT_TO_TEXT":
            return (base64.b64encode(body), True) if binary_answer else (body, True)
        if binary_answer:
            return body, False
        try:
            return base64.b64decode(body, validate=True), False
        except binascii.Error:
            raise _Failure("API_CONFIGURATION_ERROR") from None

    def _respond(self, call: _Call, selection: str, body: bytes, headers: Mapping[str, str]) -> Response:
        integration = call.match.operation.integration
        selected = self._selected(integration.responses, selection)
        payload, text = self._response_payload(call, selected, body, headers)
        out_headers = {"x-amzn-RequestId": call.request_id}
        chosen = (
            _template_for(selected.templates, media_type(call.request.header("Accept"))) if text else None
        )
        status = selected.status_code
        if chosen is None:
            answer_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
            out_headers["Content-Type"] = answer_type or DEFAULT_CONTENT_TYPE
        else:
            content_type, template = chosen
            rendered = render_response(
                template, payload.decode("utf-8", "replace"), selected.status_code, **call.template_inputs
            )
            payload, status = rendered.body.encode("utf-8"), rendered.status
            out_headers["Content-Type"] = content_type
            out_headers.update(rendered.headers)
        for target, source in selected.parameters.items():
            name = target.removeprefix("method.response.header.")
            if source.startswith("integration.response.header."):
                wanted = source.removeprefix("integration.response.header.").lower()
                value = next((v for k, v in headers.items() if k.lower() == wanted), None)
            else:
                value = self._source(source, call.request, call.match, call.match.stage, call.context)
            if value is not None:
                out_headers[name] = value
        return Response(status, payload, out_headers)
