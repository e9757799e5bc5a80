"""S3 bodies as streams: decoded as UTF-8 text, or buffered bytes for a reader that decodes
line by line, without ever joining the chunks, so memory stays flat however large the file.

Both pipelines read their inputs through here, and both report a byte that is not UTF-8 by
its exact physical line.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any, BinaryIO, TextIO, cast

READ_BUFFER_BYTES = 256 * 1024


class _ChunkReader(io.RawIOBase):
    """Presents an iterator of byte chunks (an S3 body) as a raw stream for ``io`` to buffer."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")
        self._fetched = 0
        self._fetched_newlines = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk)
            self._fetched += len(chunk)
            self._fetched_newlines += chunk.count(b"\n")
        size = min(len(target), len(self._pending))
        target[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size

    def tell(self) -> int:
        """Bytes handed out so far; lets the buffered reader above report its own position."""
        return self._fetched - len(self._pending)

    def newlines_handed_out(self) -> int:
        return self._fetched_newlines - bytes(self._pending).count(b"\n")


def text_stream(chunks: Iterable[bytes]) -> TextIO:
    """Decode UTF-8 (dropping a leading byte-order mark) without joining the chunks."""
    raw = io.BufferedReader(_ChunkReader(chunks), buffer_size=READ_BUFFER_BYTES)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def undecodable_line(text: TextIO, error: UnicodeDecodeError) -> int | None:
    """The physical line, from 1, of the first byte ``error`` refused in a ``text_stream``.

    The decoder raises on the bytes of its latest read (``error.object``, which ends where
    the text layer's reads end) with the offset of the bad byte in them. Every line break
    handed to the text layer, minus those from the bad byte on, comes before it. Lines end
    with LF or CRLF. None for any other stream.
    """
    buffer = getattr(text, "buffer", None)
    raw = getattr(buffer, "raw", None)
    if not isinstance(buffer, io.BufferedReader) or not isinstance(raw, _ChunkReader):
        return None
    unread = raw.tell() - buffer.tell()  # read from the chunks, not yet by the text layer
    held = buffer.peek(unread)[:unread] if unread > 0 else b""
    from_bad_byte = bytes(error.object[error.start :]).count(b"\n")
    return raw.newlines_handed_out() - held.count(b"\n") - from_bad_byte + 1


def byte_stream(chunks: Iterable[bytes]) -> BinaryIO:
    """The S3 body as a buffered binary stream, read in chunks and never joined: the buffered
    reader under `text_stream`, detached from its decoder, for a reader that decodes line by
    line so that bytes that are not UTF-8 spoil one row, not the file."""
    return cast(BinaryIO, text_stream(chunks).detach())
