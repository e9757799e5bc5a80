"""The Batch Transform path: which files take it, and the CreateTransformJob request it sends."""

from __future__ import annotations

import json

import boto3
from batch_helpers import BUCKET, INPUT, OUTPUT, Harness, csv_rows
from botocore.stub import Stubber

from mlgw.batch.transform import job_name
from mlgw.s3events import S3Object

TRANSFORM_ENV = {
    "BATCH_TRANSFORM_MODEL_NAME": "churn-model-3f2a",
    "BATCH_TRANSFORM_MIN_BYTES": "1000",
    "BATCH_TRANSFORM_INSTANCE_TYPE": "ml.c5.2xlarge",
    "BATCH_TRANSFORM_INSTANCE_COUNT": "2",
    "BATCH_TRANSFORM_JOB_PREFIX": "churn-batch",
    "BATCH_CSV_HEADER": "false",
    "BATCH_ID_COLUMN": "1",
    "BATCH_FEATURE_COLUMNS": "2,3",
}


def sagemaker() -> object:
    return boto3.client("sagemaker", region_name="us-east-1")


def headerless(count: int) -> str:
    return "\n".join(csv_rows(count)) + "\n"


def test_a_file_above_the_size_threshold_starts_a_transform_job(harness: Harness) -> None:
    # Given a 2 KB headerless CSV and a 1,000-byte threshold
    harness.configure(**TRANSFORM_ENV)
    key = f"{INPUT}2024/06/big scores.csv"
    etag = harness.put(key, headerless(100))
    client = sagemaker()
    name = job_name("churn-batch", BUCKET, key, etag, None)
    manifest = f"{OUTPUT}2024/06/big scores.csv.manifest.json"

    with Stubber(client) as stub:
        stub.add_response(
            "create_transform_job",
            {"TransformJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{name}"},
            expected_params={
                "TransformJobName": name,
                "ModelName": "churn-model-3f2a",
                "BatchStrategy": "MultiRecord",
                "MaxPayloadInMB": 6,
                "TransformInput": {
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": f"s3://{BUCKET}/{manifest}"}
                    },
                    "ContentType": "text/csv",
                    "SplitType": "Line",
                    "CompressionType": "None",
                },
                "TransformOutput": {
                    "S3OutputPath": f"s3://{BUCKET}/{OUTPUT}2024/06",
                    "AssembleWith": "Line",
                    "Accept": "application/json",
                },
                "TransformResources": {"InstanceType": "ml.c5.2xlarge", "InstanceCount": 2},
                "DataProcessing": {"JoinSource": "Input", "InputFilter": "$[1,2]"},
            },
        )
        outcome = harness.predictor(client).process(S3Object(BUCKET, key), harness.invocation())
        stub.assert_no_pending_responses()

    # Then the job reads exactly this object through its manifest, and no row was streamed
    assert outcome.status == "transform-started"
    assert outcome.output_key == f"{OUTPUT}2024/06/big scores.csv.out"
    assert json.loads(harness.get(manifest)) == [
        {"prefix": f"s3://{BUCKET}/{INPUT}2024/06/"},
        "big scores.csv",
    ]
    assert harness.model.calls == []
    report = harness.report("2024/06/big scores.csv")
    assert (report["status"], report["transformJobName"]) == ("transform-started", name)


def test_a_duplicate_event_finds_its_job_and_starts_nothing(harness: Harness) -> None:
    harness.configure(**TRANSFORM_ENV)
    key = f"{INPUT}big.csv"
    harness.put(key, headerless(100))
    client = sagemaker()

    with Stubber(client) as stub:
        stub.add_client_error(
            "create_transform_job", service_error_code="ResourceInUse", service_message="Job already exists"
        )
        outcome = harness.predictor(client).process(S3Object(BUCKET, key), harness.invocation())

    assert outcome.status == "transform-exists"
    assert harness.model.calls == []


def test_a_file_the_remaining_time_cannot_cover_goes_to_transform(harness: Harness) -> None:
    # Given a small file, but an estimated 1 byte/s and 60 s left (30 s of them the margin)
    harness.configure(**TRANSFORM_ENV)
    harness.configure(BATCH_TRANSFORM_MIN_BYTES="100000000", BATCH_STREAM_BYTES_PER_SECOND="1")
    harness.put(f"{INPUT}small.csv", headerless(5))
    client = sagemaker()

    with Stubber(client) as stub:
        stub.add_response("create_transform_job", {"TransformJobArn": "arn:aws:sagemaker:::transform-job/x"})
        slow = harness.predictor(client).process(
            S3Object(BUCKET, f"{INPUT}small.csv"), harness.invocation(60)
        )
        # With the whole 900 s left, the same file is streamed
        harness.configure(BATCH_STREAM_BYTES_PER_SECOND="100")
        fast = harness.predictor(client).process(
            S3Object(BUCKET, f"{INPUT}small.csv"), harness.invocation(900)
        )

    assert slow.status == "transform-started"
    assert (fast.status, fast.rows) == ("predicted", 5)


def test_small_files_and_csv_with_a_header_are_streamed_even_when_transform_is_on(harness: Harness) -> None:
    harness.configure(**{**TRANSFORM_ENV, "BATCH_TRANSFORM_MIN_BYTES": "100000000"})
    harness.put(f"{INPUT}small.csv", headerless(5))
    client = sagemaker()

    with Stubber(client):
        small = harness.predictor(client).process(S3Object(BUCKET, f"{INPUT}small.csv"), harness.invocation())
        # Batch Transform cannot skip a header line, so a header CSV never takes that path
        harness.configure(**{**TRANSFORM_ENV, "BATCH_CSV_HEADER": "true", "BATCH_ID_COLUMN": "id"})
        harness.configure(BATCH_FEATURE_COLUMNS="x,y")
        harness.put(f"{INPUT}header.csv", "id,x,y\n" + headerless(100))
        header = harness.predictor(client).process(
            S3Object(BUCKET, f"{INPUT}header.csv"), harness.invocation()
        )

    assert (small.status, small.rows) == ("predicted", 5)
    assert (header.status, header.rows) == ("predicted", 100)
