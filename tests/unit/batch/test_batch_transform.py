"""The Batch Transform path against moto: which files take it, the rows staged server side without
the header, the CreateTransformJob request, and the job's completion writing the output with the
header where the streaming path writes it.

moto 5 models CreateTransformJob and DescribeTransformJob (every job it creates is at once
`Completed`, and it writes no output) and UploadPartCopy with CopySourceRange (it does not check
CopySourceIfMatch). The tests write the job's output as SageMaker does: `<input file name>.out`
under the job's S3OutputPath, each input row followed by the model's CSV answer
(https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformOutput.html,
https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_DataProcessing.html).
"""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest
from batch_helpers import BUCKET, INPUT, OUTPUT, Harness, csv_rows, expected, load_event, notification
from botocore.stub import Stubber

from mlgw.batch import transform
from mlgw.batch.records import FileRejected
from mlgw.batch.transform import job_name
from mlgw.pipeline.events import S3Object

MIB = 1024 * 1024
STAGING = "batch/staging/"
CSV_ROUTE = {
    "default": {
        "backend": "sagemaker",
        "endpoint_name": "churn-prod",
        "content_type": "text/csv",
        "accept": "text/csv",
    }
}
TRANSFORM_ENV: dict[str, Any] = {
    "route": CSV_ROUTE["default"],
    "staging_prefix": STAGING,
    "transform": {
        "model_name": "churn-model-3f2a",
        "min_bytes": 1000,
        "instance_type": "ml.c5.2xlarge",
        "instance_count": 2,
        "job_name_prefix": "churn-batch",
    },
}


def sagemaker() -> Any:
    return boto3.client("sagemaker", region_name="us-east-1")


def header_csv(count: int, *, pad: int = 0) -> str:
    padding = "," + "p" * pad if pad else ""
    columns = "id,x,y" + (",pad" if pad else "")
    return columns + "\n" + "".join(f"{row}{padding}\n" for row in csv_rows(count))


def simulate_job_output(harness: Harness, name: str, file_name: str) -> str:
    """What a Completed job leaves: the staged rows, each joined with the model's answer (x + y)."""
    staged = harness.text(f"{STAGING}in/{name}/{file_name}")
    lines = []
    for line in staged.splitlines():
        fields = line.split(",")
        lines.append(f"{line},{round(float(fields[1]) + float(fields[2]), 6)}\n")
    body = "".join(lines)
    harness.put(f"{STAGING}out/{name}/{file_name}.out", body)
    return body


def job_event(name: str, status: str = "Completed") -> dict[str, Any]:
    event = load_event("eventbridge_sagemaker_transform_job_state_change.json")
    event["detail"]["TransformJobName"] = name
    event["detail"]["TransformJobStatus"] = status
    return event


def staging_keys(harness: Harness) -> list[str]:
    listed = harness.s3.list_objects_v2(Bucket=BUCKET, Prefix=STAGING)
    return sorted(item["Key"] for item in listed.get("Contents", []))


