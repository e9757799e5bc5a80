"""Finishing a Batch Transform job: its output written where the streaming path writes, with the
header, and its staging objects removed.

SageMaker sends a "SageMaker Transform Job State Change" event to EventBridge
(https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html), and
may send several for one change, so finishing is idempotent: the job record is deleted last, and
an event for a job without a record is a duplicate. The status is read with DescribeTransformJob
rather than taken from the event.

SageMaker writes `<input file name>.out` under the job's output path, and uploads it only when the
whole file succeeded
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformOutput.html); every job
has its own output folder, so the one `.out` object under it is the job's result.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mlgw.batch import output, transform
from mlgw.batch.pipeline import CONTENT_TYPES, BatchFailed, Outcome
from mlgw.batch.settings import BatchSettings
from mlgw.pipeline.objects import Invocation, put_report

DETAIL_TYPE = "SageMaker Transform Job State Change"
FINISHED = frozenset({"Completed", "Failed", "Stopped"})


def is_transform_event(event: Mapping[str, Any]) -> bool:
    return event.get("source") == "aws.sagemaker" and event.get("detail-type") == DETAIL_TYPE


@dataclass(frozen=True, slots=True)
class _Job:
    name: str
    record: dict[str, Any]
    description: dict[str, Any]


class TransformCompletion:
    def __init__(
        self,
        settings: BatchSettings,
        s3: Any,
        sagemaker: Any,
        logger: Any,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._s3 = s3
        self._sagemaker = sagemaker
        self._log = logger
        self._clock = clock

    def finish(self, event: Mapping[str, Any], invocation: Invocation) -> Outcome:
        """Raises BatchFailed when the job failed or was stopped (so the event reaches the failure
        queue after Lambda's retries), and for failures a retry may cure."""
        name = str(event.get("detail", {}).get("TransformJobName", ""))
        transform_settings = self._settings.transform
        if transform_settings is None or not name.startswith(transform_settings.job_name_prefix + "-"):
            self._log.error("transform job event refused", extra={"job": name})
            return Outcome(name, "refused", detail={"reason": "not a job of this function"})
        record = self._record(name)
        if record is None:
            self._log.info("transform job already finished", extra={"job": name})
            return Outcome(name, "duplicate", detail={"transformJobName": name})
        description = dict(self._sagemaker.describe_transform_job(TransformJobName=name))
        status = str(description.get("TransformJobStatus"))
        job = _Job(name, record, description)
        if status not in FINISHED:
            return Outcome(record["key"], "transform-running", detail={"transformJobName": name})
        if status != "Completed":
            return self._failed(
                job, invocation, f"{status}: {description.get('FailureReason', 'no reason given')}"
            )
        if self._superseded(record):
            self._cleanup(job)
            self._log.warning(
                "input replaced while its job ran; its newer version has its own run", extra={"job": name}
            )
            return Outcome(record["key"], "superseded", detail={"transformJobName": name})
        result = self._result_key(job)
        if result is None:
            return self._failed(job, invocation, "the job completed without writing a .out object")
        self._assemble(job, result, invocation)
        self._cleanup(job)
        self._log.info("batch transform output written", extra={"job": name, "key": record["outputKey"]})
        return Outcome(
            record["key"],
            "transform-completed",
            output_key=record["outputKey"],
            detail={"transformJobName": name},
        )

    def _record(self, name: str) -> dict[str, Any] | None:
        try:
            body = self._s3.get_object(
                Bucket=self._settings.bucket, Key=transform.record_key(self._settings, name)
            )["Body"].read()
        except ClientError as exc:
            # Only a missing record means a finished job. The function may list the bucket, so S3
            # answers a missing key with 404; a 403 is a refusal, and must not pass as done
            # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, Permissions).
            if transform.error_code(exc) in {"NoSuchKey", "404"}:
                return None
            raise
        return dict(json.loads(body))

    def _superseded(self, record: Mapping[str, Any]) -> bool:
        """A newer version of the input started its own run; this older result must not replace
        that one's output. An input deleted since is not superseded: its result is still written."""
        try:
            head = self._s3.head_object(Bucket=record["bucket"], Key=record["key"])
        except ClientError as exc:
            if transform.error_code(exc) in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return str(head["ETag"]) != record["etag"]

    def _result_key(self, job: _Job) -> tuple[str, int] | None:
        listed = self._s3.list_objects_v2(Bucket=self._settings.bucket, Prefix=job.record["jobOutputPrefix"])
        results = [
            (item["Key"], int(item["Size"]))
            for item in listed.get("Contents", [])
            if item["Key"].endswith(".out")
        ]
        return results[0] if len(results) == 1 else None

    def _assemble(self, job: _Job, result: tuple[str, int], invocation: Invocation) -> None:
        """Header first, then the job's output: the first 5 MiB of it are read to make a first part
        of the size S3 requires, the rest is copied server side."""
        record = job.record
        key, size = result
        header = str(record["outputHeader"]).encode("utf-8")
        bucket = self._settings.bucket
        content_type = CONTENT_TYPES[record["format"]]
        metadata = {
            output.META_SOURCE_ETAG: record["etag"],
            output.META_SOURCE_VERSION: record.get("versionId") or "",
            output.META_ROUTE: record["route"],
            transform.META_TRANSFORM_JOB: job.name,
        }
        deadline = self._clock() + invocation.remaining_seconds() - self._settings.time_margin
        try:
            if size <= transform.MIN_PART_BYTES:
                body = self._s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                self._s3.put_object(
                    Bucket=bucket,
                    Key=record["outputKey"],
                    Body=header + body,
                    ContentType=content_type,
                    Metadata=metadata,
                )
            else:
                first = self._s3.get_object(
                    Bucket=bucket, Key=key, Range=f"bytes=0-{transform.MIN_PART_BYTES - 1}"
                )["Body"].read()
                transform.copy_ranges(
                    self._s3,
                    bucket=bucket,
                    key=record["outputKey"],
                    source={"Bucket": bucket, "Key": key},
                    source_etag=None,
                    ranges=transform.byte_ranges(
                        transform.MIN_PART_BYTES,
                        size,
                        transform.COPY_PART_BYTES,
                        max_parts=transform.MAX_PARTS - 1,
                    ),
                    content_type=content_type,
                    metadata=metadata,
                    deadline=deadline,
                    first_part=header + first,
                    clock=self._clock,
                )
        except (ClientError, BotoCoreError, transform.CopyDeadline) as exc:
            raise BatchFailed(
                f"{record['key']}: the output of {job.name} could not be written: {exc}"
            ) from exc
        put_report(
            self._s3,
            bucket,
            record["reportKey"],
            self._report(
                job, "completed", invocation, {"outputKey": record["outputKey"], "jobOutputBytes": size}
            ),
        )

    def _failed(self, job: _Job, invocation: Invocation, reason: str) -> Outcome:
        """The report says why; the staged rows go, the record stays (the lifecycle rule removes
        it), so Lambda's retries fail too and the event reaches the failure queue."""
        record = job.record
        put_report(
            self._s3,
            self._settings.bucket,
            record["reportKey"],
            self._report(job, "failed", invocation, {"reason": reason}),
        )
        self._delete(record["stagedKey"])
        self._log.error("batch transform job failed", extra={"job": job.name, "reason": reason})
        raise BatchFailed(f"{record['key']}: transform job {job.name} {reason}")

    def _cleanup(self, job: _Job) -> None:
        record = job.record
        listed = self._s3.list_objects_v2(Bucket=self._settings.bucket, Prefix=record["jobOutputPrefix"])
        for item in listed.get("Contents", []):
            self._delete(item["Key"])
        self._delete(record["stagedKey"])
        self._delete(transform.record_key(self._settings, job.name))

    def _delete(self, key: str) -> None:
        """Best effort for staged data: the staging prefix's lifecycle rule removes what is left."""
        with contextlib.suppress(ClientError, BotoCoreError):
            self._s3.delete_object(Bucket=self._settings.bucket, Key=key)

    def _report(
        self, job: _Job, status: str, invocation: Invocation, extra: dict[str, Any]
    ) -> dict[str, Any]:
        record = job.record
        description = job.description
        return {
            "status": status,
            "bucket": record["bucket"],
            "key": record["key"],
            "etag": record["etag"],
            "versionId": record.get("versionId"),
            "format": record["format"],
            "route": record["route"],
            "rows": None,
            "rowsUnknown": transform.ROWS_UNKNOWN,
            "transformJobName": job.name,
            "transformJobStatus": description.get("TransformJobStatus"),
            "inputFilter": record.get("inputFilter"),
            "requestId": invocation.request_id,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            **extra,
        }
