"""SageMaker real-time endpoints through the runtime's InvokeEndpoint."""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from mlgw.backends.base import ModelResponse, botocore_errors, client_error_code
from mlgw.backends.errors import (
    BackendError,
    BackendFailure,
    BackendRejected,
    ModelError,
    NotReady,
    Throttled,
    Unavailable,
)
from mlgw.backends.limits import check_size
from mlgw.backends.payload import Payload, encode
from mlgw.routing import Route

_THROTTLING_CODES = {"ThrottlingException", "Throttling", "TooManyRequestsException"}
_TOO_MANY_REQUESTS = 429

INFERENCE_ID = re.compile(r"[!-~][ -~]{0,63}")
"""SageMaker's InferenceId: up to 64 printable ASCII characters, not starting with a space."""


class SageMakerBackend:
    """One route's endpoint; `client` is a module-scope sagemaker-runtime client whose Config
    holds the timeouts and retry budget."""

    def __init__(self, client: Any, route: Route, *, retry_after: int) -> None:
        self._client = client
        self._route = route
        self._retry_after = retry_after

    def predict(self, payload: Payload, *, inference_id: str) -> ModelResponse:
        route = self._route
        body = encode(payload, route.content_type, route.feature_names)
        check_size(body, route.max_payload_bytes)
        params: dict[str, Any] = {
            "EndpointName": route.endpoint_name,
            "Body": body,
            "ContentType": route.content_type,
            "Accept": route.accept,
            "InferenceId": inference_id,
        }
        optional = {
            "TargetVariant": route.target_variant,
            "TargetModel": route.target_model,
            "InferenceComponentName": route.inference_component,
            "CustomAttributes": route.custom_attributes,
        }
        params.update({key: value for key, value in optional.items() if value is not None})
        with botocore_errors(self._classify):
            response = self._client.invoke_endpoint(**params)
            answer = response["Body"].read()
        headers = {
            header: response[key]
            for key, header in (
                ("InvokedProductionVariant", "X-Invoked-Production-Variant"),
                ("CustomAttributes", "X-Amzn-SageMaker-Custom-Attributes"),
            )
            if response.get(key)
        }
        return ModelResponse(answer, response.get("ContentType") or route.accept, headers)

    def _classify(self, exc: ClientError) -> BackendError:
        code, status = client_error_code(exc)
        endpoint = self._route.endpoint_name
        if code == "ModelError":
            # ModelError's fields (botocore/data/sagemaker-runtime/2017-05-13/service-2.json, shape
            # ModelError: Message, OriginalStatusCode, OriginalMessage, LogStreamArn; documented at
            # https://docs.aws.amazon.com/botocore/latest/reference/services/sagemaker-runtime/client/exceptions/ModelError.html)
            # carry the container's own answer. A container answering 429 is throttling, as an
            # `http` model server answering 429 is: callers back off instead of failing rows.
            original = exc.response.get("OriginalStatusCode")
            if original == _TOO_MANY_REQUESTS:
                return Throttled(
                    f"ModelError from endpoint {endpoint} (original status {original})", self._retry_after
                )
            return ModelError(
                f"ModelError from endpoint {endpoint} (original status {original})",
                int(original) if original is not None else None,
                original_message=exc.response.get("OriginalMessage"),
                log_stream=exc.response.get("LogStreamArn"),
            )
        message = f"{code} from endpoint {endpoint}: {exc}"
        if code == "ModelNotReadyException":
            return NotReady(message, self._retry_after)
        if code in _THROTTLING_CODES or status == 429:
            return Throttled(message, self._retry_after)
        if code == "ServiceUnavailable" or status == 503:
            return Unavailable(message, self._retry_after)
        if 400 <= status < 500:
            return BackendRejected(message)
        return BackendFailure(message)
