"""Legacy Amazon Machine Learning real-time endpoints through `machinelearning` Predict.

Predict scores exactly one record whose values are all strings, addressed by variable name,
and answers with a Prediction object that clients of the legacy API already parse; it is
returned unchanged.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from mlgw.backends.base import ModelResponse, botocore_errors, client_error_code
from mlgw.backends.errors import BackendError, BackendFailure, BackendRejected, NotReady, Throttled
from mlgw.backends.limits import check_size
from mlgw.backends.payload import JSON, InvalidInput, Payload, named
from mlgw.routing import Route


def to_record(payload: Payload, feature_names: tuple[str, ...] | None) -> dict[str, str]:
    """The payload's single row as a Record; nulls are left out, which Amazon ML reads as missing."""
    records = payload.records
    if len(records.rows) != 1:
        raise InvalidInput("InvalidRecord", "this model scores one record per request")
    row = named(records.rows[0], feature_names)
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in row.items()
        if value is not None
    }


class AmazonMLBackend:
    def __init__(self, client: Any, route: Route, *, retry_after: int) -> None:
        self._client = client
        self._route = route
        self._retry_after = retry_after

    def predict(self, payload: Payload, *, inference_id: str) -> ModelResponse:
        route = self._route
        record = to_record(payload, route.feature_names)
        check_size(json.dumps(record).encode("utf-8"), route.max_payload_bytes)
        with botocore_errors(self._classify):
            response = self._client.predict(
                MLModelId=route.model_id, Record=record, PredictEndpoint=route.predict_endpoint
            )
        return ModelResponse(json.dumps(response["Prediction"]).encode("utf-8"), JSON)

    def _classify(self, exc: ClientError) -> BackendError:
        code, status = client_error_code(exc)
        message = f"{code} from Amazon ML model {self._route.model_id}: {exc}"
        if code == "LimitExceededException" or status == 429:
            return Throttled(message, self._retry_after)
        if code == "PredictorNotMountedException":
            return NotReady(message, self._retry_after)
        if 400 <= status < 500:
            return BackendRejected(message)
        return BackendFailure(message)
