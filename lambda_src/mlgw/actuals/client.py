"""Client for the DataRobot actuals protocol over pooled urllib3 connections.

The service accepts a submission with 202 and a status URL, then ingests it in the
background, so a chunk only counts as delivered once its status says so. Throttling and
server errors are expected at volume and are retried with jittered exponential backoff,
never past the caller's deadline; any other client error is final because sending the
same body again cannot change the answer.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import urllib3
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.exceptions import HTTPError as Urllib3Error

RESPONSE_TEXT_LIMIT = 2000
_URL_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")
_DONE = {"COMPLETED", "SUCCESS"}
_FAILED = {"ERROR", "FAILED", "ABORTED"}


class DeliveryError(Exception):
    """A chunk was not delivered. ``detail`` is safe to log and to put in a report."""

    def __init__(self, message: str, *, status: int | None = None, response_text: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.response_text = response_text

    @property
    def detail(self) -> dict[str, Any]:
        return {"error": str(self), "status": self.status, "responseText": self.response_text}


class PermanentDeliveryError(DeliveryError):
    """Sending the same chunk again would fail the same way."""


class StatusGone(PermanentDeliveryError):
    """The status URL of an earlier submission no longer exists, so its outcome is unknown."""


class TransientDeliveryError(DeliveryError):
    """Retries or time ran out; a later invocation may succeed."""


class OutOfTime(TransientDeliveryError):
    """The invocation's time ended before the work did: not a failure, the next invocation
    of the chain continues from the state object."""


class MaybeAccepted(PermanentDeliveryError):
    """A request that must not be sent twice failed after it may have reached the platform: a
    read timeout or broken connection once it was sent, or a 5xx. Whether it was accepted is
    unknown, so it is neither sent again nor counted as done."""


class StillRunning(OutOfTime):
    """Time ran out while the platform answered that the submission is still running: the
    platform is making progress, so a hand-off made for it is not idle."""


class Throttled(OutOfTime):
    """The service kept answering 429 until the invocation's time ended; waiting is all it asks."""


@dataclass(frozen=True, slots=True)
class DeploymentInfo:
    """What the platform says of a deployment, as far as pacing and row rules need it.

    ``class_count`` and ``forecast_distances`` are None when the platform did not say.
    """

    target_type: str | None = None
    class_count: int | None = None
    time_series: bool = False
    forecast_distances: int | None = None

    def actuals_per_row(self) -> int:
        """How many actuals one row costs against the hourly limit: once per class for a
        multiclass deployment, once per forecast distance for a time-series one. What is
        not known counts once, and the service's 429 then paces what this cannot."""
        factor = 1
        if (self.target_type or "").lower() == "multiclass" and self.class_count:
            factor *= self.class_count
        if self.time_series and self.forecast_distances:
            factor *= self.forecast_distances
        return factor


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_retries: int
    base: float
    cap: float

    def delay(self, attempt: int, retry_after: float | None, rng: Callable[[], float]) -> float:
        """Full jitter spreads concurrent retries; Retry-After is a floor, never shortened."""
        jittered = rng() * min(self.cap, self.base * (2**attempt))
        return max(jittered, retry_after) if retry_after is not None else jittered


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a Retry-After header, in either of its two forms."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now())
    except (TypeError, ValueError):
        return None


class TokenProvider:
    """The API token, fetched from Secrets Manager once per container and on demand after a 401.

    The token is held only in memory and never included in a log record or exception.
    A secret may hold the bare token or a JSON object with a ``token`` field.
    """

    def __init__(self, secrets_client: Any, secret_arn: str) -> None:
        self._client = secrets_client
        self._secret_arn = secret_arn
        self._token: str | None = None
        self._lock = threading.Lock()

    def current(self) -> str:
        with self._lock:
            if self._token is None:
                self._token = self._fetch()
            return self._token

    def refresh(self, stale: str) -> str:
        """Refetch unless another thread already replaced ``stale``, so one 401 costs one call."""
        with self._lock:
            if self._token is None or self._token == stale:
                self._token = self._fetch()
            return self._token

    def _fetch(self) -> str:
        secret = self._client.get_secret_value(SecretId=self._secret_arn)["SecretString"].strip()
        if secret.startswith("{"):
            try:
                secret = str(json.loads(secret)["token"]).strip()
            except (ValueError, KeyError, TypeError):
                raise PermanentDeliveryError("token secret is JSON without a string 'token' field") from None
        if not secret:
            raise PermanentDeliveryError("token secret is empty")
        return secret


