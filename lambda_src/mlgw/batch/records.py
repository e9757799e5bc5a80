"""Input files as a stream of records, each either usable or a row error with its reason.

Files come from spreadsheets, exports and scripts, so the reader accepts what those produce (a
UTF-8 byte-order mark, CRLF line ends, blank lines, quoted CSV fields with commas and line breaks)
and turns everything else into a row error instead of an exception: one bad line, even bytes that
are not UTF-8 or a line of many megabytes, must not sink the other rows of the file. Lines are read
with a length cap, so memory stays flat whatever the file holds.

Most CSV files are mostly plain rows: no quotes, one line each. Those are read a block of lines
at a time (`RecordBlock`), with no object per row, and sent and written as joined text; any block
holding a line that needs more care is read line by line instead, with the same results.

Only a problem no row can recover from raises `FileRejected`: a CSV header that cannot be read or
lacks a configured column.
"""

from __future__ import annotations

import csv
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import repeat
from operator import itemgetter, methodcaller
from typing import Any, BinaryIO, overload

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
BLOCK_BYTES = 256 * 1024
"""How much of a CSV file the fast path takes at once: thousands of typical rows."""


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


def input_format(key: str, content_type: str | None) -> str | None:
    """CSV or JSON Lines by the key's suffix, else by the object's content type; None if neither."""
    lowered = key.lower()
    for suffix, kind in FORMATS_BY_SUFFIX.items():
        if lowered.endswith(suffix):
            return kind
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return FORMATS_BY_MEDIA_TYPE.get(media)


@dataclass(frozen=True, slots=True)
class _Line:
    number: int
    body: bytes
    complete: bool


@dataclass(slots=True)
class LineCounts:
    """Where the physical lines of a file went, so a reader can reconcile them with its rows:
    `physical` = `header` + `blank` + `continuation` + data rows (scored or in the errors object),
    `continuation` being the lines after the first of records whose quoted fields span lines."""

    physical: int = 0
    header: int = 0
    blank: int = 0
    continuation: int = 0


class _LineReader:
    """Physical lines without their line break (LF or CRLF). A line longer than `limit` is
    consumed to its end but only its first bytes are kept, with `complete` false.

    `block` hands out many whole lines at once for the CSV fast path; a block that path cannot
    take is given back with `unread` and read again line by line."""

    def __init__(self, stream: BinaryIO, limit: int, counts: LineCounts) -> None:
        self._stream = stream
        self._limit = limit
        self._counts = counts
        self.number = 0
        self._rest = b""
        self._position = 0
        self._slow_end = 0

    def __iter__(self) -> Iterator[_Line]:
        return self

    def __next__(self) -> _Line:
        limit = self._limit
        chunk = self._readline(limit + 2)
        if not chunk:
            raise StopIteration
        self.number += 1
        number = self.number
        self._counts.physical = number
        if chunk.endswith(b"\n") or len(chunk) <= limit:
            body = chunk.rstrip(b"\n").removesuffix(b"\r")
            complete = len(body) <= limit
        else:
            while (rest := self._readline(_DRAIN_BYTES)) and not rest.endswith(b"\n"):
                pass
            body, complete = chunk[:PREVIEW_BYTES], False
        if number == 1:
            body = body.removeprefix(BOM)
        return _Line(number, body, complete)

    def _readline(self, size: int) -> bytes:
        rest, start = self._rest, self._position
        if start >= len(rest):
            return self._stream.readline(size)
        end = rest.find(b"\n", start, start + size)
        if end >= 0:
            self._position = end + 1
            return rest[start : end + 1]
        if len(rest) - start >= size:
            self._position = start + size
            return rest[start : start + size]
        self._rest, self._position, self._slow_end = b"", 0, 0
        head = rest[start:]
        return head + self._stream.readline(size - len(head))

    @property
    def rereading(self) -> bool:
        """Whether lines given back with `unread` are still being read one by one."""
        return self._position < self._slow_end

    def block(self) -> bytes | None:
        """Whole lines (each with its line break) from here, about `BLOCK_BYTES` of them; None at
        the end of the file or when no line ends within the block. Line numbers move on only when
        the caller takes the block with `take`."""
        data = self._rest[self._position :] + self._stream.read(BLOCK_BYTES)
        end = data.rfind(b"\n") + 1
        if end == 0:
            self._rest, self._position, self._slow_end = data, 0, 0
            return None
        self._rest, self._position, self._slow_end = data[end:], 0, 0
        return data[:end]

    def take(self, lines: int) -> int:
        """Count the lines of a block as read; returns the number of its first line."""
        first = self.number + 1
        self.number += lines
        self._counts.physical = self.number
        return first

    def unread(self, block: bytes) -> None:
        self._rest = block + self._rest[self._position :]
        self._position, self._slow_end = 0, len(block)


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
    lines: tuple[_Line, ...] = ()


