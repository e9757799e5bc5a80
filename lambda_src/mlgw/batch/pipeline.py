"""Predict one input file: refuse, skip, hand to Batch Transform, or stream it through the model.

For every input `<input prefix><path>` the function writes, at deterministic keys:

- `<output prefix><path>`: the predictions, streamed here or, on the transform path, assembled
  from the Batch Transform job's result when the job ends (`mlgw.batch.completion`);
- `<error prefix><path>.errors.jsonl`: one JSON line per row that was not scored;
- `<error prefix><path>.report.json`: the summary of the run.

The output is written last, so it doubles as the completion marker: its metadata records the
source ETag and version, and a later event for the same version is skipped. Rows are scored on a
bounded thread pool while the main thread keeps reading, and results are written in input order
from a window of at most twice as many batches as there are workers, so memory does not grow
with the file.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlgw.backends.base import Backend
from mlgw.batch import output, transform
from mlgw.batch.records import (
    CSV_FORMAT,
    CsvReader,
    FileRejected,
    Item,
    LineCounts,
    RowError,
    input_format,
    json_lines,
)
from mlgw.batch.scoring import IsolationBudget, RetryPolicy, Scored, Scorer, SystemicFailure, batches
from mlgw.batch.settings import BatchSettings
from mlgw.batch.transform import Source
from mlgw.env import SETTINGS_VARIABLE
from mlgw.pipeline.events import S3Object
from mlgw.pipeline.objects import (
    NOT_FOUND,
    Invocation,
    ObjectChanged,
    ObjectPipeline,
    Scope,
    Skip,
    head,
    open_pinned,
    put_report,
)
from mlgw.pipeline.text import byte_stream

CONTENT_TYPES = {CSV_FORMAT: "text/csv", "jsonl": "application/x-ndjson"}
# Batches in a row, in file order, whose every row failed with a model-side (5xx) error before the
# failure counts as the model's rather than the rows': a model that cannot read a row usually
# refuses it (4xx), but some containers answer 500 to input they choke on. A file whose every
# batch failed that way fails too, however few batches it has.
SYSTEMIC_SERVER_FAILURES = 5


class BatchFailed(Exception):
    """The file could not be finished for a reason a retry may cure (the model side, S3, time);
    raised so Lambda's retries and the on-failure destination see it."""


@dataclass(slots=True)
class Outcome:
    key: str
    status: str
    rows: int = 0
    error_rows: int = 0
    model_calls: int = 0
    output_key: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Run:
    source: Source
    started: float
    predicted: int = 0
    calls: int = 0
    codes: Counter[str] = field(default_factory=Counter)
    lines: LineCounts = field(default_factory=LineCounts)
    batches_called: int = 0
    server_failure_streak: int = 0

    @property
    def error_rows(self) -> int:
        return sum(self.codes.values())


def output_key(settings: BatchSettings, relative_key: str) -> str:
    return settings.output_prefix + relative_key


def errors_key(settings: BatchSettings, relative_key: str) -> str:
    return f"{settings.error_prefix}{relative_key}.errors.jsonl"


def report_key(settings: BatchSettings, relative_key: str) -> str:
    return f"{settings.error_prefix}{relative_key}.report.json"


