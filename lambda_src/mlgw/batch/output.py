"""Output objects: streamed to S3 in parts, and the rows written into them.

An output can be larger than the function's memory, so it is sent as a multipart upload part by
part; only an output that fits in one part goes up as a single PutObject. S3 fixes an object's
metadata when the upload starts, before the row count is known, so a multipart output gets its
final metadata by a server-side copy onto itself once it is complete. The idempotency check
therefore counts an output as finished only when it carries the row count.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

from mlgw.batch.records import CsvLayout, Record

META_SOURCE_ETAG = "source-etag"
META_SOURCE_VERSION = "source-version-id"
META_ROUTE = "model-route"
META_ROWS = "rows"
META_ERROR_ROWS = "error-rows"


class S3ObjectWriter:
    """Bytes in, one S3 object out. Not thread-safe: the pipeline writes from one thread."""

    def __init__(
        self,
        s3: Any,
        bucket: str,
        key: str,
        *,
        part_bytes: int,
        content_type: str,
        metadata: Mapping[str, str],
    ) -> None:
        self._s3 = s3
        self.bucket = bucket
        self.key = key
        self._part_bytes = part_bytes
        self._content_type = content_type
        self._metadata = dict(metadata)
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self.size = 0

    def write(self, data: bytes) -> None:
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) >= self._part_bytes:
            self._send_part()

    def close(self, metadata: Mapping[str, str] | None = None) -> None:
        """Finish the object, with `metadata` added to what was given at the start."""
        final = {**self._metadata, **(metadata or {})}
        if self._upload_id is None:
            self._s3.put_object(
                Bucket=self.bucket,
                Key=self.key,
                Body=self._buffer,
                ContentType=self._content_type,
                Metadata=final,
            )
            self._buffer = bytearray()
            return
        if self._buffer:
            self._send_part()
        self._s3.complete_multipart_upload(
            Bucket=self.bucket,
            Key=self.key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )
        self._upload_id = None
        if final != self._metadata:
            self._s3.copy_object(
                Bucket=self.bucket,
                Key=self.key,
                CopySource={"Bucket": self.bucket, "Key": self.key},
                MetadataDirective="REPLACE",
                ContentType=self._content_type,
                Metadata=final,
            )

    def abort(self) -> None:
        """Drop the parts sent so far; an unfinished upload would otherwise be billed until a
        lifecycle rule removes it."""
        if self._upload_id is not None:
            self._s3.abort_multipart_upload(Bucket=self.bucket, Key=self.key, UploadId=self._upload_id)
            self._upload_id = None
        self._buffer = bytearray()

    def _send_part(self) -> None:
        if self._upload_id is None:
            created = self._s3.create_multipart_upload(
                Bucket=self.bucket, Key=self.key, ContentType=self._content_type, Metadata=self._metadata
            )
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        # The full buffer is handed over as it is and replaced, not copied: a copy would double
        # the part's memory for the duration of the upload.
        body, self._buffer = self._buffer, bytearray()
        sent = self._s3.upload_part(
            Bucket=self.bucket, Key=self.key, UploadId=self._upload_id, PartNumber=number, Body=body
        )
        self._parts.append({"ETag": sent["ETag"], "PartNumber": number})


class PredictionShape(ValueError):
    """A prediction does not fit the configured prediction columns."""


def _csv_text(fields: Sequence[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def prediction_cells(prediction: Any, columns: Sequence[str]) -> list[str]:
    """One cell per prediction column: a scalar (or anything, JSON-encoded) for a single column;
    a list of that length, or an object with those keys, for several."""
    if len(columns) == 1:
        if isinstance(prediction, list) and len(prediction) == 1:
            prediction = prediction[0]
        return [_cell(prediction)]
    if isinstance(prediction, list) and len(prediction) == len(columns):
        return [_cell(value) for value in prediction]
    if isinstance(prediction, dict) and all(name in prediction for name in columns):
        return [_cell(prediction[name]) for name in columns]
    raise PredictionShape(
        f"prediction does not fit the {len(columns)} prediction columns {', '.join(columns)}"
    )


def csv_header(layout: CsvLayout | None, columns: Sequence[str]) -> bytes:
    """The input's header followed by the prediction columns; nothing for headerless files."""
    if layout is None or layout.header is None:
        return b""
    return (_csv_text([*layout.header, *columns]) + "\n").encode("utf-8")


def csv_row(record: Record, prediction: Any, columns: Sequence[str]) -> bytes:
    """The row exactly as it was written in the input, then the prediction cells."""
    return f"{record.text},{_csv_text(prediction_cells(prediction, columns))}\n".encode()


def csv_rows(
    texts: Sequence[str], predictions: Sequence[Any], columns: Sequence[str]
) -> tuple[bytes, list[tuple[int, Exception]]]:
    """`csv_row` for many rows at once, joined; a row whose prediction cannot be written is left
    out and returned, by its index, with the reason."""
    if not texts:
        return b"", []
    cells = _plain_cells(predictions) if len(columns) == 1 else None
    if cells is not None:
        return ("\n".join(map(",".join, zip(texts, cells, strict=True))) + "\n").encode("utf-8"), []
    lines: list[bytes] = []
    failed: list[tuple[int, Exception]] = []
    for index, (text, prediction) in enumerate(zip(texts, predictions, strict=True)):
        try:
            lines.append(f"{text},{_csv_text(prediction_cells(prediction, columns))}\n".encode())
        except (PredictionShape, RecursionError, ValueError) as exc:
            failed.append((index, exc))
    return b"".join(lines), failed


_NEEDS_CARE = (",", '"', "\r", "\n")


def _plain_cells(predictions: Sequence[Any]) -> Sequence[str] | None:
    """The single-column cells of predictions that are all finite numbers, or all plain
    strings and integers (numbers kept as the model wrote them are strings), exactly as `_cell`
    and `_csv_text` write them; None for anything else."""
    kinds = set(map(type, predictions))
    try:
        if kinds <= {int, float}:
            if float in kinds and not all(map(math.isfinite, predictions)):
                return None
            # json.dumps writes a finite float with float.__repr__ and an int as int.__repr__.
            return list(map(repr, predictions))
        if str in kinds and kinds <= {int, str}:
            cells = list(map(str, predictions)) if int in kinds else predictions
            joined = "".join(cells)
            joined.encode("utf-8")
            if "" in cells or any(mark in joined for mark in _NEEDS_CARE):
                return None
            return cells
    except (ValueError, OverflowError):
        # An integer beyond the digit limit, or text with lone surrogates: row by row instead.
        return None
    return None


def json_line(document: Mapping[str, Any]) -> bytes:
    return (json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def jsonl_row(record: Record, prediction: Any) -> bytes:
    """The input record with a `prediction` key (replacing one the record may already have)."""
    return json_line({**(record.document or {}), "prediction": prediction})
