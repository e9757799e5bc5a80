"""Server-side copies through S3's multipart upload: UploadPartCopy of byte ranges of a source.

Shared by the batch pipeline's staging (mlgw/batch/transform.py) and by moving an input larger
than a single CopyObject may copy (mlgw/pipeline/objects.py).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

MIB = 1024 * 1024
# S3 multipart limits: parts of 5 MiB to 5 GiB, the last one excepted from the minimum, and at
# most 10,000 of them (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html).
MIN_PART_BYTES = 5 * MIB
MAX_PART_BYTES = 5 * 1024 * MIB
MAX_PARTS = 10_000


class CopyDeadline(Exception):
    """The invocation ran out of time before every part was copied."""


def copy_ranges(
    s3: Any,
    *,
    bucket: str,
    key: str,
    source: dict[str, str],
    source_etag: str | None,
    ranges: Sequence[tuple[int, int]],
    content_type: str,
    metadata: dict[str, str],
    deadline: float,
    first_part: bytes | None = None,
    clock: Callable[[], float] = time.monotonic,
    workers: int = 4,
) -> None:
    """One multipart upload: `first_part` (bytes, at least 5 MiB) if given, then each range of
    `source` copied server side. The upload is aborted on any failure, so no part is billed."""
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type, Metadata=metadata)
    upload_id = upload["UploadId"]
    offset = 1 if first_part is not None else 0

    def copy(numbered: tuple[int, tuple[int, int]]) -> dict[str, Any]:
        number, (first, last) = numbered
        if clock() >= deadline:
            raise CopyDeadline(f"time ran out before part {number} of s3://{bucket}/{key} was copied")
        extra = {"CopySourceIfMatch": source_etag} if source_etag else {}
        copied = s3.upload_part_copy(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            CopySource=source,
            CopySourceRange=f"bytes={first}-{last}",
            **extra,
        )
        return {"ETag": copied["CopyPartResult"]["ETag"], "PartNumber": number}

    try:
        parts: list[dict[str, Any]] = []
        if first_part is not None:
            sent = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=first_part)
            parts.append({"ETag": sent["ETag"], "PartNumber": 1})
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="copy") as pool:
            parts.extend(pool.map(copy, enumerate(ranges, start=1 + offset)))
        s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
    except BaseException:
        with contextlib.suppress(ClientError, BotoCoreError):
            s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
        raise