class BatchPredictor(ObjectPipeline):
    def __init__(
        self,
        settings: BatchSettings,
        s3: Any,
        backend: Backend,
        logger: Any,
        *,
        sagemaker: Any = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        scope = Scope(
            settings.bucket,
            f"{SETTINGS_VARIABLE}.bucket",
            settings.input_prefix,
            f"{SETTINGS_VARIABLE}.input_prefix",
            settings.own_prefixes,
        )
        super().__init__(s3, logger, scope, clock)
        self._settings = settings
        self._backend = backend
        self._sagemaker = sagemaker
        self._sleep = sleep

    def process(self, obj: S3Object, invocation: Invocation) -> Outcome:
        """Handle one created object; raises BatchFailed only for failures a retry may cure."""
        admitted = self.admit(obj.bucket, obj.key)
        if isinstance(admitted, Skip):
            if admitted.status == "refused":
                self._log.error("object refused", extra={"key": obj.key, "reason": admitted.reason})
            detail = {} if admitted.reason is None else {"reason": admitted.reason}
            return Outcome(obj.key, admitted.status, detail=detail)
        relative_key, head = admitted.relative_key, admitted.head
        kind = input_format(obj.key, head.get("ContentType"))
        source = Source(
            obj.bucket,
            obj.key,
            relative_key,
            str(head["ETag"]),
            head.get("VersionId"),
            int(head.get("ContentLength", 0)),
            kind or "",
        )
        run = _Run(source, self._clock())
        if kind is None:
            reason = "not a CSV or JSON Lines file: name it .csv, .jsonl or .ndjson, or set its content type"
            return self._reject(run, reason, invocation)
        if self._already_done(source):
            self._log.info("output already matches this version; skipping", extra={"key": obj.key})
            return Outcome(obj.key, "duplicate", output_key=output_key(self._settings, relative_key))
        remaining = invocation.remaining_seconds()
        if self._use_transform(source, remaining):
            return self._start_transform(run, invocation)
        deadline = invocation.deadline(self._clock(), self._settings.time_margin)
        try:
            return self._stream(run, deadline, invocation)
        except ObjectChanged:
            self._log.info("input changed while it was read; its new version has its own event")
            return Outcome(obj.key, "changed")

    def _head(self, key: str, *, missing: frozenset[str] = NOT_FOUND) -> dict[str, Any] | None:
        return head(self._s3, self._settings.bucket, key, missing=missing)

    def _already_done(self, source: Source) -> bool:
        """A finished output whose recorded source is this very version: the event is a duplicate.

        S3 answers 403 instead of 404 for a missing key unless `s3:ListBucket` applies to the
        request, which a grant conditioned on `s3:prefix` does not for HEAD. The role may read
        the output prefix, so here a 403 can only mean that there is no output yet.
        """
        existing = self._head(
            output_key(self._settings, source.relative_key),
            missing=NOT_FOUND | {"403", "AccessDenied"},
        )
        if existing is None:
            return False
        metadata = existing.get("Metadata", {})
        return (
            (output.META_ROWS in metadata or transform.META_TRANSFORM_JOB in metadata)
            and metadata.get(output.META_SOURCE_ETAG) == source.etag
            and metadata.get(output.META_SOURCE_VERSION, "") == (source.version_id or "")
        )

    def _use_transform(self, source: Source, remaining: float) -> bool:
        """Batch Transform takes files above the size threshold, and files that the estimated
        streaming rate cannot finish in the time left."""
        settings = self._settings
        job = settings.transform
        if job is None:
            return False
        estimate = source.size / settings.stream_bytes_per_second
        return source.size >= job.min_bytes or estimate > remaining - settings.time_margin

    def _start_transform(self, run: _Run, invocation: Invocation) -> Outcome:
        """Rows are staged server side and the job is created; `mlgw.batch.completion` writes the
        output when the job ends. A file the job cannot take is rejected with the reason."""
        source = run.source
        settings = self._settings
        remaining = invocation.remaining_seconds() - settings.time_margin
        try:
            job = transform.start_job(
                self._sagemaker,
                self._s3,
                settings,
                source,
                output_key=output_key(settings, source.relative_key),
                report_key=report_key(settings, source.relative_key),
                request_id=invocation.request_id,
                deadline=self._clock() + remaining,
                clock=self._clock,
            )
        except FileRejected as exc:
            return self._reject(run, f"Batch Transform: {exc}", invocation)
        except transform.SourceChanged:
            self._log.info("input changed before its job started; its new version has its own event")
            return Outcome(source.key, "changed")
        except (transform.CopyDeadline, ClientError, BotoCoreError) as exc:
            self._fail(run, exc, invocation)
        status = "transform-started" if job.created else "transform-exists"
        detail = {"transformJobName": job.name}
        if job.created:
            put_report(
                self._s3,
                source.bucket,
                report_key(settings, source.relative_key),
                self._report(
                    run,
                    status,
                    invocation,
                    {
                        "outputKey": job.output_key,
                        "rows": None,
                        "rowsUnknown": transform.ROWS_UNKNOWN,
                        **detail,
                    },
                ),
            )
        self._log.info("batch transform job", extra={"key": source.key, "status": status, **detail})
        return Outcome(source.key, status, output_key=job.output_key, detail=detail)

    def _reject(self, run: _Run, reason: str, invocation: Invocation) -> Outcome:
        """A file no retry can help: the report says why, and the invocation succeeds."""
        source = run.source
        put_report(
            self._s3,
            source.bucket,
            report_key(self._settings, source.relative_key),
            self._report(run, "rejected", invocation, {"reason": reason}),
        )
        self._log.warning("input rejected", extra={"key": source.key, "reason": reason})
        return Outcome(source.key, "rejected", detail={"reason": reason})

    def _stream(self, run: _Run, deadline: float, invocation: Invocation) -> Outcome:
        settings = self._settings
        source = run.source
        out = output.S3ObjectWriter(
            self._s3,
            source.bucket,
            output_key(settings, source.relative_key),
            part_bytes=settings.part_bytes,
            content_type=CONTENT_TYPES[source.input_format],
            metadata={
                output.META_SOURCE_ETAG: source.etag,
                output.META_SOURCE_VERSION: source.version_id or "",
                output.META_ROUTE: settings.route.name,
            },
        )
        errors = output.S3ObjectWriter(
            self._s3,
            source.bucket,
            errors_key(settings, source.relative_key),
            part_bytes=settings.part_bytes,
            content_type="application/x-ndjson",
            metadata={output.META_SOURCE_ETAG: source.etag},
        )

        def write_error(error: RowError) -> None:
            run.codes[error.code] += 1
            errors.write(output.json_line(error.as_dict()))

        try:
            items = self._items(run, out)
            self._score_all(run, items, out, write_error, deadline)
            newer = self._superseded(source)
            if newer is not None:
                _abort(out, errors)
                return self._drop(run, newer)
            errors.close()
            put_report(
                self._s3,
                source.bucket,
                report_key(settings, source.relative_key),
                self._report(run, "completed", invocation, {"outputKey": out.key}),
            )
            out.close({output.META_ROWS: str(run.predicted), output.META_ERROR_ROWS: str(run.error_rows)})
        except FileRejected as exc:
            _abort(out, errors)
            return self._reject(run, str(exc), invocation)
        except ObjectChanged:
            _abort(out, errors)
            raise
        except (SystemicFailure, ClientError, BotoCoreError) as exc:
            _abort(out, errors)
            self._fail(run, exc, invocation)
        self._log.info(
            "file predicted",
            extra={
                "key": source.key,
                "rows": run.predicted,
                "error_rows": run.error_rows,
                "model_calls": run.calls,
                "seconds": round(self._clock() - run.started, 3),
            },
        )
        return Outcome(source.key, "predicted", run.predicted, run.error_rows, run.calls, out.key)

    def _items(self, run: _Run, out: output.S3ObjectWriter) -> Iterator[Item]:
        """Rows of the file; for CSV the header is checked, and copied to the output, first."""
        settings = self._settings
        stream = byte_stream(open_pinned(self._s3, run.source.bucket, run.source.key, run.source.etag))
        if run.source.input_format != CSV_FORMAT:
            return json_lines(
                stream, settings.json_columns, limit=settings.max_record_bytes, counts=run.lines
            )
        reader = CsvReader(
            stream, settings.csv_columns, header=settings.csv_header, limit=settings.max_record_bytes
        )
        run.lines = reader.counts
        reader.read_header()
        out.write(output.csv_header(reader.layout, settings.prediction_columns))
        return iter(reader)

    def _score_all(
        self,
        run: _Run,
        items: Iterator[Item],
        out: output.S3ObjectWriter,
        write_error: Callable[[RowError], None],
        deadline: float,
    ) -> None:
        settings = self._settings
        scorer = Scorer(
            self._backend,
            run.source.input_format,
            retry=RetryPolicy(settings.retry_attempts, settings.backoff_base, settings.backoff_max),
            isolation=IsolationBudget(settings.isolation_calls),
            deadline=deadline,
            id_prefix=run.source.etag.strip('"')[:40],
            clock=self._clock,
            sleep=self._sleep,
        )
        window: deque[Future[Scored]] = deque()
        pool = ThreadPoolExecutor(max_workers=settings.concurrency, thread_name_prefix="batch")
        try:
            for batch in batches(items, settings.batch_size, settings.route.max_payload_bytes, write_error):
                if self._clock() >= deadline:
                    raise SystemicFailure("Deadline", "the invocation ran out of time before the file ended")
                window.append(pool.submit(scorer.score, batch))
                while len(window) >= 2 * settings.concurrency:
                    self._write(run, window.popleft().result(), out, write_error)
            while window:
                self._write(run, window.popleft().result(), out, write_error)
            if run.batches_called and run.server_failure_streak == run.batches_called:
                raise SystemicFailure(
                    "ModelServerError",
                    f"every one of the file's {run.batches_called} batches failed on the model side",
                )
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _write(
        self,
        run: _Run,
        scored: Scored,
        out: output.S3ObjectWriter,
        write_error: Callable[[RowError], None],
    ) -> None:
        run.calls += scored.calls
        if scored.calls:
            run.batches_called += 1
            if scored.server_failed:
                run.server_failure_streak += 1
                if run.server_failure_streak >= SYSTEMIC_SERVER_FAILURES:
                    raise SystemicFailure(
                        "ModelServerError",
                        f"{run.server_failure_streak} batches in a row failed on the model side (5xx)",
                    )
            elif scored.predicted:
                run.server_failure_streak = 0
        for error in scored.errors:
            write_error(error)
        columns = self._settings.prediction_columns
        csv_input = run.source.input_format == CSV_FORMAT
        for record, prediction in zip(scored.records, scored.predictions, strict=True):
            try:
                line = (
                    output.csv_row(record, prediction, columns)
                    if csv_input
                    else output.jsonl_row(record, prediction)
                )
            except output.PredictionShape as exc:
                write_error(RowError(record.row, record.line, "PredictionShape", str(exc), record.text))
                continue
            except (RecursionError, ValueError) as exc:
                # A prediction nested too deep, or holding too long an integer, to be written.
                reason = f"the prediction cannot be written: {type(exc).__name__}"
                write_error(RowError(record.row, record.line, "PredictionShape", reason, record.text))
                continue
            out.write(line)
            run.predicted += 1
        for block, predictions in scored.blocks:
            data, failed = output.csv_rows(block.texts, predictions, columns)
            for index, exc in failed:
                reason = (
                    str(exc)
                    if isinstance(exc, output.PredictionShape)
                    else f"the prediction cannot be written: {type(exc).__name__}"
                )
                row, line, text = block.rows[index], block.lines[index], block.texts[index]
                write_error(RowError(row, line, "PredictionShape", reason, text))
            out.write(data)
            run.predicted += len(block) - len(failed)

    def _superseded(self, source: Source) -> str | None:
        """Why this run's results no longer belong to the input, or None if they still do.

        A run of an older version can still be streaming when a newer version of the key is
        uploaded and scored. The key's current ETag and version are read again just before
        anything is written: when they changed (or the object is gone), the newer version's own
        event writes, or has written, the results, which this run must not replace. What is
        left is the interval between this read and the writes (a few S3 requests), in which a
        newer version would have to be uploaded, read, scored and written in full.
        """
        current = self._head(source.key)
        if current is None:
            return "the input was deleted while it was scored"
        if str(current["ETag"]) != source.etag or current.get("VersionId") != source.version_id:
            return f"a newer version of the input (ETag {current['ETag']}) replaced it while it was scored"
        return None

    def _drop(self, run: _Run, reason: str) -> Outcome:
        """Nothing is written, the report included: its key is the newer version's as well."""
        source = run.source
        self._log.warning(
            "output dropped: this version of the input was superseded",
            extra={"key": source.key, "etag": source.etag, "version_id": source.version_id, "reason": reason},
        )
        return Outcome(
            source.key,
            "superseded",
            run.predicted,
            run.error_rows,
            run.calls,
            detail={"reason": reason, "etag": source.etag, "versionId": source.version_id},
        )

    def _fail(self, run: _Run, exc: Exception, invocation: Invocation) -> None:
        kind = exc.kind if isinstance(exc, SystemicFailure) else type(exc).__name__
        reason = f"{kind}: {exc}"
        source = run.source
        try:
            put_report(
                self._s3,
                source.bucket,
                report_key(self._settings, source.relative_key),
                self._report(run, "failed", invocation, {"reason": reason}),
            )
        except (ClientError, BotoCoreError):
            self._log.exception("could not write the failure report", extra={"key": source.key})
        self._log.error(
            "file failed; the invocation fails for a retry", extra={"key": source.key, "kind": kind}
        )
        raise BatchFailed(f"{source.key}: {reason}") from exc

    def _report(
        self, run: _Run, status: str, invocation: Invocation, extra: dict[str, Any]
    ) -> dict[str, Any]:
        source = run.source
        settings = self._settings
        return {
            "status": status,
            "bucket": source.bucket,
            "key": source.key,
            "etag": source.etag,
            "versionId": source.version_id,
            "format": source.input_format or None,
            "route": settings.route.name,
            "rows": run.predicted + run.error_rows,
            "predictedRows": run.predicted,
            "errorRows": run.error_rows,
            "errorCodes": dict(sorted(run.codes.items())),
            "errorsKey": errors_key(settings, source.relative_key) if status == "completed" else None,
            "lines": asdict(run.lines),
            "modelCalls": run.calls,
            "requestId": invocation.request_id,
            "seconds": round(self._clock() - run.started, 3),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            **extra,
        }


def _abort(*writers: output.S3ObjectWriter) -> None:
    """Best effort: the failure that led here is the one worth reporting."""
    for writer in writers:
        with contextlib.suppress(ClientError, BotoCoreError):
            writer.abort()
