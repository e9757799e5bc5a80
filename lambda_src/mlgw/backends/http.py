"""Model servers reached over HTTP (SageMaker-style containers, KServe v1, MLflow serving).

Uses urllib3 because it ships with botocore in the Lambda runtime; the pool manager is created
once per container and shared by every route, so keep-alive connections survive between calls.
"""

from __future__ import annotations

import json
import re
from typing import Any

import urllib3
from urllib3.exceptions import HTTPError, MaxRetryError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from mlgw.backends.base import ModelResponse
from mlgw.backends.errors import (
    BackendFailure,
    BackendTimeout,
    ModelError,
    Throttled,
    Unavailable,
)
from mlgw.backends.limits import check_size
from mlgw.backends.payload import JSON, Payload, encode, json_value, named
from mlgw.routing import Route

# urllib3 sleeps 0 s before the first retry and backoff_factor * 2 ** (n - 1) before retry n,
# so this factor keeps the whole backoff well under a second for any budget settings accept.
BACKOFF_FACTOR = 0.05

# Retry-After in its delay-seconds form, a non-negative decimal integer (RFC 9110, section 10.2.3:
# https://www.rfc-editor.org/rfc/rfc9110#section-10.2.3). ASCII digits only, and few of them:
# str.isdigit() also accepts digits such as "²" that int() refuses, and int() refuses more than
# sys.get_int_max_str_digits() digits, so either would turn a model's odd header into a crash.
_DELAY_SECONDS = re.compile(r"[0-9]{1,9}")


def retry_policy(max_attempts: int) -> urllib3.Retry:
    """Retry connection and read failures only: a model's own error status is an answer, and
    a 503 is passed on to the client with Retry-After instead of being hammered from here."""
    retries = max_attempts - 1
    return urllib3.Retry(
        total=retries,
        connect=retries,
        read=retries,
        status=0,
        redirect=0,
        other=0,
        allowed_methods=frozenset({"POST"}),
        backoff_factor=BACKOFF_FACTOR,
        raise_on_status=False,
        raise_on_redirect=False,
    )


def request_body(route: Route, payload: Payload) -> tuple[bytes, str]:
    """The body in the route's serving protocol, and its media type."""
    if route.protocol == "sagemaker":
        return encode(payload, route.content_type, route.feature_names), route.content_type
    rows = [json_value(row) for row in payload.records.rows]
    document: dict[str, Any]
    if route.protocol == "kserve-v1":
        document = {"instances": rows}
    else:
        document = {"dataframe_records": [named(row, route.feature_names) for row in rows]}
    return json.dumps(document).encode("utf-8"), JSON


def _retry_after(headers: Any, default: int) -> int:
    raw = headers.get("Retry-After", "").strip()
    return max(1, int(raw)) if _DELAY_SECONDS.fullmatch(raw) else default


class HttpBackend:
    def __init__(
        self,
        pool: urllib3.PoolManager,
        route: Route,
        *,
        timeout: urllib3.Timeout,
        retries: urllib3.Retry,
        retry_after: int,
    ) -> None:
        self._pool = pool
        self._route = route
        self._timeout = timeout
        self._retries = retries
        self._retry_after = retry_after

    def predict(self, payload: Payload, *, inference_id: str) -> ModelResponse:
        route = self._route
        body, content_type = request_body(route, payload)
        check_size(body, route.max_payload_bytes)
        headers = {"Content-Type": content_type, "Accept": route.accept, "X-Inference-Id": inference_id}
        url = str(route.url)
        try:
            response = self._pool.request(
                "POST", url, body=body, headers=headers, timeout=self._timeout, retries=self._retries
            )
        except MaxRetryError as exc:
            raise _transport_error(exc.reason, url) from exc
        except HTTPError as exc:
            raise _transport_error(exc, url) from exc
        status = response.status
        if 200 <= status < 300:
            return ModelResponse(response.data, response.headers.get("Content-Type") or route.accept)
        message = f"model server {url} answered {status}"
        if status == 429:
            raise Throttled(message, _retry_after(response.headers, self._retry_after))
        if status == 503:
            raise Unavailable(message, _retry_after(response.headers, self._retry_after))
        raise ModelError(message, status)


def _transport_error(reason: Exception | None, url: str) -> BackendFailure | BackendTimeout:
    # NewConnectionError subclasses ConnectTimeoutError in urllib3, but a refused or unresolvable
    # connection is not a timeout, so it is tested first.
    text = f"{url}: {type(reason).__name__}: {reason}"
    if isinstance(reason, NewConnectionError):
        return BackendFailure(text)
    if isinstance(reason, Urllib3Timeout):
        return BackendTimeout(text)
    return BackendFailure(text)
