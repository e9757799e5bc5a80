"""SageMaker Batch Transform for files too large to stream within one invocation.

The job reads the one input object through a manifest (an `S3Prefix` data source would also pick
up every other key that merely starts with the same name), splits it by line, sends
MultiRecord mini-batches to the model and joins each prediction to its input record, under the
output prefix. The job runs as the model's execution role, which therefore needs read access to
the input and the manifest and write access to the output prefix.

The job name is derived from the object's bucket, key, ETag and version, so a duplicate event
for the same version finds its job already created and starts nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from botocore.exceptions import ClientError

from mlgw.batch.records import CSV_FORMAT
from mlgw.batch.settings import BatchSettings, TransformSettings

CONTENT_TYPES = {CSV_FORMAT: "text/csv", "jsonl": "application/jsonlines"}


@dataclass(frozen=True, slots=True)
class TransformJob:
    name: str
    manifest_key: str
    output_key: str
    created: bool


def job_name(prefix: str, bucket: str, key: str, etag: str, version_id: str | None) -> str:
    digest = hashlib.sha256("\0".join((bucket, key, etag, version_id or "")).encode()).hexdigest()
    return f"{prefix}-{digest[:16]}"


def manifest_key(settings: BatchSettings, relative_key: str) -> str:
    return f"{settings.output_prefix}{relative_key}.manifest.json"


def transform_output_key(settings: BatchSettings, relative_key: str) -> str:
    """Where Batch Transform writes: the input's file name plus `.out`, in the mirrored folder."""
    return f"{settings.output_prefix}{relative_key}.out"


def start_job(
    sagemaker: Any,
    s3: Any,
    settings: BatchSettings,
    *,
    bucket: str,
    key: str,
    relative_key: str,
    etag: str,
    version_id: str | None,
    input_format: str,
    feature_positions: tuple[int, ...] | None,
) -> TransformJob:
    """Write the manifest and create the job; `created` is false when it already existed."""
    transform = settings.transform
    assert transform is not None
    name = job_name(transform.job_name_prefix, bucket, key, etag, version_id)
    manifest = manifest_key(settings, relative_key)
    folder = str(PurePosixPath(key).parent)
    entries = [{"prefix": f"s3://{bucket}/{folder}/"}, PurePosixPath(key).name]
    s3.put_object(
        Bucket=bucket,
        Key=manifest,
        Body=json.dumps(entries).encode("utf-8"),
        ContentType="application/json",
    )
    parent = str(PurePosixPath(relative_key).parent)
    output_folder = settings.output_prefix + ("" if parent == "." else f"{parent}/")
    request = _request(
        transform,
        name=name,
        manifest_uri=f"s3://{bucket}/{manifest}",
        output_uri=f"s3://{bucket}/{output_folder.rstrip('/')}",
        content_type=CONTENT_TYPES[input_format],
        accept=settings.route.accept,
        feature_positions=feature_positions,
    )
    try:
        sagemaker.create_transform_job(**request)
    except ClientError as exc:
        if not _already_exists(exc):
            raise
        return TransformJob(name, manifest, transform_output_key(settings, relative_key), created=False)
    return TransformJob(name, manifest, transform_output_key(settings, relative_key), created=True)


def _request(
    transform: TransformSettings,
    *,
    name: str,
    manifest_uri: str,
    output_uri: str,
    content_type: str,
    accept: str,
    feature_positions: tuple[int, ...] | None,
) -> dict[str, Any]:
    output: dict[str, Any] = {"S3OutputPath": output_uri, "AssembleWith": "Line", "Accept": accept}
    if transform.kms_key_id:
        output["KmsKeyId"] = transform.kms_key_id
    processing: dict[str, str] = {"JoinSource": "Input"}
    if feature_positions is not None:
        processing["InputFilter"] = "$[" + ",".join(str(index) for index in feature_positions) + "]"
    return {
        "TransformJobName": name,
        "ModelName": transform.model_name,
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": transform.max_payload_mb,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": manifest_uri}},
            "ContentType": content_type,
            "SplitType": "Line",
            "CompressionType": "None",
        },
        "TransformOutput": output,
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