def test_a_large_header_csv_is_staged_without_its_header_and_its_output_assembled_with_it(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a ~12 MiB CSV with a header, Batch Transform from 1,000 bytes, and 5 MiB copy parts
    monkeypatch.setattr(transform, "COPY_PART_BYTES", 5 * MIB)
    harness.configure(**TRANSFORM_ENV)
    text = header_csv(150_000, pad=60)
    key = f"{INPUT}2024/06/big scores.csv"
    etag = harness.put(key, text)
    assert len(text) > 12 * MIB
    name = job_name("churn-batch", BUCKET, key, etag, None)

    # When its S3 event arrives
    started = harness.run(notification(key))["results"][0]

    # Then the rows after the header were copied, server side, into the job's staging folder
    assert started["status"] == "transform-started"
    assert started["output_key"] == f"{OUTPUT}2024/06/big scores.csv"
    staged = harness.text(f"{STAGING}in/{name}/big scores.csv")
    assert staged == text[text.index("\n") + 1 :]
    assert harness.model.calls == []
    # And the job reads that folder by line, leaves the id column out, and joins answers to rows
    job = sagemaker().describe_transform_job(TransformJobName=name)
    assert job["ModelName"] == "churn-model-3f2a"
    assert job["TransformInput"] == {
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{STAGING}in/{name}/"}
        },
        "ContentType": "text/csv",
        "SplitType": "Line",
        "CompressionType": "None",
    }
    assert job["TransformOutput"] == {
        "S3OutputPath": f"s3://{BUCKET}/{STAGING}out/{name}",
        "AssembleWith": "Line",
        "Accept": "text/csv",
    }
    assert job["DataProcessing"] == {"JoinSource": "Input", "InputFilter": "$[1:]"}
    assert job["TransformResources"] == {"InstanceType": "ml.c5.2xlarge", "InstanceCount": 2}
    report = harness.report("2024/06/big scores.csv")
    assert report["status"] == "transform-started"
    # The job splits the staged rows at every line break and counts none of them: the report says
    # the row count is unknown rather than 0
    assert report["rows"] is None
    assert "line break" in report["rowsUnknown"]

    # When the job completes and SageMaker's state change arrives
    body = simulate_job_output(harness, name, "big scores.csv")
    finished = harness.run(job_event(name))["results"][0]

    # Then the output sits where streaming writes it: the header with the prediction column, then
    # every row with its prediction, and it is marked as this version's completed output
    assert finished["status"] == "transform-completed"
    result = harness.text(f"{OUTPUT}2024/06/big scores.csv")
    assert result == "id,x,y,pad,prediction\n" + body
    rows = result.splitlines()
    assert len(rows) == 150_001
    assert rows[1] == f"id-1,1,0.5,{'p' * 60},{expected(1)}"
    assert harness.metadata(f"{OUTPUT}2024/06/big scores.csv") == {
        "source-etag": etag,
        "source-version-id": "",
        "model-route": "default",
        "transform-job": name,
    }
    report = harness.report("2024/06/big scores.csv")
    assert (report["status"], report["transformJobName"], report["inputFilter"]) == (
        "completed",
        name,
        "$[1:]",
    )
    assert report["rows"] is None
    assert "line break" in report["rowsUnknown"]
    # And nothing is left in staging
    assert staging_keys(harness) == []

    # A repeated state change, and a repeated S3 event for the same version, do nothing
    assert harness.run(job_event(name))["results"][0]["status"] == "duplicate"
    assert harness.run(notification(key))["results"][0]["status"] == "duplicate"
    assert harness.model.calls == []


def test_a_small_file_the_time_left_cannot_cover_is_staged_and_assembled_in_one_piece(
    harness: Harness,
) -> None:
    # Given a small file (S3 copies ranges only from sources over 5 MB), 1 byte/s and 60 s left
    harness.configure(**TRANSFORM_ENV)
    harness.configure(stream_bytes_per_second=1, transform={"min_bytes": 100000000})
    harness.configure(feature_columns=["x", "y"])
    key = f"{INPUT}small.csv"
    etag = harness.put(key, header_csv(5))
    name = job_name("churn-batch", BUCKET, key, etag, None)
    harness.context.remaining_ms = 60_000

    assert harness.run(notification(key))["results"][0]["status"] == "transform-started"
    assert harness.text(f"{STAGING}in/{name}/small.csv") == "".join(f"{row}\n" for row in csv_rows(5))

    simulate_job_output(harness, name, "small.csv")
    harness.context.remaining_ms = 900_000
    assert harness.run(job_event(name))["results"][0]["status"] == "transform-completed"
    assert harness.output_rows("small.csv") == ["id,x,y,prediction"] + [
        f"{row},{expected(index)}" for index, row in enumerate(csv_rows(5), start=1)
    ]


