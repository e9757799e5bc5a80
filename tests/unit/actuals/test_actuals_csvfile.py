import io
import json
import tracemalloc
from collections.abc import Iterator

import pytest

from mlgw.actuals import csvfile
from mlgw.actuals.csvfile import (
    BadRowLog,
    Batch,
    CsvFileError,
    RowRules,
    iter_batches,
    parse_actual_value,
)
from mlgw.actuals.sinks import datarobot_body
from mlgw.pipeline.text import text_stream


def wire_rows(batches: Iterator[Batch]) -> list[dict]:
    """Rows as the actuals API receives them: decoded from the request bodies."""
    return [row for batch in batches for row in json.loads(datarobot_body(batch))["data"]]


REGRESSION = RowRules(numeric_values=True)


def parse(
    data: bytes | str,
    *,
    piece: int = 0,
    keep: int = 50,
    batch_rows: int = 3,
    rules: RowRules | None = None,
) -> tuple[list[dict], BadRowLog]:
    raw = data.encode() if isinstance(data, str) else data
    chunks = [raw[i : i + piece] for i in range(0, len(raw), piece)] if piece else [raw]
    log = BadRowLog(keep)
    return wire_rows(iter_batches(text_stream(chunks), batch_rows, log, rules)), log


def test_columns_in_any_order_with_bom_crlf_blank_lines_and_quoted_commas() -> None:
    data = (
        "\ufeffwasActedOn,actualValue,extra,associationId,timestamp\r\n"
        "\r\n"
        'true,"12.5","x, y","order-1, line 2",2024-06-01T10:00:00Z\r\n'
        ",,,,\r\n"
        'no,"yes","","multi\r\nline",\r\n'
    )

    rows, log = parse(data)

    assert rows == [
        {
            "associationId": "order-1, line 2",
            "actualValue": "12.5",
            "timestamp": "2024-06-01T10:00:00Z",
            "wasActedOn": True,
        },
        {"associationId": "multi\r\nline", "actualValue": "yes", "wasActedOn": False},
    ]
    assert log.count == 0


def test_multibyte_characters_split_across_read_chunks_survive() -> None:
    data = "associationId,actualValue\nclé-1,chat noir\nclé-2,3\n".encode()

    rows, _ = parse(data, piece=1)

    assert rows == [
        {"associationId": "clé-1", "actualValue": "chat noir"},
        {"associationId": "clé-2", "actualValue": "3"},
    ]


# The official client sends actual values as it is given them, and DataRobot reads
# classification labels as strings; only a regression deployment takes numbers.
LABELS = "associationId,actualValue\na,007\nb,1.0\nc,1e3\nd, cat \ne,-0\n"


def test_actual_values_are_sent_as_written_for_a_classification_deployment() -> None:
    rows, log = parse(LABELS)

    assert [row["actualValue"] for row in rows] == ["007", "1.0", "1e3", "cat", "-0"]
    assert log.count == 0


def test_a_regression_deployment_gets_numbers_and_refuses_labels() -> None:
    rows, log = parse(LABELS, rules=REGRESSION)

    assert [row["actualValue"] for row in rows] == [7, 1.0, 1000.0, 0]
    assert [(bad.row, bad.line) for bad in log.first] == [(4, 5)]
    assert "not a finite number" in log.first[0].reason


@pytest.mark.parametrize("rules", [None, REGRESSION], ids=["labels", "regression"])
def test_the_column_fast_path_and_the_row_path_agree(rules: RowRules | None) -> None:
    clean = "associationId,actualValue\n" + "".join(f"id-{i},{i % 9}.5\n" for i in range(50))

    fast, _ = parse(clean, rules=rules, batch_rows=10)
    slow, _ = parse(clean.replace("id-0,", '"id-0",'), rules=rules, batch_rows=10)

    assert fast == slow
    assert {type(row["actualValue"]) for row in fast} == ({str} if rules is None else {float})


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-05-01",
        "2024-05-01 12:00",
        "2024-W18-3",
        "2024-05-01T12:00:00",  # no offset
        "2024-05-01 12:00:00Z",  # RFC 3339 lets applications use a space; the strict grammar does not
        "2024-05-01T12:00Z",  # no seconds
        "2024-02-30T00:00:00Z",
        "2024-05-01T24:00:00Z",
        "2024-05-01T12:00:00+0200",
        "20240501T120000Z",
    ],
)
def test_a_timestamp_that_is_not_rfc3339_is_a_bad_row_with_its_line(stamp: str) -> None:
    data = f"associationId,actualValue,timestamp\na,1,2024-05-01T12:00:00Z\n\nb,2,{stamp}\nc,3,\n"

    rows, log = parse(data)

    assert [row["associationId"] for row in rows] == ["a", "c"]
    assert [(bad.row, bad.line) for bad in log.first] == [(2, 4)]
    assert "RFC 3339" in log.first[0].reason


