"""The last step for an input file: remove or archive it after success, quarantine it after failure.

A move is a copy followed by a delete of the source, and the delete only runs after the
copy succeeded, so a failure at any point leaves the input in at least one place. The
copy is conditional on the ETag that was processed: if the file was replaced in the
meantime, the new version stays where it is for its own event to handle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlgw.actuals.settings import ActualsSettings


@dataclass(frozen=True, slots=True)
class InputFile:
    bucket: str
    key: str
    relative_key: str
    etag: str | None


def failed_key(settings: ActualsSettings, relative_key: str) -> str:
    return settings.failed_prefix + relative_key


def processed_key(settings: ActualsSettings, relative_key: str) -> str:
    return settings.processed_prefix + relative_key


def report_key(object_key: str) -> str:
    return object_key + ".report.json"


def move(s3: Any, source: InputFile, destination_key: str) -> None:
    extra = {"CopySourceIfMatch": source.etag} if source.etag else {}
    s3.copy_object(
        Bucket=source.bucket,
        Key=destination_key,
        CopySource={"Bucket": source.bucket, "Key": source.key},
        MetadataDirective="COPY",
        **extra,
    )
    s3.delete_object(Bucket=source.bucket, Key=source.key)


def put_report(s3: Any, bucket: str, key: str, report: dict[str, Any]) -> None:
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=json.dumps(report, indent=2, ensure_ascii=False).encode(),
        ContentType="application/json",
    )


def quarantine(s3: Any, settings: ActualsSettings, source: InputFile, report: dict[str, Any]) -> str:
    """Move the input to the failed prefix with its report beside it; returns the new key.

    The report is written first: if the move then fails, the input is still in place
    and the report says why it will be retried.
    """
    destination = failed_key(settings, source.relative_key)
    put_report(s3, source.bucket, report_key(destination), {**report, "failedKey": destination})
    move(s3, source, destination)
    return destination


def finish_success(s3: Any, settings: ActualsSettings, source: InputFile) -> str | None:
    """Delete or archive the input; returns the archive key when there is one."""
    if settings.on_success == "archive":
        destination = processed_key(settings, source.relative_key)
        move(s3, source, destination)
        return destination
    s3.delete_object(Bucket=source.bucket, Key=source.key)
    return None