def test_a_failed_job_is_reported_and_fails_the_invocation_so_the_event_reaches_the_failure_queue(
    harness: Harness,
) -> None:
    harness.configure(**TRANSFORM_ENV)
    key = f"{INPUT}big.csv"
    etag = harness.put(key, header_csv(100))
    name = job_name("churn-batch", BUCKET, key, etag, None)
    assert harness.run(notification(key))["results"][0]["status"] == "transform-started"

    handler = harness.handler()
    client = handler.runtime().completion._sagemaker
    with Stubber(client) as stub:
        stub.add_response(
            "describe_transform_job",
            {
                "TransformJobName": name,
                "TransformJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:transform-job/{name}",
                "TransformJobStatus": "Failed",
                "FailureReason": "ClientError: model answered 500 for a mini-batch",
                "ModelName": "churn-model-3f2a",
                "TransformInput": {
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/p/"}}
                },
                "TransformResources": {"InstanceType": "ml.m5.xlarge", "InstanceCount": 1},
                "CreationTime": "2025-03-12T11:40:00Z",
            },
            {"TransformJobName": name},
        )
        with pytest.raises(handler.BatchPredictionError, match="transform job"):
            handler.lambda_handler(job_event(name, "Failed"), harness.context)

    report = harness.report("big.csv")
    assert report["status"] == "failed"
    assert report["reason"] == "Failed: ClientError: model answered 500 for a mini-batch"
    assert not harness.exists(f"{OUTPUT}big.csv")
    # The staged rows are gone; the job record stays, so Lambda's retries fail as well
    assert staging_keys(harness) == [f"{STAGING}jobs/{name}.json"]


def test_an_input_replaced_while_its_job_ran_does_not_overwrite_the_newer_output(harness: Harness) -> None:
    harness.configure(**TRANSFORM_ENV)
    key = f"{INPUT}big.csv"
    etag = harness.put(key, header_csv(100))
    name = job_name("churn-batch", BUCKET, key, etag, None)
    harness.run(notification(key))
    simulate_job_output(harness, name, "big.csv")
    harness.put(key, header_csv(120))

    assert harness.run(job_event(name))["results"][0]["status"] == "superseded"
    assert not harness.exists(f"{OUTPUT}big.csv")
    assert staging_keys(harness) == []


def test_a_duplicate_event_finds_its_job_and_stages_nothing(harness: Harness) -> None:
    harness.configure(**TRANSFORM_ENV)
    key = f"{INPUT}big.csv"
    etag = harness.put(key, header_csv(100))
    name = job_name("churn-batch", BUCKET, key, etag, None)
    assert harness.run(notification(key))["results"][0]["status"] == "transform-started"
    harness.s3.delete_object(Bucket=BUCKET, Key=f"{STAGING}in/{name}/big.csv")

    assert harness.run(notification(key))["results"][0]["status"] == "transform-exists"
    assert not harness.exists(f"{STAGING}in/{name}/big.csv")


def test_a_job_record_the_function_may_not_read_fails_the_event_instead_of_passing_as_a_duplicate(
    harness: Harness,
) -> None:
    # Given a started job whose record then cannot be read: S3 answers 403 to a GET the role may
    # not make. The function may list the bucket, so a missing record is a 404, never a 403
    # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html, Permissions).
    harness.configure(**TRANSFORM_ENV)
    key = f"{INPUT}big.csv"
    etag = harness.put(key, header_csv(100))
    name = job_name("churn-batch", BUCKET, key, etag, None)
    assert harness.run(notification(key))["results"][0]["status"] == "transform-started"
    handler = harness.handler()
    client = handler.runtime().completion._s3
    with Stubber(client) as stub:
        stub.add_client_error("get_object", "AccessDenied", "Access Denied", 403)
        # Then the invocation fails, so Lambda retries it and the event reaches the failure queue
        with pytest.raises(handler.BatchPredictionError):
            handler.lambda_handler(job_event(name), harness.context)
    assert harness.exists(f"{STAGING}jobs/{name}.json")