# A record whose quoted field spans more physical lines than this is not a record: its first line
# is rejected and reading resumes on the next line, so an unclosed quote costs one row.
MAX_RECORD_LINES = 1000
_QUOTE = b'"'
_QUOTE_BYTE = 0x22


def _in_quotes_after(body: bytes, in_quotes: bool) -> bool:
    """Whether a quoted field is still open at the end of `body`, given whether one was open at its
    start. As RFC 4180 (section 2, rules 5-7: https://www.rfc-editor.org/rfc/rfc4180#section-2)
    and Python's csv reader have it, a quote opens a quoted field only as the first character of a
    field; elsewhere (`5'11"`) it is an ordinary character. Inside a quoted field `""` is a quote."""
    if _QUOTE not in body:
        return in_quotes
    size = len(body)
    position = 0
    field_start = not in_quotes
    while True:
        if in_quotes:
            found = body.find(_QUOTE, position)
            if found < 0:
                return True
            if found + 1 < size and body[found + 1] == _QUOTE_BYTE:
                position = found + 2
                continue
            in_quotes, field_start, position = False, False, found + 1
            continue
        if field_start and position < size and body[position] == _QUOTE_BYTE:
            in_quotes, position = True, position + 1
            continue
        comma = body.find(b",", position)
        if comma < 0:
            return False
        position, field_start = comma + 1, True


class _CsvRecords:
    """Physical lines joined into CSV records: a record ends at a line break outside a quoted field.

    A record that spans several lines is only a candidate: when it runs past `MAX_RECORD_LINES`
    lines or `limit` bytes, reaches the end of the file with its quote open, or does not parse,
    `split_back` rejects its first line alone and the lines after it are read again as records of
    their own. So a stray or unclosed quote costs the row it is on, and every other physical line
    still ends up in the output or in the errors object.
    """

    def __init__(self, lines: Iterator[_Line], limit: int, counts: LineCounts) -> None:
        self._lines = lines
        self._limit = limit
        self._counts = counts
        self._pending: deque[_Line] = deque()
        self._row = 0

    def __iter__(self) -> Iterator[_Raw | RowError]:
        return self

    @property
    def pending(self) -> bool:
        """Whether lines given back by `split_back` wait to be read again."""
        return bool(self._pending)

    def take(self, rows: int) -> int:
        """Count rows read elsewhere (the fast path); returns the number of the first."""
        first = self._row + 1
        self._row += rows
        return first

    def _next_line(self) -> _Line | None:
        if self._pending:
            return self._pending.popleft()
        return next(self._lines, None)

    def __next__(self) -> _Raw | RowError:
        limit = self._limit
        while True:
            first = self._next_line()
            if first is None:
                raise StopIteration
            if first.complete and not first.body.strip():
                self._counts.blank += 1
                continue
            break
        self._row += 1
        if not first.complete:
            return _too_long(self._row, first.number, first.body, limit)
        if not _in_quotes_after(first.body, False):
            return _Raw(self._row, first.number, first.body)
        parts = [first]
        size = len(first.body)
        while True:
            line = self._next_line()
            if line is None:
                if len(parts) == 1:
                    reason = "quoted field is not closed"
                    return RowError(self._row, first.number, "MalformedCsv", reason, _preview(first.body))
                return self.split_back(parts, "its quoted field is not closed before the end of the file")
            parts.append(line)
            size += len(line.body) + 1
            if not line.complete or size > limit or len(parts) > MAX_RECORD_LINES:
                bound = f"{MAX_RECORD_LINES} lines or {limit} bytes"
                return self.split_back(parts, f"its quoted field is not closed within {bound}")
            if not _in_quotes_after(line.body, True):
                self._counts.continuation += len(parts) - 1
                body = b"\n".join(part.body for part in parts)
                return _Raw(self._row, first.number, body, tuple(parts))

    def split_back(
        self, parts: list[_Line] | tuple[_Line, ...], reason: str, *, accepted: bool = False
    ) -> RowError:
        """Reject the first line of a multi-line candidate and read the others again."""
        if accepted:
            self._counts.continuation -= len(parts) - 1
        self._pending.extendleft(reversed(parts[1:]))
        first = parts[0]
        text = f"a quoted field opens on this line, and the record from here on {reason}"
        return RowError(self._row, first.number, "MalformedCsv", text, _preview(first.body))


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


