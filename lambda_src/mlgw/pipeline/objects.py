"""What every S3 pipeline does with the objects it is triggered by, whatever it makes of their rows.

An object is refused when it is not this function's to touch (another bucket, outside the input
prefix, or one of the function's own outputs, which would make it loop); it is looked up with
HEAD, a missing one meaning a duplicate event for a file already finished; it is read pinned to
the ETag that HEAD saw; and it ends with a JSON report, and for pipelines that move their inputs,
a move that never loses the file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from mlgw.pipeline.multipart import MIB, copy_ranges

S3_READ_CHUNK_BYTES = 256 * 1024
NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})
PRECONDITION_FAILED = frozenset({"412", "PreconditionFailed"})
# How long a file's lease outlives the invocation that holds it: enough for the last writes
# of an invocation that ran to its end, short enough for a retry to take the file over.
SINGLE_COPY_MAX_BYTES = 5_000_000_000
"""CopyObject copies objects of up to 5 GB in one request; larger ones need a multipart copy
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/CopyingObjctsMPUapi.html). Read as 10^9
bytes, the lower of the two readings of "GB"."""
MOVE_PART_BYTES = 1024 * MIB
"""Parts of a multipart move: 5 TiB (S3's largest object) in at most 5,120 of them, each within
S3's 5 MiB to 5 GiB (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html)."""
LEASE_GRACE_SECONDS = 5.0
# How long a file handed to the next invocation stays reserved for it: duplicate events meanwhile
# see it busy. Lambda's longest timeout, so a queued continuation normally finds it still held.
HANDOFF_LEASE_SECONDS = 900.0


class ObjectChanged(Exception):
    """The input was replaced or deleted while being read; its new version gets its own event."""


@dataclass(frozen=True, slots=True)
class Invocation:
    """The invocation handling an object: who holds it, and how long it has left."""

    request_id: str
    remaining_seconds: Callable[[], float]
    function_name: str | None = None

    @classmethod
    def of(cls, context: Any) -> Invocation:
        return cls(
            request_id=context.aws_request_id,
            remaining_seconds=lambda: context.get_remaining_time_in_millis() / 1000,
            function_name=getattr(context, "function_name", None),
        )

    def deadline(self, now: float, margin: float) -> float:
        """When, on the clock that gave `now`, work must stop to leave `margin` seconds to finish."""
        return now + self.remaining_seconds() - margin

    def lease_seconds(self) -> float:
        """How long a lease taken now by this invocation lasts."""
        return self.remaining_seconds() + LEASE_GRACE_SECONDS


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a function may read its inputs, and where it writes (so must never read)."""

    bucket: str
    bucket_setting: str
    input_prefix: str
    input_setting: str
    own_prefixes: Mapping[str, str]

    def refusal(self, bucket: str, key: str) -> str | None:
        """Why the object is not this function's to process, or None if it is."""
        if bucket != self.bucket:
            return f"bucket {bucket!r} is not {self.bucket_setting}"
        for name, prefix in self.own_prefixes.items():
            if key.startswith(prefix):
                return f"key is under {name}, an output of this function: refusing to loop"
        if not key.startswith(self.input_prefix):
            return f"key is outside {self.input_setting}"
        return None


@dataclass(frozen=True, slots=True)
class InputFile:
    bucket: str
    key: str
    relative_key: str
    etag: str | None


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def head(s3: Any, bucket: str, key: str, *, missing: frozenset[str] = NOT_FOUND) -> dict[str, Any] | None:
    """The object's HEAD, or None when it does not exist (any error code in `missing`)."""
    try:
        return dict(s3.head_object(Bucket=bucket, Key=key))
    except ClientError as exc:
        if error_code(exc) in missing:
            return None
        raise


def open_pinned(s3: Any, bucket: str, key: str, etag: str | None) -> Iterator[bytes]:
    """The body of the version HEAD saw, in chunks. Pinned to the ETag rather than to a version
    id: reading a version by id needs `s3:GetObjectVersion` as well, and the ETag already changes
    with the content."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key, IfMatch=etag)
    except ClientError as exc:
        if error_code(exc) in {"PreconditionFailed", "412", "NoSuchKey"}:
            raise ObjectChanged("input changed while it was being processed") from None
        raise
    return response["Body"].iter_chunks(S3_READ_CHUNK_BYTES)


def put_report(s3: Any, bucket: str, key: str, report: dict[str, Any]) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(report, indent=2, ensure_ascii=False).encode(),
        ContentType="application/json",
    )


def delete_if_unchanged(s3: Any, source: InputFile, log: Any) -> bool:
    """Delete the input only while it is still the version that was processed: a conditional
    delete (If-Match with the ETag) fails with 412 when a newer version replaced it meanwhile,
    and that version stays for its own event to handle
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-deletes.html; DeleteObject
    takes IfMatch: https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html); a key
    gone meanwhile answers 404, and there is nothing left to delete.
    Returns False when a newer version was left in place."""
    extra = {"IfMatch": source.etag} if source.etag else {}
    try:
        s3.delete_object(Bucket=source.bucket, Key=source.key, **extra)
    except ClientError as exc:
        code = error_code(exc)
        if code in PRECONDITION_FAILED:
            _left_in_place(log, source)
            return False
        if code in NOT_FOUND:
            return True
        raise
    return True


def move(s3: Any, source: InputFile, destination_key: str, log: Any) -> bool:
    """A copy followed by a delete of the source, the delete only after the copy succeeded, so a
    failure at any point leaves the input in at least one place. Both are conditional on the
    ETag that was processed: if the file was replaced meanwhile, the new version stays where it
    is for its own event to handle. Returns False when a newer version was left in place.

    CopyObject copies at most 5 GB in one request; a larger object is copied through a multipart
    upload of UploadPartCopy ranges, each conditional on the same ETag
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/CopyingObjctsMPUapi.html)."""
    extra = {"CopySourceIfMatch": source.etag} if source.etag else {}
    copy_source = {"Bucket": source.bucket, "Key": source.key}
    try:
        found = head(s3, source.bucket, source.key) or {}
        size = int(found.get("ContentLength", 0))
        if size > SINGLE_COPY_MAX_BYTES:
            copy_ranges(
                s3,
                bucket=source.bucket,
                key=destination_key,
                source=copy_source,
                source_etag=source.etag,
                ranges=[
                    (first, min(first + MOVE_PART_BYTES, size) - 1)
                    for first in range(0, size, MOVE_PART_BYTES)
                ],
                content_type=str(found.get("ContentType") or "binary/octet-stream"),
                metadata=dict(found.get("Metadata") or {}),
                deadline=math.inf,
            )
        else:
            s3.copy_object(
                Bucket=source.bucket,
                Key=destination_key,
                CopySource=copy_source,
                MetadataDirective="COPY",
                **extra,
            )
    except ClientError as exc:
        if error_code(exc) in PRECONDITION_FAILED:
            _left_in_place(log, source)
            return False
        raise
    return delete_if_unchanged(s3, source, log)


def _left_in_place(log: Any, source: InputFile) -> None:
    log.warning(
        "input replaced while it was processed: the newer version is left for its own event",
        extra={"key": source.key, "processed_etag": source.etag},
    )


def quarantine(
    s3: Any, source: InputFile, destination: str, report: dict[str, Any], report_key: str, *, log: Any
) -> None:
    """Move the input to `destination` with its report at `report_key`. The report is written
    first: if the move then fails, the input is still in place and the report says why it will
    be retried."""
    put_report(s3, source.bucket, report_key, report)
    move(s3, source, destination, log)


@dataclass(frozen=True, slots=True)
class Skip:
    """An object not to process: `refused` (not this function's), `ignored` (a folder
    placeholder) or `gone` (deleted since its event, usually a duplicate event)."""

    status: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Found:
    """An object to process: its key below the input prefix, and what HEAD said of it."""

    relative_key: str
    head: dict[str, Any]


class ObjectPipeline:
    """What every pipeline holds (its S3 client, logger, clock and scope) and how it takes in an
    object before it looks at the rows."""

    def __init__(self, s3: Any, logger: Any, scope: Scope, clock: Callable[[], float]) -> None:
        self._s3 = s3
        self._log = logger
        self._scope = scope
        self._clock = clock

    def admit(self, bucket: str, key: str) -> Found | Skip:
        refusal = self._scope.refusal(bucket, key)
        if refusal is not None:
            return Skip("refused", refusal)
        if key.endswith("/"):
            return Skip("ignored", "folder placeholder")
        found = head(self._s3, bucket, key)
        if found is None:
            return Skip("gone")
        return Found(key[len(self._scope.input_prefix) :], found)
