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

A file longer than one invocation is reported by a chain of them: an invocation whose
deadline comes hands the rest to a fresh invocation of the function (pipeline/continuation.py)
instead of failing, so Lambda's retries stay for real failures. A chain that makes no
progress for ``max_idle_handoffs`` hand-offs in a row fails the file. Waiting for the hourly
budget of actuals or on the service's 429 is done within the deadline, then handed off.

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
from typing import IO, Any, NoReturn, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from mlgw.actuals import completion
from mlgw.actuals.client import (
    DeliveryError,
    MaybeAccepted,
    OutOfTime,
    PermanentDeliveryError,
    StillRunning,
    TransientDeliveryError,
    platform_message,
)
from mlgw.actuals.csvfile import BadRowLog, Batch, CsvFileError, RowRules, iter_batches
from mlgw.actuals.dataset import DatasetPath, DatasetRejected
from mlgw.actuals.quota import BudgetSpent, ChunkOverBudget
from mlgw.actuals.settings import ActualsSettings
from mlgw.actuals.sinks import Chunk, Sink, Target
from mlgw.actuals.state import LeaseLost, ProgressState, StateStore
from mlgw.env import SETTINGS_VARIABLE
from mlgw.pipeline.continuation import Continuation, HandOffFailed, reserved_by, token_for
from mlgw.pipeline.events import S3Object
from mlgw.pipeline.objects import (
    HANDOFF_LEASE_SECONDS,
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


class HandsOff(Protocol):
    def hand_off(self, function_name: str, continuation: Continuation) -> None: ...


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
    handoffs: int = 0


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
        invoker: HandsOff | None = None,
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
        self.invoker = invoker
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
        if obj.continuation is not None and _superseded(obj.continuation, found):
            reason = "the input was replaced since the hand-off"
            return Outcome(obj.key, "superseded", detail={"reason": reason})
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
            if not self._claim(run, invocation, found["ETag"], obj.continuation):
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
            self._fail(run, _refusal(exc), exc.detail, invocation)
        except OutOfTime as exc:
            return self._hand_off(run, invocation, found.get("VersionId"), exc)
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

    def _claim(self, run: _Run, invocation: Invocation, etag: str, continuation: Continuation | None) -> bool:
        """Take the file unless another invocation holds it.

        A hand-off reserves the file for the continuation it queued (owner ``token``); a
        duplicate event meanwhile finds it busy. A continuation whose hand-off number is no
        longer the state's is stale: the chain moved on without it. A retry of the invocation
        that reserved it may take it back, in case it died before its continuation was queued.
        """
        progress = run.state.load()
        now = self._wall_clock()
        if progress is not None and progress.etag == etag:
            mine = reserved_by(progress.owner, invocation.request_id)
            if continuation is not None and continuation.handoff != progress.handoffs and not mine:
                return False
            holders = {None, invocation.request_id, continuation.token if continuation else None}
            if progress.owner not in holders and not mine and progress.lease_expires > now:
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
        self, run: _Run, progress: ProgressState, spool: IO[bytes] | None, deadline: float
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
            if self._clock() >= deadline:
                raise OutOfTime("ran out of time while validating the file")
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
        except MaybeAccepted as exc:
            dataset.forget(run.state.key)
            raise _Rejected(
                "the actuals submission from the dataset failed after it may have reached the platform: "
                "check the deployment's actuals before moving the file back, or its rows may arrive twice",
                path="dataset",
                **exc.detail,
            ) from None
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
        if settings.skip_bad_rows or progress.accepted or progress.validated:
            # Skipping needs no look ahead, and accepted chunks mean an earlier invocation
            # already read the whole file and found no bad row.
            total = self._send_chunks(run, progress, self._encoded(run, progress), deadline)
        else:
            spool = self._open_spool(run)
            try:
                places, valid = self._validate(run, progress, spool, deadline)
                progress.validated = True  # written with the first acceptance or the hand-off
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
        target = run.target
        assert target is not None
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
                        failure = OutOfTime("ran out of time; the next invocation continues from here")
                    if failure is not None:
                        break
                    # Checked here, in order, so a full chunk that can never be sent fails the file
                    # before a shorter last chunk that would fit leaves in another thread.
                    for sink in self._sinks:
                        sink.check(target, chunk.rows)
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
                run.target, chunk.index, payload, rows=chunk.rows, deadline=deadline, pending_status=pending
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
        archived = completion.finish_success(self._s3, settings, run.source, self._log)
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
        handoffs = run.state.state.handoffs if run.state.state else 0
        return Outcome(
            run.source.key,
            "reported",
            run.rows_sent,
            run.chunks_sent,
            bad.count if bad else 0,
            handoffs=handoffs,
        )

    def _hand_off(
        self, run: _Run, invocation: Invocation, version_id: str | None, error: OutOfTime
    ) -> Outcome:
        """Save the progress, reserve the file for a fresh invocation and queue it.

        A hand-off is idle when this invocation accepted no chunk, was not held back by
        the hourly budget (which frees within the hour by construction) and did not end
        polling a status the platform still reported running; one more idle hand-off than
        ``max_idle_handoffs`` in a row fails the file with a report. A live status is never
        idle: the dataset path sends no chunk while the platform ingests the file, and
        quarantining it then would let a move back submit the whole file again.
        """
        settings = self._settings
        progress = run.state.state
        if self.invoker is None or invocation.function_name is None or progress is None:
            self._retry_or_fail(run, error, invocation)
        waited = isinstance(error, BudgetSpent | StillRunning)
        idle = run.chunks_sent == 0 and not waited
        progress.idle_handoffs = progress.idle_handoffs + 1 if idle else 0
        if progress.idle_handoffs > settings.max_idle_handoffs:
            self._fail(
                run,
                f"no progress in {settings.max_idle_handoffs} hand-offs in a row",
                {"handoffs": progress.handoffs, "error": str(error), "status": error.status},
                invocation,
            )
        progress.handoffs += 1
        progress.attempts = 0  # each invocation of the chain has Lambda's retries for real failures
        continuation = Continuation(
            run.source.bucket,
            run.source.key,
            version_id,
            run.source.etag or "",
            progress.handoffs,
            token_for(invocation.request_id, progress.handoffs),
        )
        try:
            run.state.reserve(continuation.token, HANDOFF_LEASE_SECONDS)
        except LeaseLost:
            reason = "lost the state object to another invocation"
            return Outcome(run.source.key, "busy", detail={"reason": reason})
        try:
            self.invoker.hand_off(invocation.function_name, continuation)
        except (HandOffFailed, ClientError, BotoCoreError) as exc:
            progress.handoffs -= 1
            with contextlib.suppress(LeaseLost):
                run.state.release()
            raise RetryLater(f"{run.source.key}: the hand-off was not queued: {exc}") from exc
        self._log.info(
            "handed the rest of the file to a fresh invocation",
            extra={
                "key": run.source.key,
                "deployment_id": run.deployment_id,
                "handoff": progress.handoffs,
                "idle_handoffs": progress.idle_handoffs,
                "rows_sent": run.rows_sent,
                "rows_accepted": progress.rows_accepted,
                "reason": str(error),
            },
        )
        return Outcome(
            run.source.key,
            "handed-off",
            run.rows_sent,
            run.chunks_sent,
            run.bad_rows.count if run.bad_rows else 0,
            detail={"reason": str(error), "idleHandoffs": progress.idle_handoffs},
            handoffs=progress.handoffs,
        )

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
        destination = completion.quarantine(self._s3, self._settings, run.source, report, self._log)
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


def _rank(error: BaseException | None) -> int:
    if error is None:
        return 0
    if isinstance(error, OutOfTime):
        return 1
    return 2 if isinstance(error, TransientDeliveryError) else 3


def _worse(current: BaseException | None, new: BaseException | None) -> BaseException | None:
    """Running out of time gives way to a transient failure, and that to any other: a hand-off
    cannot fix what a retry must, and retrying cannot fix a refused chunk."""
    return new if _rank(new) > _rank(current) else current


def _superseded(continuation: Continuation, head: dict[str, Any]) -> bool:
    """The object is not the version the hand-off was for; the new one has its own event."""
    if head.get("ETag") != continuation.etag:
        return True
    version = head.get("VersionId")
    return continuation.version_id is not None and version is not None and version != continuation.version_id


_REFUSALS = {404: "the deployment was not found", 422: "the platform refused the actuals"}


def _refusal(error: PermanentDeliveryError) -> str:
    """The report's reason, in the platform's own words when it gave them: a 404 names a
    deployment that does not exist (or that the token cannot see), a 422 a deployment that
    cannot take these actuals, such as one without an association id configured."""
    if isinstance(error, ChunkOverBudget):
        return str(error)
    reason = _REFUSALS.get(error.status or 0, "the actuals service refused a chunk")
    message = platform_message(error.response_text)
    return f"{reason}: {message}" if message else reason


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
