"""SageMaker Batch Transform for files too large to stream within one invocation.

Starting a job (on the file's S3 event), without reading the file through the function:

1. For CSV with a header, a ranged GET of the first bytes finds the header line and, in it, the
   columns the model reads.
2. The bytes after the header are copied server side (UploadPartCopy with byte ranges) into a
   staging object `<staging>in/<job>/<file name>`, so the job sees rows only. Other files are
   copied whole, so every job reads only the staging prefix.
3. A job record `<staging>jobs/<job>.json` keeps what completion needs: the source version, the
   output header and the keys.
4. CreateTransformJob reads the job's staging folder, splits it by line, leaves the id column out
   of what the model reads (InputFilter), appends each prediction to its input row
   (JoinSource=Input) and writes under `<staging>out/<job>/`.

Completion (`mlgw.batch.completion`, on the job's EventBridge state change) writes the output
where the streaming path writes it: the header plus the prediction columns, then the job's
output, copied server side.

The job name is derived from the object's bucket, key, ETag and version, so a duplicate event for
the same version finds its job and starts nothing. A job name is unique in the account and region
for good, and SageMaker has no call that deletes a job (CreateTransformJob:
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html), so when the
version's job failed or was stopped, a new event (the file uploaded again, or a redrive) starts
the next attempt under a name with an attempt suffix, up to MAX_JOB_ATTEMPTS.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from botocore.exceptions import ClientError

from mlgw.batch import output
from mlgw.batch.records import CSV_FORMAT, CsvReader, FileRejected
from mlgw.batch.settings import BatchSettings, TransformSettings
from mlgw.pipeline.multipart import (  # noqa: F401 - CopyDeadline is part of this module's interface
    MAX_PART_BYTES,
    MAX_PARTS,
    MIB,
    MIN_PART_BYTES,
    CopyDeadline,
    copy_ranges,
)
from mlgw.pipeline.text import byte_stream

# Parts copied server side: large, so that few calls copy a big file; raised when a file would
# need more than 10,000 of them.
COPY_PART_BYTES = 512 * MIB
# InputFilter is a JSONPath of at most 63 characters
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataProcessing.html).
MAX_FILTER_CHARS = 63
CONTENT_TYPES = {CSV_FORMAT: "text/csv", "jsonl": "application/jsonlines"}
CSV_TYPE = "text/csv"
# Marks an output assembled from a transform job; the streaming path marks its own with a row count.
META_TRANSFORM_JOB = "transform-job"
# Jobs one version of a file may run: the first, then one more each time the last failed or was
# stopped. TransformJobStatus values: InProgress, Completed, Failed, Stopping, Stopped
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DescribeTransformJob.html).
MAX_JOB_ATTEMPTS = 9
# What the reports of the transform path say instead of a row count. SplitType=Line splits the
# input at every line break
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformInput.html), and the
# function never reads the rows, so it cannot count them or tell a quoted line break apart.
ROWS_UNKNOWN = (
    "Batch Transform reports no row count: it splits the file at every line break, so a quoted "
    "field holding a line break becomes two records; stream files whose fields hold line breaks"
)
ENDED_WITHOUT_OUTPUT = frozenset({"Failed", "Stopped"})


class SourceChanged(Exception):
    """The input was replaced or deleted while the job was being prepared."""


@dataclass(frozen=True, slots=True)
class TransformJob:
    name: str
    output_key: str
    created: bool
    staged_key: str | None = None


@dataclass(frozen=True, slots=True)
class Source:
    bucket: str
    key: str
    relative_key: str
    etag: str
    version_id: str | None
    size: int
    input_format: str


def job_name(
    prefix: str, bucket: str, key: str, etag: str, version_id: str | None, *, attempt: int = 1
) -> str:
    """`<prefix>-<16 hex>` for the first attempt, `<prefix>-<13 hex>-r<n>` for attempt n: 17
    characters after the prefix either way, so a prefix of at most 46 keeps every name within
    SageMaker's 63 characters, letters, digits and hyphens (TransformJobName in
    https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html)."""
    digest = hashlib.sha256("\0".join((bucket, key, etag, version_id or "")).encode()).hexdigest()
    if attempt == 1:
        return f"{prefix}-{digest[:16]}"
    return f"{prefix}-{digest[:13]}-r{attempt}"


def staged_key(settings: BatchSettings, name: str, key: str) -> str:
    return f"{settings.staging_prefix}in/{name}/{PurePosixPath(key).name}"


def job_output_prefix(settings: BatchSettings, name: str) -> str:
    return f"{settings.staging_prefix}out/{name}/"


def record_key(settings: BatchSettings, name: str) -> str:
    return f"{settings.staging_prefix}jobs/{name}.json"


def start_job(
    sagemaker: Any,
    s3: Any,
    settings: BatchSettings,
    source: Source,
    *,
    output_key: str,
    report_key: str,
    request_id: str,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
) -> TransformJob:
    """Stage the rows, record the job and create it; `created` is false when it already existed.

    Raises FileRejected for a file the transform path cannot take (the report says why),
    SourceChanged when the input changed meanwhile, CopyDeadline when time ran out.
    """
    transform = settings.transform
    assert transform is not None
    _check_route(settings, source.input_format)
    name = _next_job_name(sagemaker, transform.job_name_prefix, source)
    if name is None:
        last = job_name(
            transform.job_name_prefix,
            source.bucket,
            source.key,
            source.etag,
            source.version_id,
            attempt=MAX_JOB_ATTEMPTS,
        )
        raise FileRejected(
            f"all {MAX_JOB_ATTEMPTS} jobs of this version failed or were stopped (the last, {last}: "
            "DescribeTransformJob gives its FailureReason); fix the cause and upload a changed file"
        )
    if isinstance(name, _Existing):
        return TransformJob(name.name, output_key, created=False)
    header, out_header, positions = _layout(s3, settings, source)
    processing: dict[str, str] = {"JoinSource": "Input"}
    if positions is not None:
        processing["InputFilter"] = positions
    staged = staged_key(settings, name, source.key)
    stage_rows(
        s3,
        source,
        start=len(header),
        destination=staged,
        content_type=CONTENT_TYPES[source.input_format],
        deadline=deadline,
        clock=clock,
    )
    record = {
        "jobName": name,
        "bucket": source.bucket,
        "key": source.key,
        "relativeKey": source.relative_key,
        "etag": source.etag,
        "versionId": source.version_id,
        "format": source.input_format,
        "route": settings.route.name,
        "outputHeader": out_header.decode("utf-8"),
        "outputKey": output_key,
        "reportKey": report_key,
        "stagedKey": staged,
        "jobOutputPrefix": job_output_prefix(settings, name),
        "inputFilter": processing.get("InputFilter"),
        "requestId": request_id,
    }
    s3.put_object(
        Bucket=source.bucket,
        Key=record_key(settings, name),
        Body=json.dumps(record).encode("utf-8"),
        ContentType="application/json",
    )
    request = _request(
        transform,
        name=name,
        input_uri=f"s3://{source.bucket}/{staged.rsplit('/', 1)[0]}/",
        output_uri=f"s3://{source.bucket}/{job_output_prefix(settings, name).rstrip('/')}",
        content_type=CONTENT_TYPES[source.input_format],
        accept=settings.route.accept,
        processing=processing,
    )
    try:
        sagemaker.create_transform_job(**request)
    except ClientError as exc:
        if not _already_exists(exc):
            raise
        return TransformJob(name, output_key, created=False, staged_key=staged)
    return TransformJob(name, output_key, created=True, staged_key=staged)


def _check_route(settings: BatchSettings, input_format: str) -> None:
    """The job sends rows as they are written and appends each answer to its row, so a CSV file
    needs a model that reads CSV and answers one CSV line per row: the join of CSV input writes
    the input row followed by the transformed row
    (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataProcessing.html)."""
    route = settings.route
    if input_format == CSV_FORMAT and (route.content_type != CSV_TYPE or route.accept != CSV_TYPE):
        raise FileRejected(
            f"Batch Transform sends CSV rows as they are and joins each answer to its row: route "
            f"{route.name!r} must read and answer text/csv (content_type {route.content_type!r}, "
            f"accept {route.accept!r}); stream smaller files or use a CSV route"
        )


def _layout(s3: Any, settings: BatchSettings, source: Source) -> tuple[bytes, bytes, str | None]:
    """The header line as written, the output's header line, and the input filter."""
    if source.input_format != CSV_FORMAT:
        return b"", b"", None
    if not settings.csv_header:
        features = settings.csv_columns.features
        positions = tuple(int(index) for index in features) if features else None
        return b"", b"", _input_filter(positions, None)
    header = read_header_line(s3, source, limit=settings.max_record_bytes)
    reader = CsvReader(
        byte_stream(iter([header])), settings.csv_columns, header=True, limit=settings.max_record_bytes
    )
    reader.read_header()
    layout = reader.layout
    if layout is None:
        raise FileRejected("the header line is empty")
    return (
        header,
        output.csv_header(layout, settings.prediction_columns),
        _input_filter(layout.features, layout.width),
    )


