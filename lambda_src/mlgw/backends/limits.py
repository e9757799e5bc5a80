"""Request size limits, checked before a call so an oversized payload costs no model time."""

from __future__ import annotations

from mlgw.backends.errors import PayloadTooLarge

# SageMaker's documented request limits ("6 MB" real-time, "4 MB" serverless), read as MiB like
# Lambda's own 6 MB invocation limit.
SAGEMAKER_REALTIME_MAX_BYTES = 6 * 1024 * 1024
SAGEMAKER_SERVERLESS_MAX_BYTES = 4 * 1024 * 1024


def check_size(body: bytes, limit: int) -> None:
    if len(body) > limit:
        raise PayloadTooLarge(len(body), limit)
