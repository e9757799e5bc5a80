"""Typed failures of a model call.

Every backend translates its transport's own exceptions into these, so callers (the real-time
API, the S3 batch pipeline) decide what a failure means for them — an HTTP status, a retry, a
rejected-rows file — without knowing botocore or urllib3. The exception text is for logs only:
it may name endpoints and carry the model's own message, so it is never shown to a client.
"""

from __future__ import annotations


class BackendError(Exception):
    """Base of every model-call failure; `kind` is stable and safe to use as a metric dimension."""

    kind = "BackendError"


class PayloadTooLarge(BackendError):
    """The encoded request exceeds what the backend accepts, so calling it would only fail later."""

    kind = "PayloadTooLarge"

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"payload of {size} bytes exceeds the backend limit of {limit} bytes")
        self.size = size
        self.limit = limit


class ModelError(BackendError):
    """The model container ran and answered with an error status of its own."""

    kind = "ModelError"

    def __init__(
        self,
        message: str,
        original_status: int | None,
        *,
        original_message: str | None = None,
        log_stream: str | None = None,
    ) -> None:
        super().__init__(message)
        self.original_status = original_status
        # The container's own message can quote the request, so it is kept apart from the
        # exception text and logged only when request bodies may be logged.
        self.original_message = original_message
        self.log_stream = log_stream


class BackendRejected(BackendError):
    """The model service refused the call's parameters: a configuration problem, not the client's."""

    kind = "BackendRejected"


class BackendFailure(BackendError):
    """The model service failed internally or could not be reached."""

    kind = "BackendFailure"


class BackendTimeout(BackendError):
    """A connect or read timeout ran out after the retry budget was spent."""

    kind = "Timeout"


class RetryLater(BackendError):
    """The model side is temporarily unable to serve; the caller should come back later."""

    kind = "RetryLater"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Throttled(RetryLater):
    """The model service throttled the call."""

    kind = "Throttled"


class NotReady(RetryLater):
    """The model is not loaded yet (a multi-model endpoint warming, an endpoint updating)."""

    kind = "NotReady"


class Unavailable(RetryLater):
    """The model service answered that it is unavailable."""

    kind = "Unavailable"