def read_header_line(s3: Any, source: Source, *, limit: int) -> bytes:
    """The first line, line break included, from a ranged GET of at most `limit` bytes."""
    try:
        response = s3.get_object(
            Bucket=source.bucket,
            Key=source.key,
            IfMatch=source.etag,
            Range=f"bytes=0-{min(source.size, limit) - 1}",
        )
    except ClientError as exc:
        if error_code(exc) in {"PreconditionFailed", "412", "NoSuchKey"}:
            raise SourceChanged from None
        raise
    head = bytes(response["Body"].read())
    end = head.find(b"\n")
    if end < 0:
        if source.size <= limit:
            raise FileRejected("the file holds a header line and no data rows")
        raise FileRejected(f"no header line within the first {limit} bytes (MLGW_SETTINGS.max_record_bytes)")
    line = head[: end + 1]
    if line.count(b'"') % 2:
        raise FileRejected(
            "the header line has a quoted field with a line break: Batch Transform splits the "
            "file at every line break, so the header cannot be told apart from the rows"
        )
    if end + 1 >= source.size:
        raise FileRejected("the file holds a header line and no data rows")
    return line


def _input_filter(positions: Sequence[int] | None, width: int | None) -> str | None:
    """A JSONPath selecting the model's columns: indices, and `n:` for a run that ends the row,
    the forms SageMaker's examples use ("$[1:]", "$[0,5:]")
    (https://docs.aws.amazon.com/sagemaker/latest/dg/batch-transform-data-processing.html).
    Columns out of file order are refused: a filter that reorders columns is not documented."""
    if positions is None or (width is not None and tuple(positions) == tuple(range(width))):
        return None
    if list(positions) != sorted(set(positions)):
        raise FileRejected(
            "Batch Transform selects the model's columns in file order: list the feature columns "
            "in the order the file has them, or stream the file"
        )
    parts: list[str] = []
    index = 0
    while index < len(positions):
        run_end = index
        while run_end + 1 < len(positions) and positions[run_end + 1] == positions[run_end] + 1:
            run_end += 1
        if width is not None and positions[run_end] == width - 1 and run_end > index:
            parts.append(f"{positions[index]}:")
        else:
            parts.extend(str(position) for position in positions[index : run_end + 1])
        index = run_end + 1
    expression = "$[" + ",".join(parts) + "]"
    if len(expression) > MAX_FILTER_CHARS:
        raise FileRejected(
            f"the input filter that selects the feature columns ({expression}) is longer than the "
            f"{MAX_FILTER_CHARS} characters SageMaker accepts: put the feature columns next to each "
            "other at the end of the row, or stream the file"
        )
    return expression


