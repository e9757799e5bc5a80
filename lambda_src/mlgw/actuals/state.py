"""Progress of one input file, kept in a small S3 object so a retried invocation resumes.

Every write is conditional on the version read or written last (S3 conditional
writes), so two invocations racing on the same file (S3 delivers events at least once)
cannot both believe they own it: the loser's write fails and it stops before sending.
Accepted chunks are stored as index ranges, so the object stays small for any file size.

Writes are group commits: the sending threads that record something while a write is
on its way wait for it and then share the next one, so a burst of confirmations costs
one request, yet no caller returns before what it recorded is durably written.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import botocore
from botocore.exceptions import ClientError

STATE_VERSION = 1


class LeaseLost(Exception):
    """Another invocation changed the state object first; this one must stop."""


class ConditionalWritesUnsupported(RuntimeError):
    """The SDK in the runtime predates S3 conditional writes, which the state object relies on."""


# PutObject learned If-None-Match in August 2024 and If-Match in November 2024
# (https://aws.amazon.com/about-aws/whats-new/2024/11/amazon-s3-functionality-conditional-writes/).
# The boto3 a Lambda runtime ships depends on the runtime and the region, and AWS publishes no
# fixed version (https://docs.aws.amazon.com/lambda/latest/dg/lambda-python.html#python-sdk-included),
# so the client's own service model is asked at cold start. DeleteObject's If-Match (conditional
# deletes, https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-deletes.html) keeps a
# finished file from taking a newer upload of the same key with it.
CONDITIONAL_WRITE_PARAMETERS = {"PutObject": ("IfMatch", "IfNoneMatch"), "DeleteObject": ("IfMatch",)}


def require_conditional_writes(s3: Any) -> None:
    """Fail at cold start, naming the fix, rather than on the first state write with botocore's
    "Unknown parameter" after the file was already claimed."""
    gaps = []
    for operation, names in CONDITIONAL_WRITE_PARAMETERS.items():
        members = s3.meta.service_model.operation_model(operation).input_shape.members
        missing = [name for name in names if name not in members]
        if missing:
            gaps.append(f"{operation} {' and '.join(missing)}")
    if gaps:
        raise ConditionalWritesUnsupported(
            f"the runtime's botocore {botocore.__version__} has no {', no '.join(gaps)} "
            "(S3 conditional writes, which keep two invocations from reporting one file twice): "
            "ship a newer boto3 with the function, for example in a layer"
        )


@dataclass(slots=True)
class ProgressState:
    etag: str
    chunk_rows: int
    accepted: set[int] = field(default_factory=set)
    pending: dict[int, str] = field(default_factory=dict)
    rows_accepted: int = 0
    attempts: int = 0
    owner: str | None = None
    lease_expires: float = 0.0
    completed: bool = False
    validated: bool = False
    handoffs: int = 0
    idle_handoffs: int = 0

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "version": STATE_VERSION,
                "etag": self.etag,
                "chunkRows": self.chunk_rows,
                "accepted": _to_ranges(self.accepted),
                "pending": {str(index): url for index, url in sorted(self.pending.items())},
                "rowsAccepted": self.rows_accepted,
                "attempts": self.attempts,
                "owner": self.owner,
                "leaseExpires": self.lease_expires,
                "completed": self.completed,
                "validated": self.validated,
                "handoffs": self.handoffs,
                "idleHandoffs": self.idle_handoffs,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ProgressState:
        data = json.loads(raw)
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"unsupported state version {data.get('version')!r}")
        return cls(
            etag=data["etag"],
            chunk_rows=int(data["chunkRows"]),
            accepted=_from_ranges(data.get("accepted", [])),
            pending={int(index): url for index, url in data.get("pending", {}).items()},
            rows_accepted=int(data.get("rowsAccepted", 0)),
            attempts=int(data.get("attempts", 0)),
            owner=data.get("owner"),
            lease_expires=float(data.get("leaseExpires", 0.0)),
            completed=bool(data.get("completed", False)),
            validated=bool(data.get("validated", False)),
            handoffs=int(data.get("handoffs", 0)),
            idle_handoffs=int(data.get("idleHandoffs", 0)),
        )

    def accepted_ranges(self) -> list[list[int]]:
        return _to_ranges(self.accepted)


# Retries of a conditional write that met a concurrent operation (409), 0.1 s then 0.2 s apart.
CONFLICT_RETRIES = 2
CONFLICT_BACKOFF_SECONDS = 0.1


class StateStore:
    """Reads and conditionally writes one state object; safe to call from worker threads."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        key: str,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.key = key
        self._clock = clock
        self._sleep = sleep
        self._etag: str | None = None
        self._changed = threading.Condition()
        self._version = 0
        self._written = 0
        self._writing = False
        self.state: ProgressState | None = None

    def load(self) -> ProgressState | None:
        try:
            response = self._s3.get_object(Bucket=self.bucket, Key=self.key)
        except ClientError as exc:
            if _code(exc) in {"NoSuchKey", "404"}:
                self._etag = None
                self.state = None
                return None
            raise
        self._etag = response["ETag"]
        self.state = ProgressState.from_json(response["Body"].read())
        return self.state

    def claim(self, state: ProgressState, owner: str, lease_seconds: float) -> None:
        """Take the file for this invocation; raises LeaseLost if someone else got there first."""
        state.owner = owner
        state.lease_expires = self._clock() + lease_seconds
        state.attempts += 1
        self.state = state
        self.save()

    def reserve(self, token: str, lease_seconds: float) -> None:
        """Hand the file to the next invocation of the chain, whose lease owner is ``token``; a
        duplicate event meanwhile finds it busy. Raises LeaseLost if someone else took it."""
        assert self.state is not None
        self.state.owner = token
        self.state.lease_expires = self._clock() + lease_seconds
        self.save()

    def release(self) -> None:
        """Let a retry take over at once instead of waiting for the lease to expire."""
        if self.state is not None:
            self.state.lease_expires = 0.0
            self.save()

    def record_pending(self, index: int, status_url: str) -> None:
        """Save the status URL of a submitted chunk; returns once it is written.

        From then on a retry polls that status instead of sending the chunk again, so
        the chunk has left the at-least-once window.
        """
        with self._changed:
            assert self.state is not None
            self.state.pending[index] = status_url
            self._commit()

    def record_accepted(self, chunks: list[tuple[int, int]]) -> None:
        """Save (index, rows) of chunks the service confirmed; returns once they are written."""
        with self._changed:
            assert self.state is not None
            for index, rows in chunks:
                self.state.pending.pop(index, None)
                if index not in self.state.accepted:
                    self.state.accepted.add(index)
                    self.state.rows_accepted += rows
            self._commit()

    def save(self) -> None:
        with self._changed:
            self._commit()

    def delete(self) -> None:
        """Remove the state object unless another invocation wrote it since (conditional on the
        ETag last read or written, as the writes are): a newer version of the input may own it."""
        condition = {"IfMatch": self._etag} if self._etag else {}
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=self.key, **condition)
        except ClientError as exc:
            if _code(exc) not in {"PreconditionFailed", "412", "NoSuchKey", "404"}:
                raise
        self._etag = None

    def _commit(self) -> None:
        """Write the changes made so far, or wait for a write that started after them.

        Called with the condition held. The write itself runs without it, so other
        threads can record more changes meanwhile; the next caller writes them all.
        """
        self._version += 1
        mine = self._version
        while self._written < mine:
            if self._writing:
                self._changed.wait()
                continue
            assert self.state is not None
            body, version, etag = self.state.to_json(), self._version, self._etag
            self._writing = True
            self._changed.release()
            try:
                new_etag = self._put(body, etag)
            finally:
                self._changed.acquire()
                self._writing = False
                self._changed.notify_all()
            self._etag = new_etag
            self._written = version

    def _put(self, body: bytes, etag: str | None) -> str:
        """A conditional write. 412: another invocation wrote the object since (the lease is
        lost). 409 ConditionalRequestConflict: a concurrent operation on the key was in progress,
        which S3 says to answer by retrying the upload
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html, If-Match and
        If-None-Match); the retry then meets the other write's outcome as a 412 or succeeds, so
        only conflicts that persist past the retries count as a lost lease."""
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                response = self._s3.put_object(
                    Bucket=self.bucket,
                    Key=self.key,
                    Body=body,
                    ContentType="application/json",
                    **condition,
                )
            except ClientError as exc:
                code = _code(exc)
                if code in {"ConditionalRequestConflict", "409"} and attempt < CONFLICT_RETRIES:
                    self._sleep(CONFLICT_BACKOFF_SECONDS * 2**attempt)
                    continue
                if code in {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}:
                    raise LeaseLost(f"state object {self.key} was changed by another invocation") from None
                raise
            return str(response["ETag"])
        raise AssertionError("unreachable: the last attempt returns or raises")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _to_ranges(indexes: Iterable[int]) -> list[list[int]]:
    ranges: list[list[int]] = []
    for index in sorted(indexes):
        if ranges and ranges[-1][1] == index:
            ranges[-1][1] = index + 1
        else:
            ranges.append([index, index + 1])
    return ranges


def _from_ranges(ranges: Iterable[Iterable[int]]) -> set[int]:
    indexes: set[int] = set()
    for start, stop in ranges:
        indexes.update(range(int(start), int(stop)))
    return indexes