class ActualsApi:
    def __init__(
        self,
        http: urllib3.PoolManager,
        api_url: str,
        tokens: TokenProvider,
        policy: RetryPolicy,
        *,
        connect_timeout: float,
        read_timeout: float,
        poll_interval: float,
        poll_max_interval: float,
        grace: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._http = http
        self._api_url = api_url.rstrip("/") + "/"
        self._tokens = tokens
        self._policy = policy
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._poll_interval = poll_interval
        self._poll_max_interval = poll_max_interval
        self._grace = grace
        self._sleep = sleep
        self._clock = clock
        self._rng = rng

    def actuals_url(self, deployment_id: str) -> str:
        return urljoin(self._api_url, f"api/v2/deployments/{deployment_id}/actuals/fromJSON/")

    def target_type(self, deployment_id: str, deadline: float) -> str | None:
        """The deployment's ``model.targetType`` ("Regression", "Binary", ...), or None when the
        service does not say: the lookup is refused (a token allowed to submit actuals but not
        to read the deployment, a receiver that serves only the actuals routes) or the answer
        lacks the field. Throttling and server errors are retried like any request."""
        return self.deployment(deployment_id, deadline).target_type

    def deployment(self, deployment_id: str, deadline: float) -> DeploymentInfo:
        """The deployment's target type, and from its model package the class count and the
        forecast distances; whatever the service does not say stays unknown.

        ``GET /api/v2/deployments/{id}/`` names the model (``model.targetType``) and its
        ``modelPackage.id``; ``GET /api/v2/modelPackages/{id}/`` holds ``target.classCount``
        (or ``target.classNames``), ``modelKind.isTimeSeries`` and
        ``timeseries.forecastDistances`` (the official client's ModelPackage reads these
        fields: datarobot/models/model_package.py in datarobot-python-client; the endpoint:
        https://docs.datarobot.com/en/docs/api/reference/public-api/model_management.html).
        """
        payload = self._get_json(urljoin(self._api_url, f"api/v2/deployments/{deployment_id}/"), deadline)
        model = _section(payload, "model")
        target_type = model.get("targetType")
        info = DeploymentInfo(target_type=target_type if isinstance(target_type, str) else None)
        package_id = _section(payload, "modelPackage").get("id")
        if not isinstance(package_id, str) or not _URL_SEGMENT.fullmatch(package_id):
            return info
        package = self._get_json(urljoin(self._api_url, f"api/v2/modelPackages/{package_id}/"), deadline)
        target = _section(package, "target")
        class_count = target.get("classCount")
        names = target.get("classNames")
        if not _positive(class_count) and isinstance(names, list) and names:
            class_count = len(names)
        distances = _section(package, "timeseries").get("forecastDistances")
        return DeploymentInfo(
            target_type=info.target_type,
            class_count=class_count if _positive(class_count) else None,
            time_series=_section(package, "modelKind").get("isTimeSeries") is True,
            forecast_distances=len(distances) if isinstance(distances, list) and distances else None,
        )

    def _get_json(self, url: str, deadline: float) -> dict[str, Any]:
        """The JSON object a GET answers with 200, or an empty one for any other answer."""
        response = self._request("GET", url, None, deadline)
        if response.status != 200:
            return {}
        try:
            payload = json.loads(response.data or b"{}")
        except ValueError:
            return {}
        return payload if isinstance(payload, dict) else {}

    def submit(self, deployment_id: str, body: bytes, deadline: float) -> str | None:
        """POST one chunk; the status URL to poll, or None when the service finished at once."""
        response = self._request("POST", self.actuals_url(deployment_id), body, deadline)
        if response.status == 202:
            location = response.headers.get("Location")
            return urljoin(self._api_url, location) if location else None
        if 200 <= response.status < 300:
            return None
        raise _final_error("actuals submission", response)

    def url(self, path: str) -> str:
        """``path`` of the service, as an absolute URL."""
        return urljoin(self._api_url, path)

    def request(
        self, method: str, url: str, body: bytes | None, deadline: float, *, resend: bool = True
    ) -> Any:
        """One JSON request with this client's retries, token refresh and deadline.

        ``resend=False`` is for a request the platform has no idempotency key for, whose repeat
        would duplicate what it started (a fromDataset submission): it is sent again only when it
        provably never left (the connection was never made) or the platform answered 429 or 401;
        any other failure raises MaybeAccepted."""
        return self._request(method, url, body, deadline, resend=resend)

    def wait(self, status_url: str, deadline: float) -> str | None:
        """Poll until the submission completes; raise if it fails or time runs out.

        Returns where a 303 pointed, which is what an asynchronous job created (a dataset), if any."""
        interval = self._poll_interval
        while True:
            response = self._request("GET", status_url, None, deadline)
            if response.status == 307 and response.headers.get("Location"):
                # The official client follows a temporary redirect of the status once and reads
                # the answer as the status (datarobot/utils/waiters.py, wait_for_async_resolution);
                # the next poll goes to the status URL again.
                moved = urljoin(status_url, response.headers["Location"])
                response = self._request("GET", moved, None, deadline)
            if response.status == 303:
                location = response.headers.get("Location")
                return urljoin(status_url, location) if location else None
            if response.status == 200 and _status_of(response) in _DONE:
                return None
            if response.status == 404:
                raise StatusGone("status of an earlier submission is gone", status=404)
            if response.status != 200:
                raise _final_error("status poll", response)
            state = _status_of(response)
            if state in _FAILED:
                raise PermanentDeliveryError(
                    f"actuals ingestion ended with status {state}",
                    status=response.status,
                    response_text=_text(response),
                )
            if self._clock() + interval > deadline:
                raise StillRunning("ran out of time while the platform was still working on it")
            self._sleep(interval)
            interval = min(self._poll_max_interval, interval * 1.5)

    def _request(
        self, method: str, url: str, body: bytes | None, deadline: float, *, resend: bool = True
    ) -> Any:
        """Send with retries; returns any response that is neither retryable nor a 401.

        No request starts after ``deadline``, but one already sent may wait ``grace``
        seconds longer for its answer: giving up on a request the service may have
        accepted is what turns a delivery into a duplicate on the retry.
        """
        token = self._tokens.current()
        refreshed = False
        attempt = 0
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise OutOfTime(f"ran out of time before {method} could be sent")
            timeout = urllib3.Timeout(
                connect=min(self._connect_timeout, remaining),
                read=min(self._read_timeout, remaining + self._grace),
            )
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
            if body is not None:
                headers["Content-Type"] = "application/json"
            retry_after: float | None = None
            try:
                response = self._http.request(
                    method,
                    url,
                    body=body,
                    headers=headers,
                    timeout=timeout,
                    retries=False,
                    redirect=False,
                )
            except Urllib3Error as exc:
                # A connection never made means no byte of the request left: urllib3 raises these
                # while connecting, before sending (NewConnectionError is a ConnectTimeoutError).
                if not resend and not isinstance(exc, NewConnectionError | ConnectTimeoutError):
                    raise MaybeAccepted(
                        f"{method} failed after it may have reached the platform: {type(exc).__name__}"
                    ) from None
                failure: DeliveryError = TransientDeliveryError(
                    f"{method} failed without a response: {type(exc).__name__}"
                )
            else:
                if response.status == 401 and not refreshed:
                    token = self._tokens.refresh(token)
                    refreshed = True
                    continue
                if response.status == 401:
                    raise _final_error(f"{method} rejected the token twice", response)
                if response.status != 429 and response.status < 500:
                    return response
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                if response.status == 429:
                    # The quota says when to come back: waiting is no failure, so it spends no
                    # retry of the request, nor of the invocation. A wait longer than the time
                    # left is slept up to the deadline (handing off at once would only start
                    # invocations that wait) and the next invocation of the chain waits on.
                    delay = self._policy.delay(min(attempt, 8), retry_after, self._rng)
                    if self._clock() + delay >= deadline:
                        self._sleep(max(0.0, deadline - self._clock()))
                        raise Throttled(
                            f"{method} answered 429 until the invocation's time ran out",
                            status=429,
                            response_text=_text(response),
                        )
                    self._sleep(delay)
                    attempt += 1
                    continue
                if not resend:
                    raise MaybeAccepted(
                        f"{method} answered {response.status}; the platform may have started it",
                        status=response.status,
                        response_text=_text(response),
                    )
                failure = TransientDeliveryError(
                    f"{method} answered {response.status}",
                    status=response.status,
                    response_text=_text(response),
                )
            if attempt >= self._policy.max_retries:
                raise failure
            delay = self._policy.delay(attempt, retry_after, self._rng)
            if self._clock() + delay >= deadline:
                raise failure
            self._sleep(delay)
            attempt += 1


def _section(payload: dict[str, Any], key: str) -> dict[str, Any]:
    value = payload.get(key)
    return value if isinstance(value, dict) else {}


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def platform_message(text: str | None) -> str | None:
    """The ``message`` of a JSON error body, the platform's own words for what it refused."""
    if not text:
        return None
    try:
        payload = json.loads(text)
    except ValueError:
        return None
    message = payload.get("message") if isinstance(payload, dict) else None
    return message if isinstance(message, str) and message.strip() else None


def _status_of(response: Any) -> str:
    try:
        payload = json.loads(response.data or b"{}")
    except ValueError:
        return ""
    return str(payload.get("status", "")).upper() if isinstance(payload, dict) else ""


def _text(response: Any) -> str:
    return bytes(response.data or b"")[:RESPONSE_TEXT_LIMIT].decode("utf-8", errors="replace")


def _final_error(what: str, response: Any) -> PermanentDeliveryError:
    return PermanentDeliveryError(
        f"{what} answered {response.status}", status=response.status, response_text=_text(response)
    )
