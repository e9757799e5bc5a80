"""The prediction API over HTTPS with `requests`."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

# API Gateway ends every request after 29 s, so waiting longer only hides a dead connection.
DEFAULT_TIMEOUT = (3.05, 30.0)


@dataclass(frozen=True)
class Prediction:
    status: int
    content_type: str
    body: bytes
    request_id: str | None
    inference_id: str | None
    route: str | None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.body)


class PredictError(Exception):
    """A non-2xx answer. `code` is the API's error code, or None for a gateway answer without one
    (an invalid API key, the usage plan's own throttling)."""

    def __init__(
        self, status: int, message: str, code: str | None, request_id: str | None, retry_after: int | None
    ) -> None:
        super().__init__(f"{status} {code or 'error'}: {message}")
        self.status = status
        self.message = message
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after


class PredictClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
        session: requests.Session | None = None,
    ) -> None:
        """`base_url` is the stage URL, e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod."""
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._session = session or requests.Session()
        if api_key:
            self._session.headers["x-api-key"] = api_key

    def url(self, model: str | None = None) -> str:
        return f"{self._base_url}/predict" + (f"/{quote(model, safe='')}" if model else "")

    def predict(
        self,
        record: Mapping[str, Any] | None = None,
        *,
        instances: Sequence[Any] | None = None,
        csv: str | None = None,
        data: Sequence[Any] | str | None = None,
        model: str | None = None,
        inference_id: str | None = None,
    ) -> Prediction:
        """Send exactly one of: a record, a list of instances, CSV text, or `data` (features sent
        as ?data= on a GET)."""
        given = [value is not None for value in (record, instances, csv, data)]
        if sum(given) != 1:
            raise ValueError("pass exactly one of record, instances, csv or data")
        headers = {"X-Inference-Id": inference_id} if inference_id else {}
        if data is not None:
            line = data if isinstance(data, str) else ",".join(str(value) for value in data)
            response = self._session.get(
                self.url(model), params={"data": line}, headers=headers, timeout=self._timeout
            )
        else:
            if csv is not None:
                body, content_type = csv.encode("utf-8"), "text/csv"
            else:
                document = record if record is not None else {"instances": list(instances or [])}
                body, content_type = json.dumps(document).encode("utf-8"), "application/json"
            response = self._session.post(
                self.url(model),
                data=body,
                headers={**headers, "Content-Type": content_type},
                timeout=self._timeout,
            )
        return _result(response)


def _result(response: requests.Response) -> Prediction:
    request_id = response.headers.get("X-Request-Id")
    if response.ok:
        return Prediction(
            status=response.status_code,
            content_type=response.headers.get("Content-Type", ""),
            body=response.content,
            request_id=request_id,
            inference_id=response.headers.get("X-Inference-Id"),
            route=response.headers.get("X-Model-Route"),
        )
    try:
        error = response.json()
    except ValueError:
        error = {}
    if not isinstance(error, dict):
        error = {}
    retry_after = response.headers.get("Retry-After", "")
    raise PredictError(
        response.status_code,
        str(error.get("message") or response.reason or "request failed"),
        error.get("code"),
        error.get("requestId") or request_id,
        int(retry_after) if retry_after.isdigit() else None,
    )
