"""Batching, answer parsing, payload splitting and InferenceIds, below the pipeline."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlgw.backends.base import ModelResponse
from mlgw.backends.errors import PayloadTooLarge
from mlgw.backends.payload import CSV, Payload
from mlgw.batch.records import CSV_FORMAT, Record, RowError
from mlgw.batch.scoring import (
    IsolationBudget,
    PredictionMismatch,
    RetryPolicy,
    Scorer,
    SystemicFailure,
    batches,
    split_predictions,
)


def record(row: int, text: str = "1,2", row_id: str | None = None) -> Record:
    return Record(row, row + 1, text, text.split(","), row_id)


def test_batches_respect_the_row_count_and_half_the_payload_limit() -> None:
    errors: list[RowError] = []
    bad = RowError(3, 4, "MalformedCsv", "x", "x")
    items = [record(1), record(2), bad, *(record(n, "9" * 40) for n in range(4, 10))]

    grouped = list(batches(iter(items), 4, 200, errors.append))

    # 100 bytes of budget: two 41-byte rows fit next to two 4-byte ones, then two at a time
    assert [[r.row for r in batch] for batch in grouped] == [[1, 2, 4, 5], [6, 7], [8, 9]]
    assert errors == [bad]


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/json", b'{"predictions": [0.1, {"label": "a"}]}', [0.1, {"label": "a"}]),
        ("application/json; charset=utf-8", b"[1, [2, 3]]", [1, [2, 3]]),
        ("application/jsonlines", b'{"score": 1}\n{"score": 2}\n', [{"score": 1}, {"score": 2}]),
        ("text/csv", b"0.5\n1,a\n", [0.5, [1, "a"]]),
    ],
)
def test_answers_are_split_into_one_prediction_per_row(content_type: str, body: bytes, expected: Any) -> None:
    assert split_predictions(ModelResponse(body, content_type), 2) == expected


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("application/json", b'{"predictions": [0.50, 1E2, 3]}', ["0.50", "1E2", 3]),
        ("application/json", b"[-0.0, 7]", ["-0.0", 7]),
        ("application/jsonlines", b"0.250\n1\n", ["0.250", 1]),
        # Lists and objects are written back as JSON, so their numbers stay numbers.
        ("application/json", b'{"predictions": [0.50, {"p": 0.25}]}', [0.5, {"p": 0.25}]),
        ("application/jsonlines", b'{"p": 0.50}\n2.0\n', [{"p": 0.5}, 2.0]),
    ],
)
def test_csv_outputs_keep_scalar_numbers_as_the_model_wrote_them(
    content_type: str, body: bytes, expected: list[Any]
) -> None:
    response = ModelResponse(body, content_type)
    assert split_predictions(response, len(expected), raw_numbers=True) == expected
    # Without raw numbers (JSON Lines outputs) every number is a number.
    assert not any(isinstance(value, str) for value in split_predictions(response, len(expected)))


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"predictions": [1]}'),
        ("application/json", b'{"scores": [1, 2]}'),
        ("application/json", b"not json"),
        ("image/png", b"\x89PNG"),
        ("application/json", b"[" * 100_000 + b"]" * 100_000),
        ("application/json", b'{"predictions": [' + b"9" * 5000 + b", 1]}"),
        ("application/jsonlines", b"[" * 100_000 + b"]" * 100_000 + b"\n1\n"),
        ("application/jsonlines", b"9" * 5000 + b"\n1\n"),
    ],
    ids=["count", "shape", "not-json", "not-text", "deep", "huge-int", "deep-lines", "huge-int-lines"],
)
def test_answers_that_do_not_match_the_rows_are_refused(content_type: str, body: bytes) -> None:
    with pytest.raises(PredictionMismatch):
        split_predictions(ModelResponse(body, content_type), 2)


class CsvEcho:
    """A backend with a 20-byte limit that answers one prediction per CSV line."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.ids: list[str] = []

    def predict(self, payload: Payload, *, inference_id: str) -> ModelResponse:
        if len(payload.body) > 20:
            raise PayloadTooLarge(len(payload.body), 20)
        self.bodies.append(payload.body)
        self.ids.append(inference_id)
        lines = payload.body.decode().splitlines()
        return ModelResponse(
            json.dumps({"predictions": list(range(len(lines)))}).encode(), "application/json"
        )


def scorer(backend: CsvEcho) -> Scorer:
    return Scorer(
        backend,
        CSV_FORMAT,
        retry=RetryPolicy(1, 0, 0),
        isolation=IsolationBudget(0),
        deadline=float("inf"),
        id_prefix="etag123",
    )


def test_a_batch_over_the_payload_limit_is_split_without_spending_isolation_budget() -> None:
    backend = CsvEcho()
    rows = [record(1, "1,2,3", "a"), record(2, "4,5,6", "b"), record(3, "7,8,9", "c"), record(4, "9" * 30)]

    scored = scorer(backend).score(rows)

    assert [r.row for r in scored.records] == [1, 2, 3]
    assert backend.bodies == [b"1,2,3\n4,5,6\n", b"7,8,9\n"]
    [error] = scored.errors
    assert (error.row, error.code) == (4, "PayloadTooLarge")
    # InferenceId: the first row's id, else the source version and row number
    assert backend.ids == ["a", "c"]
    assert scorer(backend).inference_id(record(7, row_id="x" * 65)) == "etag123-r7"
    assert scorer(backend).inference_id(record(8, row_id=" leading space")) == "etag123-r8"


def test_requests_keep_the_features_in_the_input_format_for_the_backend_to_convert() -> None:
    backend = CsvEcho()
    scorer(backend).score([Record(1, 2, 'x,"a,b"', ["a,b"], None)])
    assert Payload(backend.bodies[0], CSV).records.rows == (["a,b"],)


class Clock:
    """A clock that moves one second per model call."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_no_call_starts_after_the_deadline_even_for_a_batch_already_queued() -> None:
    clock = Clock()

    class Slow(CsvEcho):
        def predict(self, payload: Payload, *, inference_id: str) -> ModelResponse:
            clock.now += 1
            return super().predict(payload, inference_id=inference_id)

    backend = Slow()
    late = Scorer(
        backend,
        CSV_FORMAT,
        retry=RetryPolicy(1, 0, 0),
        isolation=IsolationBudget(0),
        deadline=1.5,
        id_prefix="etag123",
        clock=clock,
    )
    late.score([record(1)])
    late.score([record(2)])

    with pytest.raises(SystemicFailure, match="ran out of time") as failure:
        late.score([record(3)])
    assert failure.value.kind == "Deadline"
    assert len(backend.bodies) == 2
