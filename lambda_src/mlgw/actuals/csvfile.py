"""Streaming parser for actuals CSV files.

Files arrive from spreadsheets, databases and shell scripts, so the parser accepts what
those produce (a UTF-8 byte-order mark, CRLF line ends, blank lines, quoted fields with
commas or line breaks, columns in any order) and rejects, row by row, what the actuals
API would refuse later with a less useful message. It reads through a small buffer, so
memory stays flat however large the file is.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from itertools import chain, islice, repeat
from json.encoder import encode_basestring_ascii
from operator import itemgetter
from typing import Any, TextIO

from mlgw.pipeline.text import undecodable_line

ASSOCIATION_ID = "associationId"
ACTUAL_VALUE = "actualValue"
TIMESTAMP = "timestamp"
WAS_ACTED_ON = "wasActedOn"
REQUIRED_COLUMNS = (ASSOCIATION_ID, ACTUAL_VALUE)
MAX_ASSOCIATION_ID_LENGTH = 128
BLOCK_CHARS = 64 * 1024
"""Text read at a time by the quote-free fast path; bounds its memory, not the file size."""

_NOT_IN_NUMBERS = tuple('tfnNI[]{}" \t\r\n\x00')
"""Characters of JSON tokens other than numbers (true, false, null, NaN, Infinity, arrays,
objects, strings) and of whitespace: a value holding none of them that the JSON scanner
reads as one item is a JSON number, sent exactly as written."""
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
_INFERENCE_ID = re.compile(r"[!-~][ -~]{0,63}")
"""A SageMaker InferenceId: 1-64 characters, the first not a space, all printable (botocore's
sagemaker-runtime service-2.json, shape InferenceId: min 1, max 64, pattern \\A\\S[\\p{Print}]*\\z,
read as ASCII, the conservative reading). Model Monitor merges ground truth on it."""
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))", re.ASCII
)
"""RFC 3339 section 5.6 date-time (https://www.rfc-editor.org/rfc/rfc3339#section-5.6): a full date,
"T", a time with seconds, and "Z" or a numeric offset. "T" and "Z" may be lower case (section 5.6,
NOTE); the space the RFC lets applications use instead of "T" is not accepted."""


@dataclass(frozen=True, slots=True)
class RowRules:
    """What the file's destinations require of a row, learned once per file.

    ``numeric_values``: the deployment is a regression deployment, so an actual value must be a
    finite number and is sent as a JSON number; otherwise it is a label, sent as the text written
    (surrounding blanks dropped), as the official client sends what it is given.
    ``inference_ids``: associationId becomes a Model Monitor eventId, so it must be an InferenceId.
    """

    numeric_values: bool = False
    inference_ids: bool = False

    def merge(self, other: RowRules) -> RowRules:
        return RowRules(
            self.numeric_values or other.numeric_values, self.inference_ids or other.inference_ids
        )


class CsvFileError(ValueError):
    """The file as a whole cannot be read: wrong encoding, header, or CSV structure."""


@dataclass(frozen=True, slots=True)
class BadRow:
    """A rejected data row. ``row`` counts data rows from 1; ``line`` is where it starts and
    ``last_line`` where it ends, when a quoted field carries it over several lines."""

    row: int
    line: int
    reason: str
    last_line: int | None = None

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {"row": self.row, "line": self.line, "reason": self.reason}
        if self.last_line is not None:
            found["lastLine"] = self.last_line
        return found


@dataclass(frozen=True, slots=True)
class Batch:
    """Valid rows in column form, with each value already encoded as JSON.

    Building one dict per row and serialising it costs more CPU than everything else
    the reporter does; columns let a clean chunk go from CSV text to request body with a
    handful of C-level passes, and keep the per-row path for chunks that need it.
    """

    ids_json: list[str]
    values_json: list[str]
    texts: list[str]
    extras_json: list[str] | None = None

    def __len__(self) -> int:
        return len(self.ids_json)

    def split(self, size: int) -> tuple[Batch, Batch]:
        """The first ``size`` rows and the rest."""
        extras = self.extras_json
        return (
            Batch(self.ids_json[:size], self.values_json[:size], self.texts[:size], extras and extras[:size]),
            Batch(self.ids_json[size:], self.values_json[size:], self.texts[size:], extras and extras[size:]),
        )

    @staticmethod
    def concat(parts: list[Batch]) -> Batch:
        if len(parts) == 1:
            return parts[0]
        with_extras = any(part.extras_json is not None for part in parts)
        return Batch(
            list(chain.from_iterable(part.ids_json for part in parts)),
            list(chain.from_iterable(part.values_json for part in parts)),
            list(chain.from_iterable(part.texts for part in parts)),
            list(chain.from_iterable(part.extras_json or [""] * len(part) for part in parts))
            if with_extras
            else None,
        )


@dataclass(slots=True)
class BadRowLog:
    """Counts every bad row but keeps only the first few, so a broken file cannot fill memory."""

    keep: int
    count: int = 0
    first: list[BadRow] = field(default_factory=list)

    def add(self, bad: BadRow) -> None:
        self.count += 1
        if len(self.first) < self.keep:
            self.first.append(bad)


def parse_actual_value(raw: str) -> int | float | str | None:
    """A number when the text is one, else a class label; None when it cannot be sent."""
    value = raw.strip()
    if not value:
        return None
    if value.isdigit():
        return int(value)
    if _NUMBER.fullmatch(value):
        if _INTEGER.fullmatch(value):
            return int(value)
        number = float(value)
        return number if math.isfinite(number) else None
    return value


def _association_id_problem(association_id: str, rules: RowRules) -> str | None:
    if not association_id.strip():
        return "associationId is empty"
    if len(association_id) > MAX_ASSOCIATION_ID_LENGTH:
        return f"associationId is longer than {MAX_ASSOCIATION_ID_LENGTH} characters"
    if rules.inference_ids and not _INFERENCE_ID.fullmatch(association_id):
        return (
            "associationId is not a SageMaker InferenceId (1-64 printable ASCII characters, "
            "not starting with a space), so Model Monitor could never merge it"
        )
    return None


def is_rfc3339(stamp: str) -> bool:
    """A date-time exactly as RFC 3339 writes it, with a date and times that exist."""
    match = _RFC3339.fullmatch(stamp)
    if match is None:
        return False
    year, month, day, hour, minute, second, offset_hours, offset_minutes = (
        int(group or 0) for group in match.groups()
    )
    try:
        date(year, month, day)
    except ValueError:
        return False
    # Second 60 is a leap second, which RFC 3339 allows (section 5.7).
    return hour <= 23 and minute <= 59 and second <= 60 and offset_hours <= 23 and offset_minutes <= 59


def _value_json(value: int | float | str) -> str:
    if isinstance(value, str):
        return encode_basestring_ascii(value)
    return repr(value)


@dataclass(frozen=True, slots=True)
class _Columns:
    """Positions of the known columns in the header."""

    width: int
    association_id: int
    actual_value: int
    timestamp: int | None
    was_acted_on: int | None


def _columns(header: list[str]) -> _Columns:
    names = [name.strip() for name in header]
    indexes: dict[str, int] = {}
    for position, name in enumerate(names):
        if name in (ASSOCIATION_ID, ACTUAL_VALUE, TIMESTAMP, WAS_ACTED_ON):
            if name in indexes:
                raise CsvFileError(f"column {name!r} appears more than once in the header")
            indexes[name] = position
    missing = [name for name in REQUIRED_COLUMNS if name not in indexes]
    if missing:
        raise CsvFileError(
            f"header lacks {', '.join(missing)} (names are case-sensitive); found {', '.join(names)}"
        )
    return _Columns(
        len(header),
        indexes[ASSOCIATION_ID],
        indexes[ACTUAL_VALUE],
        indexes.get(TIMESTAMP),
        indexes.get(WAS_ACTED_ON),
    )


def _ids_json(ids: list[str]) -> list[str]:
    plain = "".join(ids)
    if plain.isascii() and plain.isprintable() and '"' not in plain and "\\" not in plain:
        # Printable ASCII without quote or backslash needs no escaping; NUL cannot occur
        # (it is not printable), so it safely separates the ids while they are quoted.
        return ('"' + '"\x00"'.join(ids) + '"').split("\x00")
    return list(map(encode_basestring_ascii, ids))


def _columnar_batch(ids: list[str], values: list[str], rules: RowRules) -> Batch | None:
    """Ids and values checked and encoded a column at a time; None when any row needs a closer look.

    Every test here is a C-level pass over a whole column (the JSON scanner validates
    the numbers), which is what keeps a clean million-row file well under a second.
    """
    if max(map(len, ids)) > MAX_ASSOCIATION_ID_LENGTH or not all(map(str.strip, ids)):
        return None
    if rules.inference_ids and not all(map(_INFERENCE_ID.fullmatch, ids)):
        return None
    if not rules.numeric_values:
        texts = list(map(str.strip, values))
        if not all(texts):
            return None
        return Batch(_ids_json(ids), list(map(encode_basestring_ascii, texts)), texts)
    joined = ",".join(values)
    if any(char in joined for char in _NOT_IN_NUMBERS):
        return None
    try:
        numbers = json.loads(f"[{joined}]")
    except ValueError:
        return None
    if len(numbers) != len(values) or not (-math.inf < min(numbers) and max(numbers) < math.inf):
        return None
    return Batch(_ids_json(ids), values, values)


def _breaks_a_line(column: list[str]) -> bool:
    joined = "".join(column)
    return "\n" in joined or "\r" in joined


def _fast_batch(records: list[list[str]], columns: _Columns, rules: RowRules) -> Batch | None:
    """The whole batch at C speed when every row is plainly valid; None sends it down the row path."""
    if columns.timestamp is not None or columns.was_acted_on is not None:
        return None
    if set(map(len, records)) != {columns.width}:
        return None
    ids = list(map(itemgetter(columns.association_id), records))
    values = list(map(itemgetter(columns.actual_value), records))
    if _breaks_a_line(ids) or _breaks_a_line(values):
        return None
    return _columnar_batch(ids, values, rules)


def _quote_free_batch(block: str, columns: _Columns, rules: RowRules) -> Batch | None:
    """Rows of a block of whole lines without quotes, split without the csv module.

    Without quotes every line is one record and every comma a separator, so splitting
    on them is exactly what the csv module would do, only cheaper.
    """
    if columns.timestamp is not None or columns.was_acted_on is not None:
        return None
    if "\r" in block:
        lines = block.split("\r\n")
        if block.count("\r") != len(lines) - 1 or block.count("\n") != len(lines) - 1:
            return None  # lone or mixed line ends
    else:
        lines = block.split("\n")
    lines.pop()
    width = columns.width
    if set(map(str.count, lines, repeat(","))) != {width - 1}:
        return None
    fields = ",".join(lines).split(",")
    return _columnar_batch(
        fields[columns.association_id :: width], fields[columns.actual_value :: width], rules
    )


def _value_problem(text: str, rules: RowRules) -> tuple[str, None] | tuple[None, str]:
    """(reason, None) for a bad actual value, else (None, its JSON)."""
    if not text:
        return "actualValue is empty", None
    if not rules.numeric_values:
        return None, encode_basestring_ascii(text)
    value = parse_actual_value(text)
    if value is None or isinstance(value, str):
        return f"actualValue {text[:40]!r} is not a finite number, as a regression deployment needs", None
    return None, _value_json(value)


def _convert_row(record: list[str], columns: _Columns, rules: RowRules) -> tuple[str, str, str, str] | str:
    """One row as (id JSON, value JSON, value text, extra fields JSON), or the reason it is bad."""
    if len(record) != columns.width:
        return f"expected {columns.width} fields, found {len(record)}"
    association_id = record[columns.association_id]
    problem = _association_id_problem(association_id, rules)
    if problem:
        return problem
    text = record[columns.actual_value].strip()
    problem, value_json = _value_problem(text, rules)
    if problem is not None or value_json is None:
        return problem or "actualValue is empty"
    extras: dict[str, Any] = {}
    if columns.timestamp is not None and (stamp := record[columns.timestamp].strip()):
        if not is_rfc3339(stamp):
            return f"timestamp {stamp[:40]!r} is not an RFC 3339 date-time such as 2024-05-01T12:00:00Z"
        extras[TIMESTAMP] = stamp
    if columns.was_acted_on is not None and (acted := record[columns.was_acted_on].strip()):
        flag = _BOOLEANS.get(acted.lower())
        if flag is None:
            return f"wasActedOn {acted[:20]!r} is not true or false"
        extras[WAS_ACTED_ON] = flag
    extra_json = "".join(f",{json.dumps(name)}:{json.dumps(item)}" for name, item in extras.items())
    return (encode_basestring_ascii(association_id), value_json, text, extra_json)


def _slow_batch(
    records: list[list[str]],
    columns: _Columns,
    first_row: int,
    first_line: int,
    bad_rows: BadRowLog,
    *,
    rules: RowRules,
) -> tuple[Batch, int]:
    """Row by row, so each bad row is reported with its number; returns the batch and rows seen."""
    ids: list[str] = []
    values: list[str] = []
    texts: list[str] = []
    extras: list[str] = []
    row = first_row
    line = first_line
    for record in records:
        start_line = line
        line += 1 + _line_breaks(record)
        if not any(record):
            continue
        row += 1
        last_line = line - 1 if line - 1 > start_line else None
        result = _spanned_lines(record, columns, start_line, last_line) or _convert_row(
            record, columns, rules
        )
        if isinstance(result, str):
            bad_rows.add(BadRow(row, start_line, result, last_line))
            continue
        ids.append(result[0])
        values.append(result[1])
        texts.append(result[2])
        extras.append(result[3])
    with_extras = columns.timestamp is not None or columns.was_acted_on is not None
    return Batch(ids, values, texts, extras if with_extras else None), row - first_row


def _spanned_lines(record: list[str], columns: _Columns, line: int, last_line: int | None) -> str | None:
    """Why a record whose associationId or actualValue took in whole rows of the file is refused.

    A quote opened at the start of a field and closed at the end of one lines later (a stray
    quote) makes one record of every line between, and those rows would vanish into one label.
    A quoted value may hold a line break, so the record is refused only when a line inside the
    value has the separators of a whole row; the bad row names every line it spans.
    """
    if last_line is None:
        return None
    separators = columns.width - 1
    for index in (columns.association_id, columns.actual_value):
        pieces = _LINE_BREAK.split(record[index]) if index < len(record) else []
        if any(piece.count(",") >= separators for piece in pieces[1:]):
            return (
                f"a quote opened on line {line} closes on line {last_line}, taking in lines that are "
                "rows of their own; a quote inside a value needs the whole value quoted and the quote doubled"
            )
    return None


def _records_batch(
    records: list[list[str]],
    columns: _Columns,
    rows_seen: int,
    first_line: int,
    bad_rows: BadRowLog,
    *,
    rules: RowRules,
) -> tuple[Batch, int]:
    """A batch of parsed records, column-wise when they are all clean; returns it and the rows seen."""
    batch = _fast_batch(records, columns, rules)
    if batch is not None:
        return batch, len(records)
    return _slow_batch(records, columns, rows_seen, first_line, bad_rows, rules=rules)


class _CsvPosition:
    """Rows and physical lines consumed so far, for row numbers and error messages."""

    def __init__(self, lines: int) -> None:
        self.rows = 0
        self.lines = lines


def iter_batches(
    text: TextIO, batch_rows: int, bad_rows: BadRowLog, rules: RowRules | None = None
) -> Iterator[Batch]:
    """Valid rows in file order, a bounded block at a time; bad rows go to ``bad_rows``.

    Blocks of whole lines without a quote character (most files, all the way through)
    skip the csv module; a block that fails the column checks is parsed with it, row by
    row. From the first quote on, the rest of the file goes through the csv module,
    ``batch_rows`` records at a time, because a quoted field may span lines and blocks.

    Raises CsvFileError for problems no row-level skip can fix: a missing header, text
    that is not UTF-8, or broken CSV quoting.
    """
    rules = rules or RowRules()
    reader = csv.reader(text, strict=True)
    position = _CsvPosition(0)
    try:
        header = next((record for record in reader if any(record)), None)
        if header is None:
            raise CsvFileError(f"file has no header: expected columns {', '.join(REQUIRED_COLUMNS)}")
        columns = _columns(header)
        position.lines = reader.line_num
        rest = yield from _quote_free_blocks(text, columns, position, bad_rows, rules)
        if rest is not None:
            yield from _csv_batches(chain(rest, text), columns, position, batch_rows, bad_rows, rules=rules)
    except UnicodeDecodeError as exc:
        line = undecodable_line(text, exc)
        where = f"line {line}" if line is not None else f"near line {position.lines + 1}"
        raise CsvFileError(f"file is not UTF-8 text ({where}): {exc.reason}") from None
    except csv.Error as exc:
        raise CsvFileError(f"malformed CSV near line {position.lines + 1}: {exc}") from None


def _quote_free_blocks(
    text: TextIO, columns: _Columns, position: _CsvPosition, bad_rows: BadRowLog, rules: RowRules
) -> Iterator[Batch]:
    """Batches of quote-free blocks; returns the unread lines once a block has a quote, else None."""
    carry = ""
    while True:
        chunk = text.read(BLOCK_CHARS)
        data = carry + chunk
        if not data:
            return None
        cut = data.rfind("\n") + 1 if chunk else len(data)
        if cut == 0 or '"' in data[:cut]:
            # A quote, or a line longer than a block (or ended by lone carriage returns):
            # hand the rest to the csv module, completing the line the block cut.
            return io.StringIO(data + text.readline(), newline="")
        block, carry = data[:cut], data[cut:]
        if not block.endswith(("\n", "\r")):
            block += "\n"
        batch = _quote_free_batch(block, columns, rules)
        if batch is not None:
            position.rows += len(batch)
            position.lines += len(batch)
        else:
            records = list(csv.reader(io.StringIO(block, newline=""), strict=True))
            batch, seen = _slow_batch(
                records, columns, position.rows, position.lines + 1, bad_rows, rules=rules
            )
            position.rows += seen
            position.lines += sum(1 + _line_breaks(record) for record in records)
        if len(batch):
            yield batch


def _line_breaks(record: list[str]) -> int:
    return sum(len(_LINE_BREAK.findall(field)) for field in record)


def _csv_batches(
    lines: Iterable[str],
    columns: _Columns,
    position: _CsvPosition,
    batch_rows: int,
    bad_rows: BadRowLog,
    *,
    rules: RowRules,
) -> Iterator[Batch]:
    reader = csv.reader(lines, strict=True)
    start = position.lines
    while True:
        first_line = start + reader.line_num + 1
        records: list[list[str]] = []
        try:
            records.extend(islice(reader, batch_rows))
        except csv.Error:
            # The records read before the error stay in the list: the record that failed starts
            # on the line after them (an unclosed quote is reported where it opened, not at the
            # end of the file it ran into).
            position.lines = first_line - 1 + sum(1 + _line_breaks(record) for record in records)
            raise
        except UnicodeDecodeError:
            position.lines = start + reader.line_num
            raise
        position.lines = start + reader.line_num
        if not records:
            return
        batch, seen = _records_batch(records, columns, position.rows, first_line, bad_rows, rules=rules)
        position.rows += seen
        if len(batch):
            yield batch
