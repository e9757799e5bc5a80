"""What every backend returns, and the translation of botocore failures shared by AWS backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol

from botocore.exceptions import BotoCoreError, ClientError, ConnectTimeoutError, ReadTimeoutError

from mlgw.backends.errors import BackendError, BackendFailure, BackendTimeout
from mlgw.backends.payload import Payload


@dataclass(frozen=True)
class ModelResponse:
    """The model's answer as bytes plus media type, with headers worth passing to a client."""

    body: bytes
    content_type: str
    headers: Mapping[str, str] = field(default_factory=dict)


class Backend(Protocol):
    def predict(self, payload: Payload, *, inference_id: str) -> ModelResponse: ...


def client_error_code(exc: ClientError) -> tuple[str, int]:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return str(error.get("Code", "")), int(status)


@contextmanager
def botocore_errors(classify: Callable[[ClientError], BackendError]) -> Iterator[None]:
    """Map botocore's transport and service exceptions to backend errors; botocore has
    already spent the client's retry budget when any of these reaches us."""
    try:
        yield
    except ClientError as exc:
        raise classify(exc) from exc
    except (ConnectTimeoutError, ReadTimeoutError) as exc:
        raise BackendTimeout(str(exc)) from exc
    except BotoCoreError as exc:
        raise BackendFailure(f"{type(exc).__name__}: {exc}") from exc
