"""Rows to model calls and back: batches under the payload limit, retries, and isolation of bad rows.

One call carries many rows, so a model that rejects one row would reject its whole batch. A
rejected batch is therefore split in halves and retried until the rows the model refuses stand
alone; the extra calls this costs come from a per-file budget, so a model that refuses everything
cannot turn a file into twice as many calls as rows.

Failures of the model side itself (throttling, an endpoint that is not ready) are retried with
jittered exponential backoff inside the invocation's deadline; when retries or time run out, or
the endpoint is missing or unreachable, `SystemicFailure` ends the file, because every later
batch would fail the same way.
"""

from __future__ import annotations

import csv
import io
import json
import random
import threading
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any

from mlgw.backends.base import Backend, ModelResponse
from mlgw.backends.errors import (
    BackendError,
    ModelError,
    PayloadTooLarge,
    RetryLater,
)
from mlgw.backends.payload import CSV, JSON, InvalidInput, Payload, is_json, json_value, media_type
from mlgw.backends.sagemaker import INFERENCE_ID
from mlgw.batch.records import JSONL_FORMAT, Item, Record, RecordBlock, RowError

SERVER_ERROR = 500
JSON_LINES_TYPES = {"application/jsonlines", "application/x-jsonlines", "application/jsonl"}
TEXT_TYPES = {CSV, "text/plain"}


class SystemicFailure(Exception):
    """The model side cannot serve this file now; `kind` is a backend error kind or `Deadline`."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class PredictionMismatch(ValueError):
    """The model's answer cannot be matched to the rows that were sent."""


Batch = list[Record] | RecordBlock
"""Rows sent in one call: records read one by one, or a cut of the CSV fast path's blocks."""


def batches(
    items: Iterator[Item], size: int, max_bytes: int, on_error: Callable[[RowError], None]
) -> Iterator[Batch]:
    """Records grouped `size` at a time, and fewer when their text nears half of `max_bytes`:
    converting CSV to JSON for the model can double a row, and a batch that still ends up too
    large is split later rather than refused. Blocks are cut by the same rule, so a file makes
    the same calls whichever way its rows were read."""
    budget = max_bytes // 2
    batch: Batch = []
    used = 0
    for item in items:
        if isinstance(item, RowError):
            on_error(item)
            continue
        if isinstance(item, Record):
            cost = len(item.text) + 1
            if batch and (len(batch) >= size or used + cost > budget):
                yield batch
                batch, used = [], 0
            if isinstance(batch, RecordBlock):
                batch = list(batch)
            batch.append(item)
            used += cost
            continue
        texts = item.texts
        start, total = 0, len(texts)
        while start < total:
            held = len(batch)
            room = size - held
            window = texts[start : start + max(room, 1)]
            cost = sum(map(len, window)) + len(window)
            if used + cost <= budget:
                # The usual case: the byte budget does not bind, the row count does.
                taken, costs = min(len(window), room), [cost]
            else:
                costs = list(accumulate(len(text) + 1 for text in window))
                taken = bisect_right(costs, budget - used)
                if not held:
                    taken = max(taken, 1)
                taken = min(taken, room)
            if taken:
                part = item[start : start + taken]
                if not batch:
                    batch = part
                elif isinstance(batch, RecordBlock):
                    batch = batch + part
                else:
                    batch.extend(part)
                used += costs[-1] if taken == len(window) else costs[taken - 1]
                start += taken
            if start < total:
                # The next row does not fit: the batch is complete.
                yield batch
                batch, used = [], 0
    if batch:
        yield batch


def request_payload(batch: Batch, input_format: str) -> Payload:
    """The batch in the input's own family of formats; the backend converts it to what the model
    reads (CSV lines or `{"instances": [...]}`) exactly as it does for real-time requests.

    A block's CSV is well formed by construction (its rows hold no quotes, carriage returns or
    NUL characters), so a CSV model gets it without a second parse. Rows read one by one are
    still parsed: `csv.writer` leaves a lone carriage return unquoted, which strict CSV refuses."""
    if isinstance(batch, RecordBlock):
        return Payload(batch.features_csv().encode("utf-8"), CSV, well_formed=True)
    if input_format == JSONL_FORMAT:
        body = json.dumps({"instances": [record.features for record in batch]}, ensure_ascii=False)
        return Payload(body.encode("utf-8"), JSON)
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(record.features for record in batch)
    return Payload(out.getvalue().encode("utf-8"), CSV)