class RecordBlock:
    """Many CSV rows at once, each the same as the `Record` the line-by-line reader would make.

    Only lines without quotes, carriage returns (other than CRLF line ends) or NUL characters,
    of the file's width and valid UTF-8, go into a block, so each row's fields are its text split
    at commas. Rows and lines are kept as lists, so blocks can be cut and joined for batching.
    """

    __slots__ = ("layout", "lines", "rows", "texts")

    def __init__(self, layout: CsvLayout, rows: list[int], lines: list[int], texts: list[str]) -> None:
        self.layout = layout
        self.rows = rows
        self.lines = lines
        self.texts = texts

    def __len__(self) -> int:
        return len(self.texts)

    @overload
    def __getitem__(self, index: int) -> Record: ...

    @overload
    def __getitem__(self, index: slice) -> RecordBlock: ...

    def __getitem__(self, index: int | slice) -> Record | RecordBlock:
        if isinstance(index, slice):
            return RecordBlock(self.layout, self.rows[index], self.lines[index], self.texts[index])
        layout = self.layout
        text = self.texts[index]
        fields = text.split(",")
        row_id = fields[layout.id] if layout.id is not None else None
        features: list[Scalar] = [fields[position] for position in layout.features]
        return Record(self.rows[index], self.lines[index], text, features, row_id)

    def __iter__(self) -> Iterator[Record]:
        return (self[index] for index in range(len(self.texts)))

    def __add__(self, other: RecordBlock) -> RecordBlock:
        return RecordBlock(
            self.layout, self.rows + other.rows, self.lines + other.lines, self.texts + other.texts
        )

    def features_csv(self) -> str:
        """The rows' features as CSV lines, exactly as `csv.writer` writes the `Record` features:
        no field needs quoting, and a lone empty field is written `""`."""
        layout = self.layout
        width = layout.width
        if len(layout.features) == 1:
            position = layout.features[0]
            cells = [text.split(",")[position] or '""' for text in self.texts]
            return "\n".join(cells) + "\n"
        texts = self.texts
        if layout.features == tuple(index for index in range(width) if index != layout.id):
            if layout.id is None:
                return "\n".join(texts) + "\n"
            if layout.id == 0:
                rest = map(itemgetter(2), map(methodcaller("partition", ","), texts))
                return "\n".join(rest) + "\n"
            if layout.id == width - 1:
                rest = map(itemgetter(0), map(methodcaller("rpartition", ","), texts))
                return "\n".join(rest) + "\n"
        pick = itemgetter(*layout.features)
        return "\n".join(map(",".join, map(pick, map(methodcaller("split", ","), texts)))) + "\n"


Item = Record | RowError | RecordBlock


