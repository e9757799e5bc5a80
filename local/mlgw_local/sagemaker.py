"""Model containers and a SageMaker-runtime-compatible front.

Each bundled model runs in its own container server that follows SageMaker's container
contract: ``GET /ping`` answers 200 once the model is loaded, ``POST /invocations`` scores the
body. The front answers ``POST /endpoints/{name}/invocations`` as the SageMaker runtime does, so
the handlers' boto3 ``sagemaker-runtime`` client and direct API routes reach it through an
endpoint URL: it forwards to the endpoint's container and answers errors in the runtime's wire
format (``x-amzn-ErrorType``, JSON body), a container's own error as 424 ``ModelError`` with
``OriginalStatusCode`` and ``OriginalMessage``. SageMaker's ModelError also points to the
endpoint's CloudWatch log group; none exists locally, so the local one points to the access log,
where every call and the container's message are written.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Mapping
from typing import Any

from mlgw_local import access
from mlgw_local.http import Request, Response
from mlgw_local.models import InputError, Model

ACCOUNT_ID = "123456789012"
CONTAINER_TIMEOUT_SECONDS = 60
_INFERENCE_ID_MAX = 64
_FORWARDED = ("Content-Type", "Accept", "X-Amzn-SageMaker-Custom-Attributes")


def container(model: Model) -> Any:
    """The HTTP handler of one model's container."""

    def handle(request: Request) -> Response:
        if request.method == "GET" and request.path == "/ping":
            return Response(200, b"", {"Content-Type": "text/plain"})
        if request.method != "POST" or request.path != "/invocations":
            return Response.json(
                404, {"message": f"{request.method} {request.path} is not part of the contract"}
            )
        content_type = request.header("Content-Type") or "application/json"
        accept = request.header("Accept") or "application/json"
        try:
            body, answer_type = model.invoke(request.body, content_type, accept)
        except InputError as exc:
            return Response.json(400, {"message": str(exc)})
        headers = {"Content-Type": answer_type}
        attributes = request.header("X-Amzn-SageMaker-Custom-Attributes")
        if attributes:
            headers["X-Amzn-SageMaker-Custom-Attributes"] = attributes
        return Response(200, body, headers)

    return handle