def split_predictions(response: ModelResponse, count: int, *, raw_numbers: bool = False) -> list[Any]:
    """One prediction per row sent, from the common answer shapes: `{"predictions": [...]}`, a JSON
    list, JSON Lines, or CSV with one line per row.

    With `raw_numbers` (outputs written as CSV), a JSON answer whose predictions are all scalars
    keeps each fractional number as the text the model wrote, which the output then carries as
    it is, the way Batch Transform joins a model's answer to its row: no float is parsed and
    printed again. Predictions holding lists or objects are read with numbers as numbers, since
    they are written back as JSON."""
    media = media_type(response.content_type)
    try:
        if media in JSON_LINES_TYPES:
            predictions = _json_lines(response.body, raw_numbers)
        elif is_json(media):
            predictions = _json_predictions(_json(response.body, raw_numbers), count)
            if raw_numbers and not _scalars(predictions):
                predictions = _json_predictions(json.loads(response.body), count)
        elif media in TEXT_TYPES:
            text = response.body.decode("utf-8")
            predictions = [_csv_prediction(row) for row in csv.reader(io.StringIO(text)) if row]
        else:
            raise PredictionMismatch(f"the model answered with unsupported content type {media!r}")
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error) as exc:
        raise PredictionMismatch(f"the model's answer cannot be read: {exc}") from None
    except (RecursionError, ValueError) as exc:
        # JSON nested deeper than the recursion limit, or an integer longer than Python's digit
        # limit (sys.get_int_max_str_digits, 4300 by default): an answer no row can be given.
        raise PredictionMismatch(f"the model's answer cannot be read: {type(exc).__name__}") from None
    if len(predictions) != count:
        raise PredictionMismatch(f"the model answered {len(predictions)} predictions for {count} rows")
    return predictions


def _json(body: bytes, raw_numbers: bool) -> Any:
    return json.loads(body, parse_float=str) if raw_numbers else json.loads(body)


def _json_lines(body: bytes, raw_numbers: bool) -> list[Any]:
    predictions = [_json(line, raw_numbers) for line in body.splitlines() if line.strip()]
    if raw_numbers and not _scalars(predictions):
        return _json_lines(body, False)
    return predictions


def _scalars(predictions: list[Any]) -> bool:
    return not _NESTED.intersection(map(type, predictions))


_NESTED = frozenset({list, dict})


def _json_predictions(document: Any, count: int) -> list[Any]:
    if isinstance(document, dict) and isinstance(document.get("predictions"), list):
        return list(document["predictions"])
    if isinstance(document, list):
        return document
    if count == 1:
        return [document]
    raise PredictionMismatch('expected {"predictions": [...]} or a JSON list from the model')


def _csv_prediction(row: list[str]) -> Any:
    values = json_value(row)
    return values[0] if len(values) == 1 else values


