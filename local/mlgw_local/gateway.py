"""The REST API of the plan on localhost, as API Gateway serves it.

Per request, in API Gateway's order: the stage and the route (``MISSING_AUTHENTICATION_TOKEN``
when none matches), the API key (``INVALID_API_KEY``), the usage plan's throttle and quota for
that key and the stage's throttle (``THROTTLED``, ``QUOTA_EXCEEDED``), the request validator
(``BAD_REQUEST_PARAMETERS``, ``BAD_REQUEST_BODY``), then the integration: a Lambda-proxy route
invokes its function with a REST proxy event; a direct SageMaker route renders the integration
request template with the same VTL engine as the template tests, calls the runtime, selects the
integration response by the runtime's status and renders its template. API Gateway's own errors
are the plan's gateway responses, rendered with that engine too, except the two 413s of a request
too large (see ``REQUEST_TOO_LONG``), which AWS was not seen to let a gateway response change.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jsonschema

from mlgw_local.http import Request, Response
from mlgw_local.plan import ApiKey, Gateway, GatewayResponse, Quota, Route, Throttle
from mlgw_local.vtl import render_request, render_response, select_integration_response

ACCOUNT_ID = "123456789012"
API_ID = "local"
_DEFAULT_MESSAGES = {
    "INVALID_API_KEY": (403, "Forbidden"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "THROTTLED": (429, "Too Many Requests"),
    "QUOTA_EXCEEDED": (429, "Limit Exceeded"),
    "BAD_REQUEST_PARAMETERS": (400, "Missing required request parameters"),
    "BAD_REQUEST_BODY": (400, "Invalid request body"),
    "UNSUPPORTED_MEDIA_TYPE": (415, "Unsupported Media Type"),
    "INTEGRATION_TIMEOUT": (504, "Endpoint request timed out"),
    "INTEGRATION_FAILURE": (502, "Internal server error"),
    "API_CONFIGURATION_ERROR": (500, "Internal server error"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
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
# event is too large for Lambda: a fixed 413, not the plan's REQUEST_TOO_LARGE gateway response.
# A live REST API answered an oversized Lambda event with 413, BadRequestException and
# {"message": "Request Too Long"}, and a body over 10 MB with 413 and a plain-text message; a
# customised REQUEST_TOO_LARGE response did not change either
# (https://github.com/koki-develop/lgtm-generator/issues/10; the same of a customised 413 in
# https://github.com/reapit/foundations/issues/4338). That API was edge-optimised (the answers came
# through CloudFront): what a regional API sends over 10 MB has not been observed.
REQUEST_TOO_LONG = b'{"message": "Request Too Long"}'
BODY_TOO_LARGE = f"HTTP content length exceeded {MAX_BODY_BYTES} bytes.".encode()


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


@dataclass(frozen=True)
class _Match:
    route: Route
    stage: str
    path: str
    path_parameters: dict[str, str]


def _match_path(template: str, path: str) -> dict[str, str] | None:
    wanted = template.split("/") if template else []
    given = path.split("/") if path else []
    params: dict[str, str] = {}
    for index, segment in enumerate(wanted):
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
    return params if len(wanted) == len(given) else None


def _specificity(template: str) -> tuple[int, ...]:
    """API Gateway prefers static segments over parameters, and parameters over greedy ones."""
    return tuple(0 if not s.startswith("{") else 2 if s.endswith("+}") else 1 for s in template.split("/"))


class RestApi:
    def __init__(
        self,
        gateway: Gateway,
        invoke_function: Callable[[str, dict[str, Any]], Any],
        runtime_url: str,
        host: str,
    ) -> None:
        self.gateway = gateway
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
        candidates = []
        for route in self.gateway.routes:
            if route.method not in (request.method, "ANY"):
                continue
            params = _match_path(route.path, path)
            if params is not None:
                candidates.append((_specificity(route.path), route.method == "ANY", route, params))
        if not candidates:
            return stage, None
        _, _, route, params = min(candidates, key=lambda c: (c[0], c[1]))
        return stage, _Match(route, stage, path, params)

    # -- errors
    def _gateway_response(
        self, kind: str, request_id: str, stage: str | None, message: str | None = None
    ) -> Response:
        default_status, default_message = _DEFAULT_MESSAGES.get(kind, (500, "Internal server error"))
        text = message or default_message
        family = "DEFAULT_4XX" if default_status < 500 else "DEFAULT_5XX"
        response: GatewayResponse | None = self.gateway.gateway_responses.get(
            kind
        ) or self.gateway.gateway_responses.get(family)
        if response is None:
            return Response.json(default_status, {"message": text}, {"x-amzn-RequestId": request_id})
        context = {
            "requestId": request_id,
            "stage": stage or "",
            "error": {"message": text, "messageString": json.dumps(text), "responseType": kind},
        }
        body = render_request(response.template, "", context=context)
        status = response.status_code if response.status_code is not None else default_status
        headers = {
            "Content-Type": "application/json",
            "x-amzn-RequestId": request_id,
            "x-amzn-ErrorType": kind,
            **response.headers,
        }
        return Response(status, body.encode(), headers)

    # -- keys and limits
    def _key(self, request: Request, stage: str) -> ApiKey | None:
        key = self._keys.get(request.header("x-api-key") or "")
        if key is None or not key.enabled:
            return None
        return key if stage in self.gateway.usage_plans[key.usage_plan].stages else None

    def _take(self, scope: tuple[str, ...], throttle: Throttle | None) -> bool:
        if throttle is None:
            return True
        bucket = self._buckets.get(scope)
        if bucket is None:
            bucket = self._buckets[scope] = TokenBucket(throttle)
        return bucket.take()

    def _limit(self, match: _Match, key: ApiKey | None) -> str | None:
        route = match.route
        method_path = (route.path, route.method)
        with self._lock:
            if key is not None:
                plan = self.gateway.usage_plans[key.usage_plan]
                per_method = plan.method_throttles.get(method_path)
                if per_method is not None and not self._take(
                    ("key-method", key.value, *method_path), per_method
                ):
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
            per_route = stage.method_throttles.get(method_path)
            if per_route is not None:
                return (
                    None
                    if self._take(("stage-method", match.stage, *method_path), per_route)
                    else "THROTTLED"
                )
            return None if self._take(("stage", match.stage), stage.throttle) else "THROTTLED"

    # -- validation
    def _missing_parameter(self, request: Request, match: _Match) -> str | None:
        query = dict(request.query)
        for name, required in match.route.request_parameters.items():
            if not required:
                continue
            _, _, location, parameter = name.split(".", 3)
            present = (
                parameter in match.path_parameters
                if location == "path"
                else parameter in query
                if location == "querystring"
                else request.header(parameter) is not None
            )
            if not present:
                return parameter
        return None

    def _bad_body(self, request: Request, route: Route) -> str | None:
        if not route.validate_body or route.body_schema is None:
            return None
        try:
            jsonschema.validate(json.loads(request.body or b"null"), route.body_schema)
        except (ValueError, jsonschema.ValidationError) as exc:
            return f"Invalid request body: {getattr(exc, 'message', exc)}"
        return None

    # -- the request
    def __call__(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        stage, match = self._match(request)
        if match is None:
            return self._gateway_response("MISSING_AUTHENTICATION_TOKEN", request_id, stage)
        if len(request.body) > MAX_BODY_BYTES:
            return Response(413, BODY_TOO_LARGE, {"Content-Type": "text; charset=utf-8"})
        key = self._key(request, match.stage)
        if match.route.api_key_required and key is None:
            return self._gateway_response("INVALID_API_KEY", request_id, stage)
        limited = self._limit(match, key)
        if limited is not None:
            return self._gateway_response(limited, request_id, stage)
        if match.route.validate_parameters:
            missing = self._missing_parameter(request, match)
            if missing is not None:
                return self._gateway_response(
                    "BAD_REQUEST_PARAMETERS",
                    request_id,
                    stage,
                    f"Missing required request parameters: [{missing}]",
                )
        problem = self._bad_body(request, match.route)
        if problem is not None:
            return self._gateway_response("BAD_REQUEST_BODY", request_id, stage, problem)
        context = self._context(request, match, key, request_id)
        if match.route.integration_type == "AWS_PROXY":
            return self._proxy(request, match, context, request_id)
        return self._sagemaker(request, match, context, request_id)

    def _context(
        self, request: Request, match: _Match, key: ApiKey | None, request_id: str
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        return {
            "resourceId": match.route.key,
            "resourcePath": f"/{match.route.path}",
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
    def _proxy(self, request: Request, match: _Match, context: dict[str, Any], request_id: str) -> Response:
        headers: dict[str, str] = {}
        multi_headers: dict[str, list[str]] = {}
        for name, value in request.headers:
            headers[name] = value
            multi_headers.setdefault(name, []).append(value)
        multi_query: dict[str, list[str]] = {}
        for name, value in request.query:
            multi_query.setdefault(name, []).append(value)
        content_type = request.header("Content-Type") or ""
        text = content_type.startswith(("text/", "application/json", "application/xml")) or not request.body
        if text:
            try:
                body: str | None = request.body.decode("utf-8") if request.body else None
            except UnicodeDecodeError:
                text = False
        if not text:
            body = base64.b64encode(request.body).decode("ascii")
        stage_variables = self.gateway.stages[match.stage].variables
        event = {
            "resource": f"/{match.route.path}",
            "path": f"/{match.path}",
            "httpMethod": request.method,
            "headers": headers or None,
            "multiValueHeaders": multi_headers or None,
            "queryStringParameters": {k: v[-1] for k, v in multi_query.items()} or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": match.path_parameters or None,
            "stageVariables": stage_variables or None,
            "requestContext": context,
            "body": body,
            "isBase64Encoded": not text,
        }
        if len(json.dumps(event).encode("utf-8")) > MAX_INVOKE_REQUEST_BYTES:
            # The function never runs; API Gateway answers for it (see REQUEST_TOO_LONG).
            return Response(
                413,
                REQUEST_TOO_LONG,
                {
                    "Content-Type": "application/json",
                    "x-amzn-RequestId": request_id,
                    "x-amzn-ErrorType": "BadRequestException",
                },
            )
        try:
            result = self.invoke_function(str(match.route.function_name), event)
            if len(json.dumps(result).encode("utf-8")) > MAX_INVOKE_RESPONSE_BYTES:
                # Lambda fails to return the answer; API Gateway reports INTEGRATION_FAILURE with
                # 502 (https://github.com/DataBiosphere/azul/issues/8258).
                return self._gateway_response("INTEGRATION_FAILURE", request_id, match.stage)
            status = int(result["statusCode"])
            out_headers = {str(k): str(v) for k, v in (result.get("headers") or {}).items()}
            for name, values in (result.get("multiValueHeaders") or {}).items():
                out_headers[str(name)] = ", ".join(str(v) for v in values)
            raw = result.get("body") or ""
            payload = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode("utf-8")
        except Exception:
            return Response.json(
                502,
                {"message": "Internal server error"},
                {"x-amzn-RequestId": request_id, "x-amzn-ErrorType": "InternalServerErrorException"},
            )
        return Response(status, payload, {"x-amzn-RequestId": request_id, **out_headers})

    # -- direct SageMaker integration
    def _mapped(self, expression: str, request: Request, match: _Match) -> str | None:
        if expression.startswith("'"):
            return expression.strip("'")
        parts = expression.split(".")
        if parts[:2] != ["method", "request"] or len(parts) < 4:
            return None
        location, name = parts[2], ".".join(parts[3:])
        if location == "header":
            return request.header(name)
        if location == "querystring":
            return dict(request.query).get(name)
        if location == "path":
            return match.path_parameters.get(name)
        return None

    def _sagemaker(
        self, request: Request, match: _Match, context: dict[str, Any], request_id: str
    ) -> Response:
        route = match.route
        stage = match.stage
        content_type = (request.header("Content-Type") or "application/json").split(";", 1)[0].strip()
        template = route.request_templates.get(content_type)
        if template is None:
            return self._gateway_response("UNSUPPORTED_MEDIA_TYPE", request_id, stage)
        params = {
            "path_params": match.path_parameters,
            "query": dict(request.query),
            "headers": dict(request.headers),
            "context": context,
            "stage_variables": self.gateway.stages[stage].variables,
        }
        body = render_request(template, request.body.decode("utf-8", "replace"), **params).encode("utf-8")
        headers: dict[str, str] = {}
        for target, source in route.integration_parameters.items():
            value = self._mapped(source, request, match)
            if value is not None and target.startswith("integration.request.header."):
                headers[target.removeprefix("integration.request.header.")] = value
        call = urllib.request.Request(  # noqa: S310 - an http URL of local mode
            f"{self.runtime_url}/endpoints/{route.endpoint_name}/invocations",
            data=body,
            headers=headers,
            method="POST",
        )
        try:
            with urllib.request.urlopen(call, timeout=route.timeout_seconds) as answer:  # noqa: S310
                status, answer_body, answer_headers = (
                    answer.status,
                    answer.read(),
                    dict(answer.headers.items()),
                )
        except urllib.error.HTTPError as exc:
            status, answer_body, answer_headers = exc.code, exc.read(), dict(exc.headers.items())
        except TimeoutError:
            return self._gateway_response("INTEGRATION_TIMEOUT", request_id, stage)
        except urllib.error.URLError:
            return self._gateway_response("INTEGRATION_FAILURE", request_id, stage)
        patterns = {name: r.selection_pattern for name, r in route.responses.items()}
        selected = route.responses[select_integration_response(patterns, str(status))]
        out_headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id}
        if selected.template is None:
            rendered_body, final_status = answer_body, selected.status_code
            out_headers["Content-Type"] = answer_headers.get("Content-Type", "application/json")
        else:
            rendered = render_response(
                selected.template, answer_body.decode("utf-8", "replace"), selected.status_code, **params
            )
            rendered_body, final_status = rendered.body.encode("utf-8"), rendered.status
            out_headers.update(rendered.headers)
        for target, source in selected.parameters.items():
            name = target.removeprefix("method.response.header.")
            if source.startswith("'"):
                out_headers[name] = source.strip("'")
            elif source.startswith("integration.response.header."):
                value = answer_headers.get(source.removeprefix("integration.response.header."))
                if value is not None:
                    out_headers[name] = value
        return Response(final_status, rendered_body, out_headers)