@pytest.mark.parametrize(
    "stamp",
    [
        "2024-05-01T12:00:00Z",
        "2024-05-01t12:00:00.123456+02:00",
        "2016-12-31T23:59:60Z",
        "2024-02-29T00:00:00-00:00",
    ],
)
def test_rfc3339_timestamps_are_sent_as_written(stamp: str) -> None:
    rows, log = parse(f"associationId,actualValue,timestamp\na,1,{stamp}\n")

    assert rows == [{"associationId": "a", "actualValue": "1", "timestamp": stamp}]
    assert log.count == 0


@pytest.mark.parametrize("quoted", [False, True], ids=["column-path", "row-path"])
def test_with_the_model_monitor_sink_ids_must_be_inference_ids(quoted: bool) -> None:
    ids = ["ok-1", "x" * 64, "x" * 65, "clé", " leading-space", "tab\tid", "ok-2"]
    body = "".join(f'"{aid}",1\n' if quoted else f"{aid},1\n" for aid in ids)

    rows, log = parse("associationId,actualValue\n" + body, rules=RowRules(inference_ids=True))

    assert [row["associationId"] for row in rows] == ["ok-1", "x" * 64, "ok-2"]
    assert [bad.line for bad in log.first] == [4, 5, 6, 7]
    assert all("InferenceId" in bad.reason for bad in log.first)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("3", 3),
        ("-3", -3),
        ("+4", 4),
        ("0.25", 0.25),
        ("1e3", 1000.0),
        (".5", 0.5),
        (" 7 ", 7),
        ("12345678901234567890", 12345678901234567890),
        ("yes", "yes"),
        ("1_000", "1_000"),
        ("nan", "nan"),
        ("Infinity", "Infinity"),
        ("0x10", "0x10"),
        ("", None),
        ("   ", None),
        ("1e999", None),
    ],
)
def test_in_a_regression_deployment_a_value_is_a_number_when_it_parses_else_a_label(
    raw: str, expected: object
) -> None:
    value = parse_actual_value(raw)

    assert value == expected
    assert type(value) is type(expected)


def test_bad_rows_are_reported_with_row_and_line_numbers() -> None:
    long_id = "x" * 129
    data = (
        "associationId,actualValue,timestamp,wasActedOn\n"
        "ok-1,1,,\n"
        "\n"
        ",2,,\n"
        f"{long_id},3,,\n"
        f"{'y' * 128},4,,\n"
        "ok-5,,,\n"
        "ok-6,6,yesterday,\n"
        "ok-7,7,,maybe\n"
        "ok-8,8\n"
    )

    rows, log = parse(data)

    assert [row["associationId"] for row in rows] == ["ok-1", "y" * 128]
    assert [(bad.row, bad.line) for bad in log.first] == [(2, 4), (3, 5), (5, 7), (6, 8), (7, 9), (8, 10)]
    reasons = [bad.reason for bad in log.first]
    assert reasons[0] == "associationId is empty"
    assert "longer than 128" in reasons[1]
    assert "actualValue is empty" in reasons[2]
    assert "RFC 3339" in reasons[3]
    assert "true or false" in reasons[4]
    assert reasons[5] == "expected 4 fields, found 2"