@dataclass(slots=True)
class Scored:
    """A batch's outcome, rows in input order: predicted rows with their predictions (records,
    or blocks each with its predictions), and rows the model refused (or that could not be sent)
    as errors."""

    records: list[Record] = field(default_factory=list)
    predictions: list[Any] = field(default_factory=list)
    blocks: list[tuple[RecordBlock, list[Any]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    calls: int = 0
    server_errors: int = 0

    @property
    def server_failed(self) -> bool:
        """Every row failed and the model side failed at least one call: a container's 5xx
        (a SageMaker ModelError with original status 500 or more, a 500, 502 or 504 from an HTTP
        model server), as opposed to a model refusing rows it cannot read (4xx)."""
        return self.server_errors > 0 and not self.predicted

    @property
    def predicted(self) -> bool:
        """Whether any row of the batch has a prediction."""
        return bool(self.records or self.blocks)


class IsolationBudget:
    """Extra calls a file may spend splitting rejected batches; shared by the worker threads."""

    def __init__(self, calls: int) -> None:
        self._left = calls
        self._lock = threading.Lock()

    def take(self, calls: int) -> bool:
        with self._lock:
            if self._left < calls:
                return False
            self._left -= calls
            return True


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int
    base: float
    cap: float


class Scorer:
    """Scores batches for one file; `score` runs on worker threads."""

    def __init__(
        self,
        backend: Backend,
        input_format: str,
        *,
        retry: RetryPolicy,
        isolation: IsolationBudget,
        deadline: float,
        id_prefix: str,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: Callable[[], float] = random.random,
    ) -> None:
        self._backend = backend
        self._format = input_format
        self._retry = retry
        self._isolation = isolation
        self._deadline = deadline
        self._id_prefix = id_prefix
        self._clock = clock
        self._sleep = sleep
        self._rng = rng

    def score(self, batch: Batch) -> Scored:
        scored = Scored()
        self._score(batch, scored)
        return scored

    def _score(self, batch: Batch, scored: Scored) -> None:
        try:
            predictions = self._call(batch, scored)
        except PayloadTooLarge as exc:
            # Refused before any call, so splitting costs no model time and no isolation budget.
            if len(batch) == 1:
                scored.errors.append(_row_error(batch[0], exc.kind, str(exc)))
                return
            self._halves(batch, scored)
            return
        except (ModelError, InvalidInput, PredictionMismatch) as exc:
            code, reason = _rejection(exc)
            if len(batch) == 1 or not self._isolation.take(2):
                scored.errors.extend(_row_error(record, code, reason) for record in batch)
                return
            self._halves(batch, scored)
            return
        if isinstance(batch, RecordBlock):
            scored.blocks.append((batch, predictions))
            return
        scored.records.extend(batch)
        scored.predictions.extend(predictions)

    def _halves(self, batch: Batch, scored: Scored) -> None:
        middle = len(batch) // 2
        self._score(batch[:middle], scored)
        self._score(batch[middle:], scored)

    def _call(self, batch: Batch, scored: Scored) -> list[Any]:
        payload = request_payload(batch, self._format)
        inference_id = self.inference_id(batch[0])
        retry = self._retry
        attempt = 0
        while True:
            attempt += 1
            if self._clock() >= self._deadline:
                # A queued batch or a retry may come after the deadline: no call starts then, as
                # the margin only covers calls already under way.
                raise SystemicFailure("Deadline", "the invocation ran out of time before the file ended")
            try:
                response = self._backend.predict(payload, inference_id=inference_id)
            except (PayloadTooLarge, InvalidInput):
                raise
            except RetryLater as exc:
                scored.calls += 1
                delay = self._rng() * min(retry.cap, retry.base * 2 ** (attempt - 1))
                if attempt >= retry.attempts or self._clock() + delay >= self._deadline:
                    raise SystemicFailure(exc.kind, f"{exc} (after {attempt} attempts)") from exc
                self._sleep(delay)
                continue
            except ModelError as exc:
                scored.calls += 1
                if exc.original_status is not None and exc.original_status >= SERVER_ERROR:
                    scored.server_errors += 1
                raise
            except BackendError as exc:
                scored.calls += 1
                raise SystemicFailure(exc.kind, str(exc)) from exc
            scored.calls += 1
            return split_predictions(response, len(batch), raw_numbers=self._format != JSONL_FORMAT)

    def inference_id(self, first: Record) -> str:
        """SageMaker records one InferenceId per call: the first row's id when it is a valid
        InferenceId, else the source version and row number, so captured data stays traceable."""
        if first.row_id is not None and INFERENCE_ID.fullmatch(first.row_id):
            return first.row_id
        return f"{self._id_prefix}-r{first.row}"


def _rejection(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, ModelError):
        status = f" with status {exc.original_status}" if exc.original_status is not None else ""
        return "ModelError", f"the model rejected the rows{status}"
    if isinstance(exc, InvalidInput):
        return exc.code, str(exc)
    return "PredictionMismatch", str(exc)


def _row_error(record: Record, code: str, reason: str) -> RowError:
    return RowError(record.row, record.line, code, reason, record.text)
