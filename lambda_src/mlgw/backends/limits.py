"""Request size limits, checked before a call so an oversized payload costs no model time."""

from __future__ import annotations

from mlgw.backends.errors import PayloadTooLarge

# SageMaker's documented request limits ("6 MB" real-time, "4 MB" serverless), read as MiB like
# Lambda's own 6 MB invocation limit. The SDK's model of InvokeEndpoint caps Body at 6291456 bytes
# (shape BodyBlob in botocore/data/sagemaker-runtime/2017-05-13/service-2.json:
# https://github.com/boto/botocore/blob/develop/botocore/data/sagemaker-runtime/2017-05-13/service-2.json);
# serverless: https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints-invoke.html
SAGEMAKER_REALTIME_MAX_BYTES = 6 * 1024 * 1024
SAGEMAKER_SERVERLESS_MAX_BYTES = 4 * 1024 * 1024


def check_size(body: bytes, limit: int) -> None:
    if len(body) > limit:
        raise PayloadTooLarge(len(body), limit)