def test_bad_row_log_counts_all_but_keeps_the_first_few() -> None:
    data = "associationId,actualValue\n" + ",1\n" * 30

    _, log = parse(data, keep=5)

    assert log.count == 30
    assert [bad.row for bad in log.first] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "no header"),
        (b"\r\n\r\n", "no header"),
        (b"associationid,actualvalue\n1,2\n", "header lacks associationId, actualValue"),
        (b"associationId,value\n1,2\n", "header lacks actualValue"),
        (b"associationId,actualValue,actualValue\n1,2,3\n", "appears more than once"),
        (b"associationId,actualValue\n\xff\xfe,1\n", "not UTF-8"),
        (b'associationId,actualValue\n"unterminated,1\n', "malformed CSV"),
    ],
)
def test_file_level_problems_raise(data: bytes, message: str) -> None:
    with pytest.raises(CsvFileError, match=message):
        parse(data)


def _bad_byte_at(
    line: int, *, lines: int, crlf: bool = False, bom: bool = False, quoted: bool = False
) -> bytes:
    """A valid file of ``lines`` physical lines whose line ``line`` (from 1) holds a stray 0xff."""
    end = b"\r\n" if crlf else b"\n"
    rows = [b"associationId,actualValue"] + [b"id-%06d,%d" % (n, n % 7) for n in range(2, lines + 1)]
    if quoted:
        rows[1] = b'"quoted, id",1'
    rows[line - 1] = rows[line - 1][:3] + b"\xff" + rows[line - 1][3:]
    return (b"\xef\xbb\xbf" if bom else b"") + end.join(rows) + end


@pytest.mark.parametrize("piece", [0, 4099, 65536, 300_000])
@pytest.mark.parametrize(
    ("line", "options"),
    [
        pytest.param(20_002, {}, id="line-20002"),
        pytest.param(20_002, {"crlf": True, "bom": True}, id="crlf-bom"),
        pytest.param(20_002, {"quoted": True}, id="csv-module-path"),
        pytest.param(1, {}, id="header"),
        pytest.param(2, {"bom": True}, id="first-row"),
        pytest.param(25_000, {}, id="last-line"),
    ],
)
def test_text_that_is_not_utf8_is_reported_at_its_exact_line(
    line: int, options: dict[str, bool], piece: int
) -> None:
    data = _bad_byte_at(line, lines=25_000, **options)

    with pytest.raises(CsvFileError, match=rf"not UTF-8 text \(line {line}\)"):
        parse(data, piece=piece, batch_rows=1000)


@pytest.mark.parametrize("line", [1, 2, 700, 1500])
def test_the_exact_line_survives_one_byte_reads(line: int) -> None:
    data = _bad_byte_at(line, lines=1500, crlf=True, bom=True)

    with pytest.raises(CsvFileError, match=rf"not UTF-8 text \(line {line}\)"):
        parse(data, piece=1, batch_rows=100)


def test_a_multibyte_character_cut_by_the_end_of_the_file_is_on_the_last_line() -> None:
    data = "associationId,actualValue\na,1\nb,2\nc,é".encode()[:-1]

    with pytest.raises(CsvFileError, match=r"not UTF-8 text \(line 4\)"):
        parse(data, piece=7)


def _generated(rows: int) -> Iterator[bytes]:
    yield b"associationId,actualValue\n"
    block = 1000
    for start in range(0, rows, block):
        yield "".join(f"assoc-{i:09d},{i % 5}.5\n" for i in range(start, start + block)).encode()


def _peak_while_parsing(rows: int) -> int:
    tracemalloc.start()
    try:
        consumed = sum(map(len, iter_batches(text_stream(_generated(rows)), 1000, BadRowLog(10))))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert consumed == rows
    return peak


def test_parsing_memory_stays_flat_as_the_file_grows() -> None:
    small, large = _peak_while_parsing(5_000), _peak_while_parsing(50_000)

    assert large < small * 1.5, (small, large)


def test_text_stream_reads_lazily() -> None:
    pulled: list[int] = []

    def chunks() -> Iterator[bytes]:
        for index in range(1000):
            pulled.append(index)
            yield b"associationId,actualValue\n" if index == 0 else b"a,1\n" * 1000

    stream = text_stream(chunks())
    batches = iter_batches(stream, 10, BadRowLog(1))
    next(batches)

    # one block of text is read ahead, never the whole file
    assert len(pulled) <= 2 + csvfile.BLOCK_CHARS // 4000
    assert isinstance(stream, io.TextIOWrapper)


