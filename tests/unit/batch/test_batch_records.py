"""The CSV fast path (blocks of plain lines) against the line-by-line reader it stands in for.

Random files mix plain rows with every line the fast path must leave to the line-by-line reader:
quotes (stray, spanning lines, unclosed), CRLF and lone carriage returns, blank and
whitespace-only lines, bytes that are not UTF-8, NUL, lines over the record limit, wrong field
counts, a byte-order mark and a missing final line break. Small blocks put block boundaries
everywhere. Rows, errors, line counts, batches, model requests and output bytes must be the same
whichever way the rows were read.
"""

from __future__ import annotations

import io
import random
from dataclasses import asdict
from typing import Any

import pytest

from mlgw.batch import records
from mlgw.batch.output import csv_row, csv_rows
from mlgw.batch.records import CsvReader, Record, RecordBlock, RowError
from mlgw.batch.scoring import batches, request_payload
from mlgw.batch.settings import Columns

LIMIT = 200

PLAIN = [
    "id-{n},{n},2.5,x",
    "id-{n},{n},,caf\u00e9",
    "id-{n}, {n} ,-1e3,  ",
    "id-{n},{n},5'11,\u00e9\u00e9",
]
ODD = [
    "id-{n},5'11\",1,x",
    'id-{n},"a, b",1,x',
    'id-{n},"spans\nlines",1,x',
    'id-{n},"unclosed,1,x',
    "",
    "   ",
    "id-{n},1,2",
    "id-{n},1,2,3,4",
    "id-{n},1\r,2,3",
    "id-{n},1,\x002,3",
    "id-{n},1,2," + "9" * LIMIT,
    'id-{n},1,"q""x",3',
]


def random_file(rng: random.Random, rows: int, *, header: bool) -> bytes:
    lines = ["id,a,b,c"] if header else []
    odd_share = rng.choice([0.0, 0.01, 0.2])
    for n in range(rows):
        pattern = rng.choice(ODD) if rng.random() < odd_share else rng.choice(PLAIN)
        lines.append(pattern.format(n=n))
    end = rng.choice(["\n", "\r\n"])
    text = end.join(lines) + rng.choice([end, ""])
    data = text.encode("utf-8")
    if rng.random() < 0.3:
        data = records.BOM + data
    if rng.random() < 0.3 and len(data) > 10:
        cut = rng.randrange(len(data) // 2, len(data))
        data = data[:cut] + b"\xff" + data[cut:]
    return data


def read(data: bytes, columns: Columns, *, header: bool, fast: bool) -> tuple[list[Any], dict[str, int]]:
    reader = CsvReader(io.BytesIO(data), columns, header=header, limit=LIMIT)
    if not fast:
        reader._block = lambda block, rows_before: None  # type: ignore[method-assign]
    reader.read_header()
    items = list(reader)
    return items, asdict(reader.counts)


def flat(items: list[Any]) -> list[Record | RowError]:
    out: list[Record | RowError] = []
    for item in items:
        out.extend(item if isinstance(item, RecordBlock) else [item])
    return out


COLUMNS = [
    (True, Columns(None, "id")),
    (True, Columns(None, None)),
    (True, Columns(("c", "a"), "id")),
    (True, Columns(("b",), "id")),
    (True, Columns(None, "c")),
    (False, Columns(None, 0)),
    (False, Columns((3, 1), 0)),
]


@pytest.mark.parametrize("block_bytes", [16, 97, 1024, 64 * 1024])
@pytest.mark.parametrize(("header", "columns"), COLUMNS)
def test_blocks_read_exactly_what_the_line_by_line_reader_reads(
    monkeypatch: pytest.MonkeyPatch, block_bytes: int, header: bool, columns: Columns
) -> None:
    monkeypatch.setattr(records, "BLOCK_BYTES", block_bytes)
    rng = random.Random(f"{block_bytes}-{header}-{columns}")
    used_blocks = 0
    for _ in range(25):
        data = random_file(rng, rng.randrange(0, 300), header=header)
        try:
            slow, slow_counts = read(data, columns, header=header, fast=False)
        except records.FileRejected as exc:
            with pytest.raises(records.FileRejected, match=str(exc)[:20]):
                read(data, columns, header=header, fast=True)
            continue
        fast, fast_counts = read(data, columns, header=header, fast=True)
        used_blocks += sum(isinstance(item, RecordBlock) for item in fast)

        assert flat(fast) == slow
        assert fast_counts == slow_counts

        # The same calls with the same bodies, and the same output bytes.
        size, max_bytes = rng.choice([(1, 10_000), (7, 10_000), (500, 10_000), (500, 300)])
        fast_batches = list(batches(iter(fast), size, max_bytes, lambda error: None))
        slow_batches = list(batches(iter(slow), size, max_bytes, lambda error: None))
        assert [[r.row for r in batch] for batch in fast_batches] == [
            [r.row for r in batch] for batch in slow_batches
        ]
        for fast_batch, slow_batch in zip(fast_batches, slow_batches, strict=True):
            sent = [request_payload(batch, "csv") for batch in (fast_batch, slow_batch)]
            assert sent[0].body == sent[1].body
            assert sent[0].content_type == sent[1].content_type
            if isinstance(fast_batch, RecordBlock):
                predictions = [rng.choice([0.5, 1, "yes", None, "a,b", [1, 2]]) for _ in fast_batch]
                data_out, failed = csv_rows(fast_batch.texts, predictions, ["p"])
                assert data_out == b"".join(
                    csv_row(record, prediction, ["p"])
                    for record, prediction in zip(slow_batch, predictions, strict=True)
                )
                assert failed == []
    assert used_blocks > 0


@pytest.mark.parametrize(
    "predictions",
    [
        [0.1, 2.0, 1e-07, 1e22, -0.0],
        [1, 2, -3],
        [1, 2.5],
        [float("nan"), 1.0],
        [float("inf")],
        [True, 1.0],
        ["yes", "no"],
        ["", "x"],
        ["a,b", "c"],
        ['say "x"', "c"],
        ["caf\u00e9", "x"],
        ["line\nbreak", "x"],
        [None, 1],
        [{"p": 1}, [0.5]],
        ["\ud800", "x"],
        [10**5000, 1],
    ],
)
def test_joined_output_rows_match_row_by_row_output(predictions: list[Any]) -> None:
    texts = [f"id-{n},1" for n in range(len(predictions))]
    data, failed = csv_rows(texts, predictions, ["prediction"])
    expected: list[bytes] = []
    refused: list[int] = []
    for index, prediction in enumerate(predictions):
        try:
            expected.append(csv_row(Record(index, index, texts[index], [], None), prediction, ["prediction"]))
        except ValueError:
            refused.append(index)
    assert data == b"".join(expected)
    assert [index for index, _ in failed] == refused
