"""Report one actuals file: validate, deliver in numbered chunks, record progress, finish.

Chunk ``n`` is always rows ``n * chunk_rows`` to ``(n + 1) * chunk_rows - 1`` of the
valid rows of the same file version (its ETag), so an invocation that resumes after a
crash or timeout can skip exactly the chunks the state object lists as accepted.

Delivery guarantee: a chunk is recorded as accepted only after the service confirmed
it, and an accepted chunk is never sent again. A chunk is at least once, not exactly
once, in one window: between the moment its request left and the moment its acceptance
was written to the state object. If the invocation dies inside that window the retry
sends the chunk again, unless a state write after its 202 already saved the status URL,
in which case the retry polls that status instead of resending. A chunk holds its
request slot until its acceptance is written, so at most ``max_in_flight`` chunks are
ever inside the window at once.

With bad rows rejecting the file (the default), nothing may be sent before the whole
file is read. That read also encodes the chunks into a spool file in the temporary
directory, and the send reads them back from there, so the file is parsed once. A file
larger than the spool limit, or whose spool outgrows it, is read a second time instead.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import IO, Any, NoReturn

from botocore.exceptions import BotoCoreError, ClientError

from mlgw.actuals import completion
from mlgw.actuals.client import DeliveryError, PermanentDeliveryError, TransientDeliveryError
from mlgw.actuals.csvfile import BadRowLog, Batch, CsvFileError, RowRules, iter_batches
from mlgw.actuals.dataset import DatasetPath, DatasetRejected
from mlgw.actuals.settings import ActualsSettings
from mlgw.actuals.sinks import Chunk, Sink, Target
from mlgw.actuals.state import LeaseLost, ProgressState, StateStore
from mlgw.env import SETTINGS_VARIABLE
from mlgw.pipeline.events import S3Object
from mlgw.pipeline.objects import (
    InputFile,
    Invocation,
    ObjectChanged,
    ObjectPipeline,
    Scope,
    Skip,
    open_pinned,
    put_report,
)
from mlgw.pipeline.text import text_stream


class RefusedObject(Exception):
    """The object must not be touched by this function (wrong bucket or one of its own outputs)."""


class FileFailed(Exception):
    """The file was moved to the failed prefix with a report; raised so retries and alarms see it."""


class RetryLater(Exception):
    """A transient problem; the file stays in place and the progress is saved for the retry."""


class _Rejected(Exception):
    """The file itself is unusable; no retry can help."""

    def __init__(self, reason: str, **detail: Any) -> None:
        super().__init__(reason)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class _Encoded:
    """A chunk as the sinks send it: one payload per sink, in the order of the sinks."""

    index: int
    rows: int
    payloads: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class _Spooled:
    """Where the payloads of one chunk are in the spool file."""

    index: int
    rows: int
    offset: int
    sizes: tuple[int, ...]


@dataclass(slots=True)
class _Work:
    """Chunks being sent (holding a slot each) and chunks whose written status is awaited."""

    pool: ThreadPoolExecutor
    sending: dict[Future[tuple[Sink, str] | None], _Encoded]
    confirming: dict[Future[None], _Encoded]

    def full(self, limit: int) -> bool:
        return len(self.sending) >= limit or len(self.sending) + len(self.confirming) >= 2 * limit


@dataclass(slots=True)
class Outcome:
    key: str
    status: str
    rows_sent: int = 0
    chunks_sent: int = 0
    bad_rows: int = 0
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Run:
    """Everything one invocation knows about the file it is processing."""

    source: InputFile
    deployment_id: str
    state: StateStore
    size: int = 0
    target: Target | None = None
    bad_rows: BadRowLog | None = None
    rules: RowRules = field(default_factory=RowRules)
    rows_sent: int = 0
    chunks_sent: int = 0


class Reporter(ObjectPipeline):
    def __init__(
        self,
        settings: ActualsSettings,
        s3: Any,
        sinks: list[Sink],
        logger: Any,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        dataset_path: DatasetPath | None = None,
    ) -> None:
        scope = Scope(
            settings.bucket,
            f"{SETTINGS_VARIABLE}.bucket",
            settings.prefix,
            f"{SETTINGS_VARIABLE}.prefix",
            settings.output_prefixes,
        )
        super().__init__(s3, logger, scope, clock)
        self._settings = settings
        self._sinks = sinks
        self._wall_clock = wall_clock
        self._dataset_path = dataset_path

    def process(self, obj: S3Object, invocation: Invocation) -> Outcome:
        """Handle one object; raises FileFailed, RetryLater or RefusedObject, else returns."""
        settings = self._settings
        admitted = self.admit(obj.bucket, obj.key)
        if isinstance(admitted, Skip):
            if admitted.status == "refused":
                raise RefusedObject(admitted.reason)
            if admitted.status == "gone":
                return self._gone(obj, self._state(obj.key[len(settings.prefix) :]))
            return Outcome(obj.key, admitted.status, detail={"reason": admitted.reason})
        relative_key, found = admitted.relative_key, admitted.head
        deployment_id = relative_key.split("/", 1)[0] if "/" in relative_key else ""
        state = self._state(relative_key)
        run = _Run(
            InputFile(obj.bucket, obj.key, relative_key, found["ETag"]),
            deployment_id,
            state,
            size=int(found.get("ContentLength", 0)),
        )
        try:
            self._check_name(run)
            if not self._claim(run, invocation, found["ETag"]):
                return Outcome(obj.key, "busy", detail={"reason": "another invocation owns this file"})
            run.target = Target(
                deployment_id=deployment_id,
                stem=PurePosixPath(relative_key).stem,
                etag=found["ETag"].strip('"'),
                uploaded_at=found["LastModified"].astimezone(UTC),
            )
            deadline = invocation.deadline(self._clock(), settings.time_margin)
            progress = state.state
            assert progress is not None
            if not progress.completed:
                self._deliver(run, progress, deadline)
        except LeaseLost:
            self._log.warning("another invocation took over this file", extra={"key": obj.key})
            return Outcome(obj.key, "busy", detail={"reason": "lost the state object to another invocation"})
        except _Rejected as exc:
            self._fail(run, str(exc), exc.detail, invocation)
        except PermanentDeliveryError as exc:
            self._fail(run, "the actuals service refused a chunk", exc.detail, invocation)
        except (TransientDeliveryError, ObjectChanged, ClientError, BotoCoreError) as exc:
            self._retry_or_fail(run, exc, invocation)
        try:
            return self._succeed(run)
        except (ClientError, BotoCoreError) as exc:
            raise RetryLater(f"{obj.key}: every chunk was accepted but finishing failed: {exc}") from exc

    def _state(self, relative_key: str) -> StateStore:
        settings = self._settings
        return StateStore(self._s3, settings.bucket, f"{settings.state_prefix}{relative_key}.json")

    def _gone(self, obj: S3Object, state: StateStore) -> Outcome:
        """A duplicate event for a file already finished, or one finished but for its state object."""
        progress = state.load()
        if progress is not None and progress.completed:
            state.delete()
        self._log.info("input no longer exists; nothing to do", extra={"key": obj.key})
        return Outcome(obj.key, "gone")

    def _check_name(self, run: _Run) -> None:
        if not run.deployment_id:
            raise _Rejected("no deployment id: expected <prefix><deployment_id>/<file>.csv")
        if not self._settings.is_deployment_id(run.deployment_id):
            raise _Rejected(
                f"{run.deployment_id[:200]!r} is not a valid deployment id",
                pattern=self._settings.deployment_id_pattern.pattern,
            )
        if not run.source.key.lower().endswith(".csv"):
            raise _Rejected("only .csv files are reported")

    def _claim(self, run: _Run, invocation: Invocation, etag: str) -> bool:
        progress = run.state.load()
        now = self._wall_clock()
        if progress is not None and progress.etag == etag:
            if progress.owner not in (None, invocation.request_id) and progress.lease_expires > now:
                return False
        else:
            if progress is not None:
                self._log.info("input was replaced since its last attempt; starting over")
            progress = ProgressState(etag=etag, chunk_rows=self._settings.report_rows)
        try:
            run.state.claim(progress, invocation.request_id, invocation.lease_seconds())
        except LeaseLost:
            return False
        return True

    def _batches(self, run: _Run, batch_rows: int, bad_rows: BadRowLog) -> Iterator[Batch]:
        try:
            yield from iter_batches(
                text_stream(open_pinned(self._s3, run.source.bucket, run.source.key, run.source.etag)),
                batch_rows,
                bad_rows,
                run.rules,
            )
        except CsvFileError as exc:
            raise _Rejected(str(exc)) from None

    def _encode(self, batch: Batch) -> tuple[bytes, ...]:
        return tuple(sink.encode(batch) for sink in self._sinks)

    def _encoded(self, run: _Run, progress: ProgressState) -> Iterator[_Encoded]:
        """Chunks read and encoded as they are sent; accepted ones are only counted."""
        assert run.bad_rows is not None
        for chunk in _chunks(self._batches(run, progress.chunk_rows, run.bad_rows), progress.chunk_rows):
            done = chunk.index in progress.accepted
            yield _Encoded(chunk.index, len(chunk.batch), () if done else self._encode(chunk.batch))

    def _open_spool(self, run: _Run) -> IO[bytes] | None:
        limit = self._settings.spool_limit_bytes
        if run.size > limit:
            return None
        try:
            return tempfile.TemporaryFile(prefix="actuals-spool-")
        except OSError as exc:
            self._log.warning("no spool file; the file will be read twice", extra={"error": str(exc)})
            return None

    def _validate(
        self, run: _Run, progress: ProgressState, spool: IO[bytes] | None
    ) -> tuple[list[_Spooled] | None, int]:
        """Read the whole file before sending anything, so a bad row rejects it untouched.

        While no bad row has been seen, the chunks are encoded into ``spool``. Returns
        where they are in it (None when there is no spool or it outgrew its limit) and
        the number of valid rows.
        """
        assert run.bad_rows is not None
        bad_rows = run.bad_rows
        limit = self._settings.spool_limit_bytes
        places: list[_Spooled] | None = [] if spool is not None else None
        used = valid = 0
        for chunk in _chunks(self._batches(run, progress.chunk_rows, bad_rows), progress.chunk_rows):
            valid += len(chunk.batch)
            if places is None or bad_rows.count:
                continue
            assert spool is not None
            payloads = self._encode(chunk.batch)
            size = sum(map(len, payloads))
            try:
                if used + size > limit:
                    raise OSError(f"the spool would outgrow ACTUALS_SPOOL_LIMIT_MB at chunk {chunk.index}")
                spool.writelines(payloads)
            except OSError as exc:
                self._log.info("spool abandoned; the file will be read again", extra={"reason": str(exc)})
                spool.close()  # frees its space now; closing again later is harmless
                places = None
                continue
            places.append(_Spooled(chunk.index, len(chunk.batch), used, tuple(map(len, payloads))))
            used += size
        if bad_rows.count:
            raise _Rejected(f"{bad_rows.count} bad rows; nothing was sent", valid_rows=valid)
        if places is not None:
            assert spool is not None
            spool.flush()
        return places, valid

    def _deliver(self, run: _Run, progress: ProgressState, deadline: float) -> None:
        """A file large enough goes to the platform's dataset path (mlgw/actuals/dataset.py), which
        reads it from S3 itself; any other file is streamed."""
        dataset = self._dataset_path
        if dataset is None or not dataset.applies(run.size):
            self._deliver_file(run, progress, deadline)
            return
        try:
            dataset.deliver(run.source, run.deployment_id, run.state.key, run.size, deadline)
        except DatasetRejected as exc:
            dataset.forget(run.state.key)
            raise _Rejected(str(exc), path="dataset", **exc.detail) from None
        except PermanentDeliveryError as exc:
            dataset.forget(run.state.key)
            raise _Rejected(
                "the platform refused the file on its dataset path", path="dataset", **exc.detail
            ) from None
        progress.completed = True
        run.state.save()
        dataset.forget(run.state.key)

    def _deliver_file(self, run: _Run, progress: ProgressState, deadline: float) -> None:
        settings = self._settings
        assert run.target is not None
        for sink in self._sinks:
            run.rules = run.rules.merge(sink.row_rules(run.target, deadline))
        run.bad_rows = BadRowLog(settings.bad_rows_in_report)
        if settings.skip_bad_rows or progress.accepted:
            # Skipping needs no look ahead, and accepted chunks mean an earlier invocation
            # already read the whole file and found no bad row.
            total = self._send_chunks(run, progress, self._encoded(run, progress), deadline)
        else:
            spool = self._open_spool(run)
            try:
                places, valid = self._validate(run, progress, spool)
                if places is not None:
                    assert spool is not None
                    total = self._send_chunks(run, progress, _from_spool(spool, places), deadline)
                else:
                    run.bad_rows = BadRowLog(settings.bad_rows_in_report)
                    total = self._send_chunks(run, progress, self._encoded(run, progress), deadline)
            finally:
                if spool is not None:
                    spool.close()
            if total != valid:
                raise ObjectChanged(f"read {total} valid rows, validated {valid}")
        if total == 0:
            raise _Rejected("file has no valid data rows")
        progress.completed = True
        run.state.save()

    def _send_chunks(
        self, run: _Run, progress: ProgressState, chunks: Iterator[_Encoded], deadline: float
    ) -> int:
        """Deliver chunks, ``max_in_flight`` at a time; returns the valid row count.

        A chunk holds one of the ``max_in_flight`` slots from its request until its
        acceptance, or its status URL, is written: that bounds the at-least-once window
        and the memory held by encoded chunks. Waiting for a written status to complete
        needs no slot, so the next requests leave meanwhile; at most as many chunks
        again are waited for at once. Reading continues in this thread while workers
        wait on the network.
        """
        limit = self._settings.max_in_flight
        failure: BaseException | None = None
        total = 0
        with ThreadPoolExecutor(max_workers=2 * limit, thread_name_prefix="actuals") as pool:
            work = _Work(pool, sending={}, confirming={})
            try:
                for chunk in chunks:
                    total += chunk.rows
                    if chunk.index in progress.accepted:
                        continue
                    while work.full(limit) and failure is None:
                        failure = self._collect(run, work, deadline)
                    if failure is None and self._clock() >= deadline:
                        failure = TransientDeliveryError("ran out of time; the retry continues from here")
                    if failure is not None:
                        break
                    pending = progress.pending.get(chunk.index)
                    work.sending[pool.submit(self._send_one, run, chunk, pending, deadline)] = chunk
            except Exception as exc:  # a read or parse error still lets chunks in flight be recorded
                failure = exc
            while work.sending or work.confirming:
                failure = _worse(failure, self._collect(run, work, deadline))
        if failure is not None:
            raise failure
        return total

    def _send_one(
        self, run: _Run, chunk: _Encoded, pending: str | None, deadline: float
    ) -> tuple[Sink, str] | None:
        """Deliver to every sink; the sink and status URL left to confirm, if any."""
        assert run.target is not None
        unconfirmed: tuple[Sink, str] | None = None
        for sink, payload in zip(self._sinks, chunk.payloads, strict=True):
            status_url = sink.deliver(
                run.target, chunk.index, payload, deadline=deadline, pending_status=pending
            )
            if status_url is not None:
                unconfirmed = (sink, status_url)
        if unconfirmed is None:
            run.state.record_accepted([(chunk.index, chunk.rows)])
        else:
            run.state.record_pending(chunk.index, unconfirmed[1])
        return unconfirmed

    def _confirm(self, run: _Run, chunk: _Encoded, sink: Sink, status_url: str, deadline: float) -> None:
        sink.confirm(status_url, deadline)
        run.state.record_accepted([(chunk.index, chunk.rows)])

    def _collect(self, run: _Run, work: _Work, deadline: float) -> BaseException | None:
        """Count finished chunks and start confirming submitted ones; returns the worst failure.

        Submitted chunks are confirmed even after a failure elsewhere, so that what the
        service took is recorded as accepted rather than sent again by a redrive.
        """
        done, _ = wait([*work.sending, *work.confirming], return_when=FIRST_COMPLETED)
        failure: BaseException | None = None
        for future in done:
            error = future.exception()
            if future in work.sending:
                chunk = work.sending.pop(future)
                unconfirmed = future.result() if error is None else None
                if unconfirmed is not None:
                    receipt = _Encoded(chunk.index, chunk.rows, ())
                    task = work.pool.submit(self._confirm, run, receipt, *unconfirmed, deadline)
                    work.confirming[task] = receipt
                    continue
            else:
                chunk = work.confirming.pop(future)
            if error is None:
                run.rows_sent += chunk.rows
                run.chunks_sent += 1
            else:
                failure = _worse(failure, error)
        return failure

    def _succeed(self, run: _Run) -> Outcome:
        settings = self._settings
        archived = completion.finish_success(self._s3, settings, run.source)
        bad = run.bad_rows
        if bad is not None and bad.count:
            key = completion.report_key(completion.processed_key(settings, run.source.relative_key))
            put_report(self._s3, run.source.bucket, key, self._report(run, "completed with skipped rows", {}))
        run.state.delete()
        self._log.info(
            "actuals reported",
            extra={
                "key": run.source.key,
                "deployment_id": run.deployment_id,
                "rows_sent": run.rows_sent,
                "chunks_sent": run.chunks_sent,
                "bad_rows": bad.count if bad else 0,
                "archived_as": archived,
            },
        )
        return Outcome(run.source.key, "reported", run.rows_sent, run.chunks_sent, bad.count if bad else 0)

    def _retry_or_fail(self, run: _Run, error: Exception, invocation: Invocation) -> NoReturn:
        progress = run.state.state
        detail = (
            error.detail
            if isinstance(error, DeliveryError)
            else {"error": f"{type(error).__name__}: {error}"}
        )
        if progress is None or progress.attempts < self._settings.max_attempts:
            with contextlib.suppress(LeaseLost):
                run.state.release()
            self._log.warning(
                "transient failure; the file stays in place for the retry",
                extra={"key": run.source.key, "attempt": progress.attempts if progress else None, **detail},
            )
            raise RetryLater(f"{run.source.key}: {detail['error']}") from error
        self._fail(run, f"gave up after {self._settings.max_attempts} attempts", detail, invocation)

    def _fail(self, run: _Run, reason: str, detail: dict[str, Any], invocation: Invocation) -> NoReturn:
        report = self._report(run, reason, detail)
        report["requestId"] = invocation.request_id
        destination = completion.quarantine(self._s3, self._settings, run.source, report)
        self._settle_state_after_failure(run)
        self._log.error(
            "actuals file failed",
            extra={"key": run.source.key, "failed_key": destination, "reason": reason, **detail},
        )
        raise FileFailed(f"{run.source.key}: {reason}")

    def _settle_state_after_failure(self, run: _Run) -> None:
        """Keep the record of accepted chunks, so a re-drive of the same bytes skips them."""
        progress = run.state.state
        try:
            if progress is None or not progress.accepted:
                if progress is not None:
                    run.state.delete()
                return
            progress.attempts = 0
            progress.owner = None
            progress.lease_expires = 0.0
            progress.pending.clear()
            run.state.save()
        except LeaseLost:
            return

    def _report(self, run: _Run, reason: str, detail: dict[str, Any]) -> dict[str, Any]:
        progress = run.state.state
        bad = run.bad_rows
        return {
            "status": "failed" if reason != "completed with skipped rows" else "completed",
            "reason": reason,
            "bucket": run.source.bucket,
            "key": run.source.key,
            "etag": run.source.etag,
            "deploymentId": run.deployment_id or None,
            "reportRows": progress.chunk_rows if progress else self._settings.report_rows,
            "chunksAccepted": progress.accepted_ranges() if progress else [],
            "rowsAccepted": progress.rows_accepted if progress else 0,
            "badRowCount": bad.count if bad else 0,
            "badRows": [row.as_dict() for row in bad.first] if bad else [],
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            **detail,
        }


def _worse(current: BaseException | None, new: BaseException | None) -> BaseException | None:
    """A transient failure gives way to any other: retrying cannot fix a refused chunk."""
    if current is None or isinstance(current, TransientDeliveryError):
        return new or current
    return current


def _chunks(batches: Iterator[Batch], size: int) -> Iterator[Chunk]:
    """Exactly ``size`` valid rows per chunk (the last may be shorter), whatever the batch sizes."""
    index = 0
    parts: list[Batch] = []
    held = 0
    for batch in batches:
        rest = batch
        while held + len(rest) >= size:
            head, rest = rest.split(size - held)
            yield Chunk(index, Batch.concat([*parts, head]))
            index += 1
            parts, held = [], 0
        if len(rest):
            parts.append(rest)
            held += len(rest)
    if held:
        yield Chunk(index, Batch.concat(parts))


def _from_spool(spool: IO[bytes], places: list[_Spooled]) -> Iterator[_Encoded]:
    descriptor = spool.fileno()
    for place in places:
        payloads = []
        offset = place.offset
        for size in place.sizes:
            payloads.append(os.pread(descriptor, size, offset))
            offset += size
        yield _Encoded(place.index, place.rows, tuple(payloads))