def test_chunks_hold_exactly_report_rows_valid_rows_across_uneven_batches() -> None:
    from mlgw.actuals.pipeline import _chunks

    sizes = [3, 0, 7, 1, 10, 4]
    batches = []
    start = 0
    for size in sizes:
        ids = [f'"r{index}"' for index in range(start, start + size)]
        batches.append(Batch(ids, ["1"] * size, ["1"] * size))
        start += size

    chunks = list(_chunks(iter(batches), 4))

    assert [chunk.index for chunk in chunks] == [0, 1, 2, 3, 4, 5, 6]
    assert [len(chunk.batch) for chunk in chunks] == [4, 4, 4, 4, 4, 4, 1]
    assert [i for chunk in chunks for i in chunk.batch.ids_json] == [f'"r{index}"' for index in range(25)]


TRICKY_FILES = {
    "clean": "associationId,actualValue\n" + "".join(f"a-{i},{i % 9}.25\n" for i in range(40)),
    "crlf, no final newline": "associationId,actualValue\r\n" + "a-1,1\r\n" * 30 + "a-2,2",
    "blank lines": "associationId,actualValue\n" + "a-1,1\n\n" * 20 + "\r\n\r\n",
    "quote late": "associationId,actualValue\n" + "a-1,1\n" * 30 + '"b,\n1",2\nc,3\n',
    "quote cut by a block": "associationId,actualValue\n" + "a-1,1\n" * 3 + '"multi\nline id",4\n' * 9,
    "mixed line ends": "associationId,actualValue\r\n" + "a-1,1\r\nb-2,2\nc-3,3\r" * 10 + "d,4\r\n",
    "lone carriage returns": "associationId,actualValue\r" + "a-1,1\r" * 25,
    "labels, signs and spaces": "associationId,actualValue\n"
    + "x,cat\ny,+4\nz,.5\nw, 7 \nv,007\nu,true\nt,1e999\ns,NaN\nr,-0.0\nq,1E+2\n" * 3,
    "bad rows": "associationId,actualValue\n" + "ok,1\n,2\nok,\n  ,3\n" * 8 + "x" * 129 + ",1\n",
    "other ids": "associationId,actualValue\n" + "clé,1\nback\\slash,2\ntab\tid,3\n\x7fdel,4\n" * 6,
    "extra columns": "extra,actualValue,associationId\n" + "e,1,a\ne,2\ne,3,b,x\n" * 8,
    "columns with extras": "associationId,actualValue,wasActedOn\n" + "a,1,yes\nb,2,\n" * 9,
    "nul characters": "associationId,actualValue\n" + "a\x00b,1\nc,2\x00\n" * 5,
    "long line": "associationId,actualValue\n" + "a-1,1\n" * 3 + "b" * 300 + ",2\n" + "c,3\n" * 3,
}


def _parse_with(
    data: str, monkeypatch: pytest.MonkeyPatch, *, block: int, fast: bool, rules: RowRules | None
) -> tuple:
    monkeypatch.setattr(csvfile, "BLOCK_CHARS", block)
    if not fast:
        monkeypatch.setattr(csvfile, "_quote_free_batch", lambda block, columns, rules: None)
    rows, log = parse(data, keep=1000, batch_rows=4, rules=rules)
    monkeypatch.undo()
    return rows, log.count, [bad.as_dict() for bad in log.first]


@pytest.mark.parametrize(
    "rules", [None, REGRESSION, RowRules(inference_ids=True)], ids=["labels", "regression", "ids"]
)
@pytest.mark.parametrize("name", sorted(TRICKY_FILES))
@pytest.mark.parametrize("block", [7, 64, csvfile.BLOCK_CHARS])
def test_the_quote_free_fast_path_reads_exactly_what_the_csv_module_reads(
    monkeypatch: pytest.MonkeyPatch, name: str, block: int, rules: RowRules | None
) -> None:
    data = TRICKY_FILES[name]

    fast = _parse_with(data, monkeypatch, block=block, fast=True, rules=rules)
    reference = _parse_with(data, monkeypatch, block=10**9, fast=False, rules=rules)

    assert fast == reference
    assert fast[0] or fast[1]