def set_job_status(name: str, status: str) -> None:
    """moto completes every job at once; a failed or stopped one is set in its backend's store."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sagemaker.models import sagemaker_backends

    sagemaker_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].transform_jobs[name].transform_job_status = status


@pytest.mark.parametrize("ended", ["Failed", "Stopped"])
def test_uploading_a_file_again_after_its_job_failed_starts_a_new_job(harness: Harness, ended: str) -> None:
    # Given a file whose job ended without output. Job names are unique for good and a job cannot
    # be deleted (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html),
    # so the same name can never run again.
    harness.configure(**TRANSFORM_ENV)
    key = f"{INPUT}big.csv"
    etag = harness.put(key, header_csv(100))
    first = job_name("churn-batch", BUCKET, key, etag, None)
    assert harness.run(notification(key))["results"][0]["status"] == "transform-started"
    set_job_status(first, ended)

    # When the same content is uploaded again (same ETag, no version id)
    harness.put(key, header_csv(100))
    started = harness.run(notification(key))["results"][0]

    # Then a new attempt runs, under a name of the same prefix that SageMaker accepts
    second = started["detail"]["transformJobName"]
    assert started["status"] == "transform-started"
    assert second != first
    assert second.startswith("churn-batch-")
    assert len(second) <= 63
    assert sagemaker().describe_transform_job(TransformJobName=second)["TransformJobStatus"] == "Completed"
    # And a duplicate event for it finds that attempt, running or done, and starts nothing
    assert harness.run(notification(key))["results"][0] == {**started, "status": "transform-exists"}


def test_a_version_whose_jobs_keep_failing_is_rejected_after_the_last_attempt(harness: Harness) -> None:
    harness.configure(**TRANSFORM_ENV)
    key = f"{INPUT}big.csv"
    harness.put(key, header_csv(100))
    names = []
    for _ in range(transform.MAX_JOB_ATTEMPTS):
        started = harness.run(notification(key))["results"][0]
        assert started["status"] == "transform-started"
        names.append(started["detail"]["transformJobName"])
        set_job_status(names[-1], "Failed")
    assert len(set(names)) == transform.MAX_JOB_ATTEMPTS
    assert all(len(name) <= 63 for name in names)

    assert harness.run(notification(key))["results"][0]["status"] == "rejected"
    # TransformJobName's pattern and length in botocore's SageMaker model
    assert all(re.fullmatch(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}", name) for name in names)
    longest = job_name("p" * 46, BUCKET, key, "etag", None, attempt=transform.MAX_JOB_ATTEMPTS)
    assert len(longest) == 63

    reason = harness.report("big.csv")["reason"]
    assert "failed or were stopped" in reason
    assert names[-1] in reason


def test_headerless_csv_selects_the_feature_positions(harness: Harness) -> None:
    harness.configure(**TRANSFORM_ENV)
    harness.configure(csv_header=False, id_column="1", feature_columns=["2", "3"])
    key = f"{INPUT}plain.csv"
    body = "".join(f"{row}\n" for row in csv_rows(100))
    etag = harness.put(key, body)
    name = job_name("churn-batch", BUCKET, key, etag, None)

    assert harness.run(notification(key))["results"][0]["status"] == "transform-started"
    assert harness.text(f"{STAGING}in/{name}/plain.csv") == body
    assert sagemaker().describe_transform_job(TransformJobName=name)["DataProcessing"] == {
        "JoinSource": "Input",
        "InputFilter": "$[1,2]",
    }
    simulate_job_output(harness, name, "plain.csv")
    harness.run(job_event(name))
    assert harness.output_rows("plain.csv")[0] == f"id-1,1,0.5,{expected(1)}"


@pytest.mark.parametrize(
    ("env", "text", "reason"),
    [
        (
            {"route": {**CSV_ROUTE["default"], "accept": "application/json"}},
            header_csv(100),
            "must read and answer text/csv",
        ),
        ({"id_column": "customer"}, header_csv(100), "header lacks column(s) customer"),
        ({"feature_columns": ["y", "x"]}, header_csv(100), "in the order the file has them"),
        ({"transform": {"min_bytes": 1}}, "id,x,y\n", "a header line and no data rows"),
        ({}, '"id\nx",y\n' + header_csv(100), "quoted field with a line break"),
    ],
)
def test_a_file_the_transform_path_cannot_take_is_rejected_with_the_reason(
    harness: Harness, env: dict[str, Any], text: str, reason: str
) -> None:
    harness.configure(**TRANSFORM_ENV)
    harness.configure(**env)
    harness.put(f"{INPUT}big.csv", text)

    outcome = harness.predictor(sagemaker()).process(
        S3Object(BUCKET, f"{INPUT}big.csv"), harness.invocation()
    )

    assert outcome.status == "rejected"
    report = harness.report("big.csv")
    assert report["status"] == "rejected"
    assert reason in report["reason"]
    assert report["reason"].startswith("Batch Transform: ")
    assert staging_keys(harness) == []
    assert harness.model.calls == []


def test_a_job_event_for_another_prefix_is_refused(harness: Harness) -> None:
    harness.configure(**TRANSFORM_ENV)
    assert harness.run(job_event("someone-else-0123456789abcdef"))["results"][0]["status"] == "refused"


def test_staging_objects_never_trigger_the_pipeline(harness: Harness) -> None:
    harness.configure(**TRANSFORM_ENV)
    harness.put(f"{STAGING}in/x/big.csv", header_csv(5))
    outcome = harness.predictor(sagemaker()).process(
        S3Object(BUCKET, f"{STAGING}in/x/big.csv"), harness.invocation()
    )
    assert outcome.status == "refused"
    assert "MLGW_SETTINGS.staging_prefix" in outcome.detail["reason"]


@pytest.mark.parametrize(
    ("positions", "width", "expression"),
    [
        ((1, 2), 3, "$[1:]"),
        ((0, 1, 2), 3, None),
        ((1, 2), None, "$[1,2]"),
        ((0, 2, 3, 4), 5, "$[0,2:]"),
        ((0, 2, 3), 5, "$[0,2,3]"),
    ],
)
def test_the_input_filter_uses_the_documented_forms(
    positions: tuple[int, ...], width: int | None, expression: str | None
) -> None:
    assert transform._input_filter(positions, width) == expression


def test_an_input_filter_over_63_characters_is_refused() -> None:
    with pytest.raises(FileRejected, match="63 characters"):
        transform._input_filter(tuple(range(0, 60, 2)), 60)


def test_copy_ranges_respect_s3_part_limits() -> None:
    # Every part but the last is one size, at least 5 MiB, and there are at most 10,000
    ranges = transform.byte_ranges(7, 7 + 12 * MIB, 5 * MIB)
    assert ranges == [(7, 7 + 5 * MIB - 1), (7 + 5 * MIB, 7 + 10 * MIB - 1), (7 + 10 * MIB, 7 + 12 * MIB - 1)]
    huge = 10 * 1024**4
    many = transform.byte_ranges(0, huge, 5 * MIB)
    assert len(many) <= 10_000
    assert many[-1][1] == huge - 1
    assert all(last - first + 1 <= 5 * 1024 * MIB for first, last in many)
    with pytest.raises(FileRejected, match="5 GiB"):
        transform.byte_ranges(0, 10_000 * 5 * 1024 * MIB + 1, 5 * MIB)


def test_the_event_fixture_is_a_transform_job_state_change() -> None:
    from mlgw.batch.completion import is_transform_event

    assert is_transform_event(load_event("eventbridge_sagemaker_transform_job_state_change.json"))
    assert not is_transform_event(load_event("eventbridge_batch_object_created.json"))
