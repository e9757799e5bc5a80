"""One prediction request, from a parsed proxy event to a proxy response.

Every failure becomes the shared error shape with a fixed, client-safe message; the details
(endpoint names, service messages) go to the log under the request id the client can quote.
"""

from __future__ import annotations

import time
from logging import Logger
from typing import Any, Protocol

from mlgw.apigw import BadBody, ProxyRequest, error_response, response
from mlgw.backends.base import Backend
from mlgw.backends.errors import (
    BackendError,
    BackendTimeout,
    ModelError,
    NotReady,
    PayloadTooLarge,
    RetryLater,
    Throttled,
)
from mlgw.backends.payload import CSV, JSON, InvalidInput, Payload, csv_line_payload, is_json, media_type
from mlgw.backends.sagemaker import INFERENCE_ID
from mlgw.env import SettingsError
from mlgw.routing import DEFAULT_ROUTE, Route, RouteSource

_LOGGED_BODY_CHARS = 4096
# Metrics and logs name unknown routes this way, so clients cannot mint metric dimensions.
_UNKNOWN_ROUTE = "unknown"


class ClientFault(Exception):
    """A request the API refuses before any model call."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class BackendFactory(Protocol):
    def backend_for(self, route: Route) -> Backend: ...


class MetricsSink(Protocol):
    def record(self, route: str, latency_ms: float, error_kind: str | None) -> None: ...


class PredictService:
    def __init__(
        self,
        routes: RouteSource,
        backends: BackendFactory,
        *,
        logger: Logger,
        metrics: MetricsSink,
        log_bodies: bool = False,
    ) -> None:
        self._routes = routes
        self._backends = backends
        self._logger = logger
        self._metrics = metrics
        self._log_bodies = log_bodies

    def handle(self, request: ProxyRequest) -> dict[str, Any]:
        started = time.perf_counter()
        route_label = _UNKNOWN_ROUTE
        headers = {"X-Request-Id": request.request_id}
        error_kind: str | None = None
        rows = 0
        try:
            route = self._route(request)
            route_label = route.name
            headers["X-Model-Route"] = route.name
            payload = _payload(request)
            # Parsed before the call, so bad input is a 400 and costs no model time.
            rows = len(payload.records.rows)
            result = self._predict(route, payload, request, headers)
        except Exception as exc:
            error_kind, result = self._failure(exc, request.request_id, route_label, headers)
        latency_ms = (time.perf_counter() - started) * 1000
        self._metrics.record(route_label, latency_ms, error_kind)
        self._logger.info(
            "prediction request done",
            extra={
                "route": route_label,
                "status": result["statusCode"],
                "latency_ms": round(latency_ms, 3),
                "error_kind": error_kind,
                "rows": rows,
            },
        )
        return result

    def _route(self, request: ProxyRequest) -> Route:
        if request.method not in {"GET", "POST"}:
            raise ClientFault(405, "MethodNotAllowed", "use POST, or GET with ?data=")
        name = request.path_parameters.get("model") or DEFAULT_ROUTE
        route = self._routes.table().get(name)
        if route is None:
            raise ClientFault(404, "RouteNotFound", f"no model route named {name!r}")
        return route

    def _predict(
        self, route: Route, payload: Payload, request: ProxyRequest, headers: dict[str, str]
    ) -> dict[str, Any]:
        inference_id = _inference_id(request)
        headers["X-Inference-Id"] = inference_id
        if self._log_bodies:
            self._logger.info(
                "request payload",
                extra={
                    "route": route.name,
                    "body": payload.body[:_LOGGED_BODY_CHARS].decode("utf-8", "replace"),
                },
            )
        answer = self._backends.backend_for(route).predict(payload, inference_id=inference_id)
        return response(200, answer.body, answer.content_type, {**answer.headers, **headers})

    def _failure(
        self, exc: Exception, request_id: str, route: str, headers: dict[str, str]
    ) -> tuple[str, dict[str, Any]]:
        if isinstance(exc, BadBody):
            exc = ClientFault(400, "InvalidBase64", str(exc))
        if isinstance(exc, ClientFault | InvalidInput):
            status = exc.status if isinstance(exc, ClientFault) else 400
            self._logger.info("request refused", extra={"route": route, "code": exc.code, "reason": str(exc)})
            return exc.code, error_response(status, exc.code, str(exc), request_id, headers)
        if isinstance(exc, BackendError):
            self._log_backend_error(exc, route)
            status, code, message = _backend_error_answer(exc)
            if isinstance(exc, RetryLater):
                headers = {**headers, "Retry-After": str(exc.retry_after)}
            return exc.kind, error_response(status, code, message, request_id, headers)
        if isinstance(exc, SettingsError):
            self._logger.error("routing table unavailable", extra={"route": route, "error": str(exc)})
            return "ConfigurationError", error_response(
                500, "ConfigurationError", "the prediction service is misconfigured", request_id, headers
            )
        self._logger.exception("unexpected error", extra={"route": route})
        return "InternalError", error_response(500, "InternalError", "internal error", request_id, headers)

    def _log_backend_error(self, exc: BackendError, route: str) -> None:
        fields: dict[str, Any] = {"route": route, "error_kind": exc.kind, "error": str(exc)}
        if isinstance(exc, ModelError):
            fields["model_status"] = exc.original_status
            fields["model_log_stream"] = exc.log_stream
            if self._log_bodies:
                fields["model_message"] = exc.original_message
        self._logger.warning("model call failed", extra=fields)


def _backend_error_answer(exc: BackendError) -> tuple[int, str, str]:
    if isinstance(exc, PayloadTooLarge):
        return (
            413,
            "PayloadTooLarge",
            f"the model request is {exc.size} bytes; this model accepts {exc.limit}",
        )
    if isinstance(exc, ModelError):
        status = f" with status {exc.original_status}" if exc.original_status is not None else ""
        return 502, "ModelError", f"the model failed{status}"
    if isinstance(exc, RetryLater):
        what = {Throttled: "ModelThrottled", NotReady: "ModelNotReady"}.get(type(exc), "ModelUnavailable")
        return 503, what, f"the model cannot take requests right now; retry after {exc.retry_after} s"
    if isinstance(exc, BackendTimeout):
        return 504, "ModelTimeout", "the model did not answer in time"
    return 502, "BackendError", "the model backend failed; quote the requestId to the operators"


def _payload(request: ProxyRequest) -> Payload:
    if request.method == "GET":
        values = request.multi_query.get("data") or (
            [request.query["data"]] if "data" in request.query else []
        )
        if len(values) != 1:
            raise InvalidInput("InvalidDataParameter", "send the features once, as ?data=1.2,3.4")
        return csv_line_payload(values[0])
    media = media_type(request.header("content-type")) or JSON
    if not (is_json(media) or media == CSV):
        raise InvalidInput(
            "UnsupportedContentType", f"content type {media!r} is not supported; use {JSON} or {CSV}"
        )
    return Payload(request.body(), media)


def _inference_id(request: ProxyRequest) -> str:
    supplied = request.header("x-inference-id")
    if supplied is None:
        return request.request_id
    if not INFERENCE_ID.fullmatch(supplied):
        raise InvalidInput(
            "InvalidInferenceId",
            "X-Inference-Id must be 1-64 printable ASCII characters, not starting with a space",
        )
    return supplied