def stage_rows(
    s3: Any,
    source: Source,
    *,
    start: int,
    destination: str,
    content_type: str,
    deadline: float,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Copy bytes `start`.. of the source to `destination`, server side.

    S3 copies a byte range only from a source larger than 5 MB
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html, CopySourceRange),
    so a source of at most 5 MiB is read and written instead: at most 5 MiB through the function.
    """
    if source.size <= MIN_PART_BYTES:
        try:
            body = s3.get_object(
                Bucket=source.bucket,
                Key=source.key,
                IfMatch=source.etag,
                Range=f"bytes={start}-{source.size - 1}",
            )["Body"].read()
        except ClientError as exc:
            if error_code(exc) in {"PreconditionFailed", "412", "NoSuchKey"}:
                raise SourceChanged from None
            raise
        s3.put_object(Bucket=source.bucket, Key=destination, Body=body, ContentType=content_type)
        return
    try:
        copy_ranges(
            s3,
            bucket=source.bucket,
            key=destination,
            source={"Bucket": source.bucket, "Key": source.key},
            source_etag=source.etag,
            ranges=byte_ranges(start, source.size, COPY_PART_BYTES),
            content_type=content_type,
            metadata={},
            deadline=deadline,
            clock=clock,
        )
    except ClientError as exc:
        if error_code(exc) in {"PreconditionFailed", "412", "NoSuchKey"}:
            raise SourceChanged from None
        raise


def byte_ranges(
    start: int, end: int, part_bytes: int, *, max_parts: int = MAX_PARTS
) -> list[tuple[int, int]]:
    """Inclusive ranges covering [start, end): all of one size (at least 5 MiB) but the last."""
    length = end - start
    size = max(part_bytes, MIN_PART_BYTES, math.ceil(length / max_parts))
    if size > MAX_PART_BYTES:
        raise FileRejected(
            f"{length} bytes need parts larger than S3's 5 GiB to be copied in {max_parts} parts"
        )
    return [(offset, min(offset + size, end) - 1) for offset in range(start, end, size)]


@dataclass(frozen=True, slots=True)
class _Existing:
    """A job of this version that is running or completed: a duplicate event starts nothing."""

    name: str


def _next_job_name(sagemaker: Any, prefix: str, source: Source) -> str | _Existing | None:
    """The name of the attempt to create, the attempt that is running or done, or None when every
    attempt ended without output."""
    for attempt in range(1, MAX_JOB_ATTEMPTS + 1):
        name = job_name(prefix, source.bucket, source.key, source.etag, source.version_id, attempt=attempt)
        status = _job_status(sagemaker, name)
        if status is None:
            return name
        if status not in ENDED_WITHOUT_OUTPUT:
            return _Existing(name)
    return None


def _job_status(sagemaker: Any, name: str) -> str | None:
    """DescribeTransformJob answers a ValidationException for a job that does not exist."""
    try:
        described = sagemaker.describe_transform_job(TransformJobName=name)
    except ClientError as exc:
        error = exc.response.get("Error", {})
        if error.get("Code") in {"ValidationException", "ResourceNotFound"}:
            return None
        raise
    return str(described.get("TransformJobStatus", ""))


def _request(
    transform: TransformSettings,
    *,
    name: str,
    input_uri: str,
    output_uri: str,
    content_type: str,
    accept: str,
    processing: dict[str, str],
) -> dict[str, Any]:
    result: dict[str, Any] = {"S3OutputPath": output_uri, "AssembleWith": "Line", "Accept": accept}
    if transform.kms_key_id:
        result["KmsKeyId"] = transform.kms_key_id
    return {
        "TransformJobName": name,
        "ModelName": transform.model_name,
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": transform.max_payload_mb,
        # The job's folder holds the one staged object, so a prefix names exactly that object.
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}},
            "ContentType": content_type,
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": result,
        "TransformResources": {
            "InstanceType": transform.instance_type,
            "InstanceCount": transform.instance_count,
        },
        "DataProcessing": processing,
    }


def _already_exists(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    if error.get("Code") == "ResourceInUse":
        return True
    message = str(error.get("Message", "")).lower()
    return error.get("Code") == "ValidationException" and ("already exists" in message or "unique" in message)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
