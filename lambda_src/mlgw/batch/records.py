"""Input files as a stream of records, each either usable or a row error with its reason.

Files come from spreadsheets, exports and scripts, so the reader accepts what those produce (a
UTF-8 byte-order mark, CRLF line ends, blank lines, quoted CSV fields with commas and line breaks)
and turns everything else into a row error instead of an exception: one bad line, even bytes that
are not UTF-8 or a line of many megabytes, must not sink the other rows of the file. Lines are read
with a length cap, so memory stays flat whatever the file holds.

Only a problem no row can recover from raises `FileRejected`: a CSV header that cannot be read or
lacks a configured column.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from mlgw.actuals.csvfile import text_stream
from mlgw.backends.payload import Scalar
from mlgw.batch.settings import Columns

CSV_FORMAT = "csv"
JSONL_FORMAT = "jsonl"
FORMATS_BY_SUFFIX = {".csv": CSV_FORMAT, ".jsonl": JSONL_FORMAT, ".ndjson": JSONL_FORMAT}
FORMATS_BY_MEDIA_TYPE = {
    "text/csv": CSV_FORMAT,
    "application/csv": CSV_FORMAT,
    "application/jsonlines": JSONL_FORMAT,
    "application/x-jsonlines": JSONL_FORMAT,
    "application/jsonl": JSONL_FORMAT,
    "application/x-ndjson": JSONL_FORMAT,
}
BOM = b"\xef\xbb\xbf"
PREVIEW_BYTES = 1024
_DRAIN_BYTES = 64 * 1024


class FileRejected(ValueError):
    """The file as a whole cannot be read; no row of it can be scored."""


@dataclass(slots=True)
class Record:
    """A row ready for the model. `text` is the row as it stood in the file, line break removed."""

    row: int
    line: int
    text: str
    features: list[Scalar] | dict[str, Scalar]
    row_id: str | None
    document: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RowError:
    """A row that was not scored: `code` is stable for reports and metrics, `reason` is for people."""

    row: int | None
    line: int
    code: str
    reason: str
    original: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "line": self.line,
            "code": self.code,
            "reason": self.reason,
            "original": self.original,
        }


Item = Record | RowError


def input_format(key: str, content_type: str | None) -> str | None:
    """CSV or JSON Lines by the key's suffix, else by the object's content type; None if neither."""
    lowered = key.lower()
    for suffix, kind in FORMATS_BY_SUFFIX.items():
        if lowered.endswith(suffix):
            return kind
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return FORMATS_BY_MEDIA_TYPE.get(media)


def byte_stream(chunks: Iterable[bytes]) -> BinaryIO:
    """The S3 body as a buffered binary stream, read in chunks and never joined.

    The buffered reader under the actuals pipeline's text stream, detached from its decoder:
    decoding happens here line by line, so bytes that are not UTF-8 spoil one row, not the file.
    """
    return cast(BinaryIO, text_stream(chunks).detach())


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    body: bytes
    complete: bool


def _lines(stream: BinaryIO, limit: int) -> Iterator[_Line]:
    """Physical lines without their line break (LF or CRLF). A line longer than `limit` is
    consumed to its end but only its first bytes are kept, with `complete` false."""
    number = 0
    while True:
        chunk = stream.readline(limit + 2)
        if not chunk:
            return
        number += 1
        if chunk.endswith(b"\n") or len(chunk) <= limit:
            body = chunk.rstrip(b"\n").removesuffix(b"\r")
            complete = len(body) <= limit
        else:
            while (rest := stream.readline(_DRAIN_BYTES)) and not rest.endswith(b"\n"):
                pass
            body, complete = chunk[:PREVIEW_BYTES], False
        if number == 1:
            body = body.removeprefix(BOM)
        yield _Line(number, body, complete)


def _preview(body: bytes) -> str:
    text = body[:PREVIEW_BYTES].decode("utf-8", errors="backslashreplace")
    return text + "…" if len(body) > PREVIEW_BYTES else text


def _too_long(row: int, line: int, body: bytes, limit: int) -> RowError:
    return RowError(row, line, "RecordTooLarge", f"record is longer than {limit} bytes", _preview(body))


@dataclass(frozen=True, slots=True)
class _Raw:
    row: int
    line: int
    body: bytes


def _csv_records(lines: Iterator[_Line], limit: int) -> Iterator[_Raw | RowError]:
    """Physical lines joined into CSV records: a record ends at a line break outside quotes,
    which is where the count of quote characters so far is even (`""` escapes count twice)."""
    row = 0
    parts: list[bytes] = []
    start = 0
    size = quotes = 0
    for line in lines:
        if not parts and not line.body.strip() and line.complete:
            continue
        if not parts:
            row += 1
            start, size, quotes = line.number, 0, 0
        if not line.complete:
            yield _too_long(row, start, b"\n".join([*parts, line.body]), limit)
            parts = []
            continue
        parts.append(line.body)
        size += len(line.body) + 1
        quotes += line.body.count(b'"')
        if size > limit:
            yield _too_long(row, start, b"\n".join(parts), limit)
            parts = []
        elif quotes % 2 == 0:
            yield _Raw(row, start, b"\n".join(parts))
            parts = []
    if parts:
        body = b"\n".join(parts)
        yield RowError(row, start, "MalformedCsv", "quoted field is not closed", _preview(body))


def _decode(raw: _Raw) -> str | RowError:
    try:
        return raw.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return RowError(
            raw.row,
            raw.line,
            "NotUtf8",
            f"bytes that are not UTF-8 at offset {exc.start}",
            _preview(raw.body),
        )


def _parse_csv(text: str) -> list[str] | str:
    try:
        return next(csv.reader((text,), strict=True))
    except csv.Error as exc:
        return f"malformed CSV: {exc}"


@dataclass(frozen=True, slots=True)
class CsvLayout:
    """Positions of the columns the model reads, fixed by the header or by the first row."""

    header: tuple[str, ...] | None
    width: int
    features: tuple[int, ...]
    id: int | None


def _layout(columns: Columns, header: list[str] | None, width: int) -> CsvLayout:
    if header is not None:
        names = [name.strip() for name in header]
        position = {name: index for index, name in reversed(list(enumerate(names)))}
        wanted = [*(columns.features or ()), *([columns.id] if columns.id is not None else [])]
        missing = [str(name) for name in wanted if name not in position]
        if missing:
            raise FileRejected(f"header lacks column(s) {', '.join(missing)}; found {', '.join(names)}")
        id_index = position[str(columns.id)] if columns.id is not None else None
        if columns.features:
            features = tuple(position[str(name)] for name in columns.features)
        else:
            features = tuple(index for index in range(width) if index != id_index)
        return CsvLayout(tuple(header), width, features, id_index)
    id_index = int(columns.id) if columns.id is not None else None
    if columns.features:
        features = tuple(int(index) for index in columns.features)
    else:
        features = tuple(index for index in range(width) if index != id_index)
    return CsvLayout(None, width, features, id_index)


class CsvReader:
    """Reads a CSV file; `layout` is known once the header (or, without one, the first row) is read."""

    def __init__(self, stream: BinaryIO, columns: Columns, *, header: bool, limit: int) -> None:
        self._records = _csv_records(_lines(stream, limit), limit)
        self._columns = columns
        self._has_header = header
        self.layout: CsvLayout | None = None

    def read_header(self) -> None:
        """Read and check the header, so a file without the configured columns is refused before
        anything is written. A file with no header line at all (empty) is not an error."""
        if not self._has_header:
            return
        first = next(self._records, None)
        if first is None:
            return
        if isinstance(first, RowError):
            raise FileRejected(f"header line: {first.reason}")
        text = _decode(first)
        if isinstance(text, RowError):
            raise FileRejected(f"header line: {text.reason}")
        header = _parse_csv(text)
        if isinstance(header, str):
            raise FileRejected(f"header line: {header}")
        self.layout = _layout(self._columns, header, len(header))

    def __iter__(self) -> Iterator[Item]:
        rows_before = 1 if self._has_header else 0
        for raw in self._records:
            if isinstance(raw, RowError):
                yield RowError(raw.row - rows_before, raw.line, raw.code, raw.reason, raw.original)
                continue
            row = raw.row - rows_before
            text = _decode(raw)
            if isinstance(text, RowError):
                yield RowError(row, raw.line, text.code, text.reason, text.original)
                continue
            fields = _parse_csv(text)
            if isinstance(fields, str):
                yield RowError(row, raw.line, "MalformedCsv", fields, text)
                continue
            if self.layout is None:
                self.layout = _layout(self._columns, None, len(fields))
                if any(index >= len(fields) for index in (*self.layout.features, self.layout.id or 0)):
                    raise FileRejected(
                        f"the first row has {len(fields)} fields, fewer than the columns named"
                    )
            layout = self.layout
            if len(fields) != layout.width:
                reason = f"expected {layout.width} fields, found {len(fields)}"
                yield RowError(row, raw.line, "WrongFieldCount", reason, text)
                continue
            features: list[Scalar] = [fields[index] for index in layout.features]
            row_id = fields[layout.id] if layout.id is not None else None
            yield Record(row, raw.line, text, features, row_id)


def json_lines(stream: BinaryIO, columns: Columns, *, limit: int) -> Iterator[Item]:
    """One JSON object a line; the model reads the configured keys, or every key but the id."""
    row = 0
    for line in _lines(stream, limit):
        if line.complete and not line.body.strip():
            continue
        row += 1
        if not line.complete:
            yield _too_long(row, line.number, line.body, limit)
            continue
        text = _decode(_Raw(row, line.number, line.body))
        if isinstance(text, RowError):
            yield text
            continue
        yield _json_record(row, line.number, text, columns)


def _json_record(row: int, line: int, text: str, columns: Columns) -> Item:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return RowError(row, line, "MalformedJson", f"not valid JSON: {exc.msg}", text)
    if not isinstance(document, dict):
        return RowError(row, line, "InvalidRecord", "a line must hold one JSON object", text)
    if columns.features:
        missing = [str(name) for name in columns.features if name not in document]
        if missing:
            return RowError(row, line, "MissingFeature", f"missing feature(s) {', '.join(missing)}", text)
        features = {str(name): document[name] for name in columns.features}
    else:
        features = {name: value for name, value in document.items() if name != columns.id}
    nested = sorted(name for name, value in features.items() if isinstance(value, dict | list))
    if nested:
        reason = f"feature(s) {', '.join(nested)} hold nested values; the model reads scalars"
        return RowError(row, line, "InvalidRecord", reason, text)
    row_id = document.get(str(columns.id)) if columns.id is not None else None
    return Record(row, line, text, features, None if row_id is None else str(row_id), document)