class RuntimeFront:
    """``POST /endpoints/{name}/invocations`` onto the container serving each endpoint."""

    def __init__(
        self,
        endpoints: Mapping[str, str],
        labels: Mapping[str, str] | None = None,
        variants: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.endpoints = dict(endpoints)
        # What serves each endpoint, as the access log names it ("container iris").
        self.labels = dict(labels or {})
        # Each endpoint's production variant names; an endpoint left out accepts any variant,
        # since its names were not known at plan time.
        self.variants = dict(variants or {})

    def _error(self, status: int, code: str, message: str, **extra: Any) -> Response:
        body = {"message": message, **extra}
        return Response(
            status,
            json.dumps(body).encode(),
            {
                "Content-Type": "application/json",
                "x-amzn-ErrorType": f"{code}:",
                "x-amzn-RequestId": str(uuid.uuid4()),
            },
        )

    def _refuse(self, name: str, request: Request) -> Response | None:
        """What SageMaker refuses before the container sees the request, as ValidationError."""
        inference_id = request.header("X-Amzn-SageMaker-Inference-Id")
        # InferenceId: at most 64 characters (botocore's sagemaker-runtime model, shape
        # InferenceId; botocore checks only the minimum). Its pattern (printable, no leading
        # space) is left to HTTP, which trims header values. The wording follows AWS's
        # constraint messages, e.g. https://github.com/aws/aws-sdk-js/issues/4203.
        if inference_id is not None and len(inference_id) > _INFERENCE_ID_MAX:
            return self._error(
                400,
                "ValidationError",
                "1 validation error detected: Value at 'inferenceId' failed to satisfy constraint: "
                f"Member must have length less than or equal to {_INFERENCE_ID_MAX}",
            )
        # TargetModel is for multi-model endpoints only; local endpoints serve one model each.
        # SageMaker's answer: https://github.com/aws/amazon-sagemaker-examples/issues/1026
        if request.header("X-Amzn-SageMaker-Target-Model") is not None:
            return self._error(
                400,
                "ValidationError",
                f"Endpoint {name} is not a multi-model endpoint and does not support target model header.",
            )
        variant = request.header("X-Amzn-SageMaker-Target-Variant")
        known = self.variants.get(name)
        if variant is not None and known and variant not in known:
            return self._error(
                400,
                "ValidationError",
                f"Target variant {variant} not found for endpoint {name} of account {ACCOUNT_ID}.",
            )
        return None

    def __call__(self, request: Request) -> Response:
        started = time.monotonic()
        response = self._invoke(request)
        if request.header(access.GATEWAY_CALLER) is None:
            name = request.path.strip("/").split("/")[1] if request.path.count("/") >= 2 else ""
            note = access.runtime_error(response.status, response.body) if response.status >= 400 else None
            access.record(
                "sagemaker-runtime",
                request.method,
                request.path,
                status=response.status,
                seconds=time.monotonic() - started,
                target=self.labels.get(name, f"endpoint {name}"),
                note=note,
            )
        return response

    def _invoke(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if (
            request.method != "POST"
            or len(parts) != 3
            or parts[0] != "endpoints"
            or parts[2] != "invocations"
        ):
            return self._error(
                404, "UnknownOperationException", f"{request.method} {request.path} is not an operation"
            )
        name = parts[1]
        target = self.endpoints.get(name)
        if target is None:
            return self._error(400, "ValidationError", f"Endpoint {name} of account {ACCOUNT_ID} not found.")
        refused = self._refuse(name, request)
        if refused is not None:
            return refused
        known = self.variants.get(name) or ()
        variant = request.header("X-Amzn-SageMaker-Target-Variant") or (known[0] if known else "AllTraffic")
        headers = {h: v for h in _FORWARDED if (v := request.header(h))}
        forward = urllib.request.Request(  # noqa: S310 - the container's http URL
            f"{target}/invocations", data=request.body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(forward, timeout=CONTAINER_TIMEOUT_SECONDS) as answer:  # noqa: S310
                body = answer.read()
                out = {
                    "Content-Type": answer.headers.get("Content-Type") or "application/json",
                    "x-Amzn-Invoked-Production-Variant": variant,
                    "x-amzn-RequestId": str(uuid.uuid4()),
                }
                attributes = answer.headers.get("X-Amzn-SageMaker-Custom-Attributes")
                if attributes:
                    out["X-Amzn-SageMaker-Custom-Attributes"] = attributes
                return Response(200, body, out)
        except urllib.error.HTTPError as exc:
            text = exc.read().decode("utf-8", "replace")
            kind = "client" if exc.code < 500 else "server"
            # LogStreamArn is optional in the ModelError shape (botocore's sagemaker-runtime
            # service model, https://github.com/boto/botocore/blob/develop/botocore/data/sagemaker-runtime/2017-05-13/service-2.json)
            # and is left out: there is no CloudWatch log locally.
            return self._error(
                424,
                "ModelError",
                f'Received {kind} error ({exc.code}) from {variant} with message "{text}". '
                "See local mode's access log for more information.",
                OriginalStatusCode=exc.code,
                OriginalMessage=text,
                ErrorCode=f"{kind.upper()}_ERROR_FROM_MODEL",
            )
        except TimeoutError:
            return self._error(
                424,
                "ModelError",
                "Model container did not answer within 60 seconds.",
                OriginalStatusCode=504,
                OriginalMessage="timeout",
            )
        except (urllib.error.URLError, ConnectionError) as exc:
            return self._error(
                503, "ServiceUnavailable", f"the container of endpoint {name} is unreachable: {exc}"
            )