class CsvReader:
    """Reads a CSV file; `layout` is known once the header (or, without one, the first row) is read."""

    def __init__(self, stream: BinaryIO, columns: Columns, *, header: bool, limit: int) -> None:
        self.counts = LineCounts()
        self._reader = _LineReader(stream, limit, self.counts)
        self._records = _CsvRecords(self._reader, limit, self.counts)
        self._limit = limit
        self._field_limit = csv.field_size_limit()
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
        self.counts.header = 1 + len(first.lines[1:])
        self.counts.continuation -= len(first.lines[1:])
        text = _decode(first)
        if isinstance(text, RowError):
            raise FileRejected(f"header line: {text.reason}")
        header = _parse_csv(text)
        if isinstance(header, str):
            raise FileRejected(f"header line: {header}")
        self.layout = _layout(self._columns, header, len(header))

    def __iter__(self) -> Iterator[Item]:
        rows_before = 1 if self._has_header else 0
        records, reader = self._records, self._reader
        while True:
            if self.layout is not None and not records.pending and not reader.rereading:
                block = reader.block()
                if block is not None:
                    fast = self._block(block, rows_before)
                    if fast is not None:
                        yield fast
                        continue
                    reader.unread(block)
            raw = next(records, None)
            if raw is None:
                return
            if isinstance(raw, RowError):
                yield RowError(raw.row - rows_before, raw.line, raw.code, raw.reason, raw.original)
                continue
            row = raw.row - rows_before
            item = self._record(row, raw)
            if isinstance(item, RowError) and raw.lines:
                # A multi-line candidate that is not a good record: only its first line is rejected.
                error = self._records.split_back(
                    raw.lines, f"is not a valid row ({item.reason})", accepted=True
                )
                yield RowError(row, error.line, error.code, error.reason, error.original)
                continue
            yield item

    def _block(self, block: bytes, rows_before: int) -> RecordBlock | None:
        """The block's rows when every line in it is a plain row of the file's width; None
        when any line needs the line-by-line reader (quotes, blank lines, bad bytes...)."""
        layout = self.layout
        if layout is None or layout.width < 2 or b'"' in block or b"\0" in block:
            return None
        if b"\r" in block:
            if block.count(b"\r") != block.count(b"\r\n"):
                return None
            block = block.replace(b"\r\n", b"\n")
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            return None
        texts = text.split("\n")
        texts.pop()
        count = len(texts)
        # Lines within the byte limit (a character is at most 4 bytes) and the csv module's
        # field size limit, which the line-by-line reader would refuse otherwise.
        longest = max(map(len, texts))
        cap = self._limit if text.isascii() else self._limit // 4
        if longest > cap or longest > self._field_limit:
            return None
        commas = layout.width - 1
        if text.count(",") != commas * count:
            return None
        if list(map(str.count, texts, repeat(","))).count(commas) != count:
            return None
        row = self._records.take(count) - rows_before
        line = self._reader.take(count)
        return RecordBlock(layout, list(range(row, row + count)), list(range(line, line + count)), texts)

    def _record(self, row: int, raw: _Raw) -> Item:
        text = _decode(raw)
        if isinstance(text, RowError):
            return RowError(row, raw.line, text.code, text.reason, text.original)
        fields = _parse_csv(text)
        if isinstance(fields, str):
            return RowError(row, raw.line, "MalformedCsv", fields, text)
        if self.layout is None:
            self.layout = _layout(self._columns, None, len(fields))
            if any(index >= len(fields) for index in (*self.layout.features, self.layout.id or 0)):
                raise FileRejected(f"the first row has {len(fields)} fields, fewer than the columns named")
        layout = self.layout
        if len(fields) != layout.width:
            reason = f"expected {layout.width} fields, found {len(fields)}"
            return RowError(row, raw.line, "WrongFieldCount", reason, text)
        features: list[Scalar] = [fields[index] for index in layout.features]
        row_id = fields[layout.id] if layout.id is not None else None
        return Record(row, raw.line, text, features, row_id)


def json_lines(stream: BinaryIO, columns: Columns, *, limit: int, counts: LineCounts) -> Iterator[Item]:
    """One JSON object a line; the model reads the configured keys, or every key but the id."""
    row = 0
    for line in _LineReader(stream, limit, counts):
        if line.complete and not line.body.strip():
            counts.blank += 1
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
    except (RecursionError, ValueError) as exc:
        # Nesting deeper than the interpreter's recursion limit, or an integer longer than its
        # digit limit (sys.get_int_max_str_digits): input no model can be sent, not a crash.
        return RowError(
            row, line, "MalformedJson", f"not usable JSON: {type(exc).__name__}", _preview(text.encode())
        )
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
