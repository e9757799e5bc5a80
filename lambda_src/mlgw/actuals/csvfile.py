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
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

ASSOCIATION_ID = "associationId"
ACTUAL_VALUE = "actualValue"
TIMESTAMP = "timestamp"
WAS_ACTED_ON = "wasActedOn"
REQUIRED_COLUMNS = (ASSOCIATION_ID, ACTUAL_VALUE)
MAX_ASSOCIATION_ID_LENGTH = 128
READ_BUFFER_BYTES = 256 * 1024

_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


class CsvFileError(ValueError):
    """The file as a whole cannot be read: wrong encoding, header, or CSV structure."""


@dataclass(frozen=True, slots=True)
class BadRow:
    """A rejected data row. ``row`` counts data rows from 1; ``line`` is where it starts."""

    row: int
    line: int
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "line": self.line, "reason": self.reason}


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


class _ChunkReader(io.RawIOBase):
    """Presents an iterator of byte chunks (an S3 body) as a raw stream for ``io`` to buffer."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
        size = min(len(target), len(self._pending))
        target[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def text_stream(chunks: Iterable[bytes]) -> TextIO:
    """Decode UTF-8 (dropping a leading byte-order mark) without joining the chunks."""
    raw = io.BufferedReader(_ChunkReader(chunks), buffer_size=READ_BUFFER_BYTES)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


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


def _header_indexes(header: list[str]) -> dict[str, int]:
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
    return indexes


def _association_id_problem(association_id: str) -> str | None:
    if not association_id.strip():
        return "associationId is empty"
    if len(association_id) > MAX_ASSOCIATION_ID_LENGTH:
        return f"associationId is longer than {MAX_ASSOCIATION_ID_LENGTH} characters"
    return None


def _row_converter(indexes: dict[str, int], width: int) -> Callable[[list[str]], dict[str, Any] | str]:
    """Build the per-row conversion once, with column positions bound as locals for speed."""
    i_id = indexes[ASSOCIATION_ID]
    i_value = indexes[ACTUAL_VALUE]
    i_time = indexes.get(TIMESTAMP)
    i_acted = indexes.get(WAS_ACTED_ON)

    def convert(record: list[str]) -> dict[str, Any] | str:
        if len(record) != width:
            return f"expected {width} fields, found {len(record)}"
        association_id = record[i_id]
        problem = _association_id_problem(association_id)
        if problem:
            return problem
        value = parse_actual_value(record[i_value])
        if value is None:
            return "actualValue is empty or not a finite number"
        row: dict[str, Any] = {ASSOCIATION_ID: association_id, ACTUAL_VALUE: value}
        if i_time is not None:
            stamp = record[i_time].strip()
            if stamp:
                try:
                    datetime.fromisoformat(stamp)
                except ValueError:
                    return f"timestamp {stamp[:40]!r} is not an ISO 8601 date-time"
                row[TIMESTAMP] = stamp
        if i_acted is not None:
            acted = record[i_acted].strip()
            if acted:
                flag = _BOOLEANS.get(acted.lower())
                if flag is None:
                    return f"wasActedOn {acted[:20]!r} is not true or false"
                row[WAS_ACTED_ON] = flag
        return row

    return convert


def iter_actuals(text: TextIO, bad_rows: BadRowLog) -> Iterator[dict[str, Any]]:
    """Valid rows in file order; each bad row goes to ``bad_rows`` instead.

    Raises CsvFileError for problems no row-level skip can fix: a missing header, text
    that is not UTF-8, or a field too large to be an actual.
    """
    reader = csv.reader(text, strict=True)
    line_before = 0
    row_number = 0
    convert: Callable[[list[str]], dict[str, Any] | str] | None = None
    try:
        for record in reader:
            start_line = line_before + 1
            line_before = reader.line_num
            if not any(record):
                continue
            if convert is None:
                convert = _row_converter(_header_indexes(record), len(record))
                continue
            row_number += 1
            result = convert(record)
            if isinstance(result, str):
                bad_rows.add(BadRow(row_number, start_line, result))
            else:
                yield result
    except UnicodeDecodeError as exc:
        raise CsvFileError(f"file is not UTF-8 text (near line {line_before + 1}): {exc.reason}") from None
    except csv.Error as exc:
        raise CsvFileError(f"malformed CSV near line {line_before + 1}: {exc}") from None
    if convert is None:
        raise CsvFileError(f"file has no header: expected columns {', '.join(REQUIRED_COLUMNS)}")
