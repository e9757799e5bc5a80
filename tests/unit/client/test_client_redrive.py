"""`mlgw redrive` against moto SQS and S3, with Lambda's Invoke API served two ways.

moto answers an asynchronous invoke (InvocationType=Event) with 202 without Docker when its
Lambda backend runs with `use_docker: False`, but that backend keeps no record of the payloads
and accepts any function name, so it can show neither what was invoked nor a refused invoke.
The tests that assert those use a local fake of the Invoke API: a real HTTP server on localhost
answering POST /2015-03-31/functions/{name}/invocations, with the Lambda client pointed at it
through endpoint_url. One end-to-end test runs the command line against moto's own Lambda.
"""

from __future__ import annotations

import copy
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from lambda_invoke_fake import FakeLambda, serve_fake_lambda
from moto import mock_aws

from mlgw_client.__main__ import main
from mlgw_client.redrive import FailedEvent, RedriveError, move_back, parse_record, redrive, target

ROOT = Path(__file__).resolve().parents[3]
EVENTS = ROOT / "tests" / "events"
REGION = "us-east-1"
BATCH_FN = "churn-batch-predict"
ACTUALS_FN = "churn-report-actuals"
BUCKET = "batch-bucket"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def s3_event(key: str, etag: str, bucket: str = BUCKET) -> dict[str, Any]:
    """A one-record S3 notification for `key` (URL-encoded as S3 sends it)."""
    event = load_event("s3_batch_object_created.json")
    record = copy.deepcopy(event["Records"][0])
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["object"].update({"key": key.replace(" ", "+"), "eTag": etag})
    return {"Records": [record]}


def invocation_record(payload: Any, function: str = BATCH_FN) -> str:
    """The body Lambda sends to an SQS on-failure destination, shaped like the documented
    example (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html)."""
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2025-03-12T11:42:07.000Z",
            "requestContext": {
                "requestId": "e4b46cbf-b738-4e8e-8880-a18cdf61200e",
                "functionArn": f"arn:aws:lambda:{REGION}:123456789012:function:{function}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
            },
            "requestPayload": payload,
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "responsePayload": {"errorType": "BatchPredictionError", "errorMessage": "1 object(s) failed"},
        }
    )


@pytest.fixture
def fake_lambda() -> Iterator[FakeLambda]:
    with serve_fake_lambda() as fake:
        yield fake


@dataclass
class Aws:
    sqs: Any
    s3: Any
    queue_url: str
    queue_arn: str

    def send(self, *bodies: str) -> None:
        for body in bodies:
            self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)

    def bodies(self) -> list[str]:
        """Every message now visible, without hiding any of them."""
        found: dict[str, str] = {}
        for _ in range(5):
            answer = self.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0
            )
            for message in answer.get("Messages", []):
                found[message["MessageId"]] = message["Body"]
        return sorted(found.values())


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        url = sqs.create_queue(QueueName=f"{BATCH_FN}-failures")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        yield Aws(sqs, s3, url, arn)


def lambda_client(fake: FakeLambda) -> Any:
    return boto3.client(
        "lambda",
        region_name=REGION,
        endpoint_url=fake.url,
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def put(aws: Aws, key: str) -> str:
    return str(aws.s3.put_object(Bucket=BUCKET, Key=key, Body=b"a,b\n1,2\n")["ETag"]).strip('"')


def run(aws: Aws, fake: FakeLambda, pipeline: str = "batch", **options: Any) -> tuple[Any, str]:
    function = BATCH_FN if pipeline == "batch" else ACTUALS_FN
    out = io.StringIO()
    outputs = {f"{pipeline}_failure_queue_arn": aws.queue_arn, f"{pipeline}_function_name": function}
    summary = redrive(
        target(outputs, pipeline), aws.sqs, lambda_client(fake), aws.s3, out, wait_seconds=0, **options
    )
    return summary, out.getvalue()


# --- reading the outputs and the records -------------------------------------------------------


def test_target_reads_the_terraform_outputs_and_takes_overrides() -> None:
    outputs = {
        "actuals_failure_queue_arn": "arn:aws:sqs:eu-west-1:123456789012:churn-report-actuals-failures",
        "actuals_function_name": "churn-report-actuals",
    }
    found = target(outputs, "actuals")
    assert (found.queue_arn, found.function, found.region) == (
        outputs["actuals_failure_queue_arn"],
        "churn-report-actuals",
        "eu-west-1",
    )
    override = target(
        outputs, "actuals", queue_url="https://sqs.eu-central-1.amazonaws.com/1/q", function="other"
    )
    assert (override.queue_url, override.queue_arn, override.function, override.region) == (
        "https://sqs.eu-central-1.amazonaws.com/1/q",
        None,
        "other",
        "eu-central-1",
    )


def test_target_names_the_missing_output() -> None:
    with pytest.raises(RedriveError, match=r"no batch_failure_queue_arn .*pass --queue-url"):
        target({"batch_function_name": BATCH_FN, "batch_failure_queue_arn": None}, "batch")
    with pytest.raises(RedriveError, match="no batch_function_name"):
        target({"batch_failure_queue_arn": "arn:aws:sqs:us-east-1:123456789012:q"}, "batch")


def test_record_yields_the_original_event_and_its_decoded_keys() -> None:
    payload = load_event("s3_batch_object_created.json")
    event = parse_record(invocation_record(payload))
    assert event.payload == payload
    assert (event.function, event.condition, event.attempts) == (BATCH_FN, "RetriesExhausted", 3)
    assert [obj.key for obj in event.objects] == [
        "batch/in/daily scores+v2 é.csv",
        "batch/in/2024/06/records.jsonl",
    ]
    assert event.error == "BatchPredictionError: 1 object(s) failed"
    bridge = parse_record(invocation_record(load_event("eventbridge_batch_object_created.json")))
    assert [(obj.bucket, obj.key) for obj in bridge.objects] == [(BUCKET, "batch/in/daily scores+v2 é.csv")]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("not json", "not JSON"),
        (json.dumps(load_event("s3_batch_object_created.json")), "no requestContext"),
        (json.dumps({"requestContext": {"condition": "RetriesExhausted"}}), "no requestPayload"),
        (invocation_record({"hello": "world"}), "not an S3, SageMaker or continuation event"),
    ],
)
def test_bodies_that_are_not_redrivable_records_say_why(body: str, problem: str) -> None:
    event = parse_record(body)
    assert isinstance(event, FailedEvent)
    assert event.problem is not None
    assert problem in event.problem


# --- re-driving ----------------------------------------------------------------------------------


def test_redrive_invokes_the_original_event_and_deletes_only_what_was_accepted(
    aws: Aws, fake_lambda: FakeLambda
) -> None:
    # Given: a failed event for an input that is still there, one for an input since deleted,
    # and a message that is no invocation record
    etag = put(aws, "batch/in/daily scores.csv")
    pending = s3_event("batch/in/daily scores.csv", etag)
    gone = s3_event("batch/in/deleted.csv", "0" * 32)
    stray = json.dumps({"note": "sent by hand"})
    aws.send(invocation_record(pending), invocation_record(gone), stray)

    # When
    summary, printed = run(aws, fake_lambda)

    # Then: only the pending event was invoked, asynchronously, with the original payload
    assert [(call.function, call.invocation_type, call.payload) for call in fake_lambda.received] == [
        (BATCH_FN, "Event", pending)
    ]
    assert summary.counts == {"invoked": 1, "skipped": 1, "kept": 1, "failed": 0}
    assert not summary.ok
    # the two handled messages are gone; the stray one is visible again at once
    assert aws.bodies() == [stray]
    assert (
        f"invoked      s3://{BUCKET}/batch/in/daily scores.csv (etag {etag}): failed RetriesExhausted x3"
        in printed
    )
    assert (
        f"skipped      s3://{BUCKET}/batch/in/deleted.csv (etag {'0' * 32}): the input no longer exists"
        in printed
    )
    assert "kept         message " in printed
    assert "1 invoked, 1 skipped, 1 kept, 0 failed" in printed


def test_dry_run_invokes_and_deletes_nothing(aws: Aws, fake_lambda: FakeLambda) -> None:
    etag = put(aws, "batch/in/a.csv")
    bodies = [
        invocation_record(s3_event("batch/in/a.csv", etag)),
        invocation_record(s3_event("batch/in/gone.csv", "1" * 32)),
    ]
    aws.send(*bodies)

    summary, printed = run(aws, fake_lambda, dry_run=True)

    assert fake_lambda.received == []
    assert aws.bodies() == sorted(bodies)  # still there, and visible again
    assert summary.counts == {"invoked": 1, "skipped": 1, "kept": 0, "failed": 0}
    assert "would invoke s3://batch-bucket/batch/in/a.csv" in printed
    assert "would skip   s3://batch-bucket/batch/in/gone.csv" in printed
    assert "1 would be invoked, 1 would be skipped" in printed


def test_a_refused_invoke_keeps_the_message(aws: Aws, fake_lambda: FakeLambda) -> None:
    etag = put(aws, "batch/in/a.csv")
    body = invocation_record(s3_event("batch/in/a.csv", etag))
    aws.send(body)
    fake_lambda.status = 429

    summary, printed = run(aws, fake_lambda)

    assert len(fake_lambda.received) == 1
    assert summary.counts["failed"] == 1
    assert not summary.ok
    assert aws.bodies() == [body]
    assert "failed       s3://batch-bucket/batch/in/a.csv" in printed
    assert "TooManyRequestsException" in printed
    assert "the message stays for the next run" in printed


def test_max_limits_the_messages_handled(aws: Aws, fake_lambda: FakeLambda) -> None:
    etag = put(aws, "batch/in/a.csv")
    aws.send(*(invocation_record(s3_event("batch/in/a.csv", etag)) for _ in range(13)))

    summary, _ = run(aws, fake_lambda, max_messages=12)

    assert summary.counts["invoked"] == 12
    assert len(fake_lambda.received) == 12
    assert len(aws.bodies()) == 1


def test_an_actuals_input_that_is_gone_is_still_invoked(aws: Aws, fake_lambda: FakeLambda) -> None:
    # The actuals handler's "gone" path also removes a leftover finished state object.
    payload = s3_event("actuals/dep1/moved.csv", "2" * 32)
    aws.send(invocation_record(payload, ACTUALS_FN))

    summary, printed = run(aws, fake_lambda, "actuals")

    assert [(call.function, call.payload) for call in fake_lambda.received] == [(ACTUALS_FN, payload)]
    assert summary.counts["invoked"] == 1
    assert "the input is no longer there" in printed
    assert aws.bodies() == []


def test_a_failed_continuation_event_is_invoked_again_as_it_is(aws: Aws, fake_lambda: FakeLambda) -> None:
    # Given the record of a hand-off's continuation that failed every attempt
    etag = put(aws, "actuals/dep1/big file.csv")
    body = {
        "version": 1,
        "bucket": BUCKET,
        "key": "actuals/dep1/big file.csv",
        "versionId": None,
        "etag": f'"{etag}"',
        "handoff": 3,
        "token": "req-0#3",
    }
    payload = {"mlgwContinuation": body}
    aws.send(
        invocation_record(payload, ACTUALS_FN),
        invocation_record({"mlgwContinuation": {"version": 9}}, ACTUALS_FN),
    )

    summary, printed = run(aws, fake_lambda, "actuals")

    # Then it is invoked unchanged (the handler takes it while its hand-off is the state's), named
    # by its object, and only an unknown version is kept
    assert [(call.function, call.payload) for call in fake_lambda.received] == [(ACTUALS_FN, payload)]
    assert summary.counts == {"invoked": 1, "skipped": 0, "kept": 1, "failed": 0}
    assert "s3://batch-bucket/actuals/dep1/big file.csv" in printed
    assert "continuation event of an unknown version" in printed


def test_a_newer_version_is_left_to_the_handler(aws: Aws, fake_lambda: FakeLambda) -> None:
    put(aws, "batch/in/a.csv")
    aws.send(invocation_record(s3_event("batch/in/a.csv", "3" * 32)))

    summary, printed = run(aws, fake_lambda)

    assert summary.counts["invoked"] == 1
    assert "a newer version exists" in printed


def test_transform_job_events(aws: Aws, fake_lambda: FakeLambda) -> None:
    completed = load_event("eventbridge_sagemaker_transform_job_state_change.json")
    failed = copy.deepcopy(completed)
    failed["detail"]["TransformJobStatus"] = "Failed"
    aws.send(invocation_record(completed), invocation_record(failed))

    summary, printed = run(aws, fake_lambda)

    assert [call.payload for call in fake_lambda.received] == [completed]
    assert summary.counts == {"invoked": 1, "skipped": 1, "kept": 0, "failed": 0}
    assert "skipped      transform job churn-batch-0123456789abcdef (Failed): the job ended Failed" in printed
    assert aws.bodies() == []


def test_a_record_of_another_function_is_kept(aws: Aws, fake_lambda: FakeLambda) -> None:
    body = invocation_record(s3_event("batch/in/a.csv", "4" * 32), "someone-else")
    aws.send(body)

    summary, printed = run(aws, fake_lambda)

    assert fake_lambda.received == []
    assert summary.counts["kept"] == 1
    assert f"a record of function someone-else, not {BATCH_FN}" in printed
    assert aws.bodies() == [body]


# --- the command line ------------------------------------------------------------------------------


def write_outputs(tmp_path: Path, values: dict[str, Any]) -> str:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({name: {"value": value, "type": "string"} for name, value in values.items()}))
    return str(path)


def test_command_line_against_moto_lambda(tmp_path: Path) -> None:
    with mock_aws(config={"lambda": {"use_docker": False}}):
        iam = boto3.client("iam", region_name=REGION)
        role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        boto3.client("lambda", region_name=REGION).create_function(
            FunctionName=BATCH_FN,
            Runtime="python3.12",
            Role=role,
            Handler="h.handler",
            Code={"ZipFile": b"zip"},
        )
        sqs = boto3.client("sqs", region_name=REGION)
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        etag = str(s3.put_object(Bucket=BUCKET, Key="batch/in/a.csv", Body=b"x")["ETag"]).strip('"')
        url = sqs.create_queue(QueueName="failures")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sqs.send_message(QueueUrl=url, MessageBody=invocation_record(s3_event("batch/in/a.csv", etag)))
        outputs = write_outputs(tmp_path, {"batch_failure_queue_arn": arn, "batch_function_name": BATCH_FN})
        out, err = io.StringIO(), io.StringIO()

        code = main(["redrive", "--queue", "batch", "--outputs", outputs], out, err)

        assert (code, err.getvalue()) == (0, "")
        assert "invoked      s3://batch-bucket/batch/in/a.csv" in out.getvalue()
        assert "Messages" not in sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)


def test_an_unreachable_queue_is_a_clear_error(tmp_path: Path) -> None:
    with mock_aws():
        outputs = write_outputs(
            tmp_path,
            {
                "batch_failure_queue_arn": f"arn:aws:sqs:{REGION}:123456789012:no-such-queue",
                "batch_function_name": BATCH_FN,
            },
        )
        out, err = io.StringIO(), io.StringIO()
        code = main(["redrive", "--queue", "batch", "--outputs", outputs], out, err)
    assert code == 2
    assert err.getvalue().startswith(
        "redrive: cannot read the queue arn:aws:sqs:us-east-1:123456789012:no-such-queue:"
    )
    assert "NonExistentQueue" in err.getvalue()


def test_missing_credentials_are_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    out, err = io.StringIO(), io.StringIO()

    code = main(
        [
            "redrive",
            "--queue",
            "actuals",
            "--queue-url",
            "https://sqs.us-east-1.amazonaws.com/1/q",
            "--function",
            "f",
        ],
        out,
        err,
    )

    assert code == 2
    assert err.getvalue().startswith("redrive: no AWS credentials")


def test_module_runs_from_the_repository_and_reports_missing_outputs() -> None:
    # Given the outputs of a root without batch_prediction, as `make redrive` pipes them
    done = subprocess.run(
        [sys.executable, "-m", "mlgw_client", "redrive", "--queue", "batch"],
        input=json.dumps({"batch_failure_queue_arn": {"value": None, "type": "string"}}),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "client"), "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("redrive: the outputs have no batch_failure_queue_arn")
    assert "Traceback" not in done.stderr


# --- the actuals failed prefix ---------------------------------------------------------------------

FAILED_KEY = "actuals-failed/dep1/day.csv"
INPUT_KEY = "actuals/dep1/day.csv"


def failed_file(aws: Aws, *, etag: str | None = None, accepted: list[list[int]] | None = None) -> str:
    """A file as the actuals function leaves it in the failed prefix, with its report beside it."""
    copied = aws.s3.put_object(Bucket=BUCKET, Key=FAILED_KEY, Body=b"associationId,actualValue\na,1\n")
    report = {
        "status": "failed",
        "key": INPUT_KEY,
        "etag": etag or copied["ETag"],
        "chunksAccepted": [[0, 1]] if accepted is None else accepted,
        "failedKey": FAILED_KEY,
    }
    aws.s3.put_object(Bucket=BUCKET, Key=FAILED_KEY + ".report.json", Body=json.dumps(report).encode())
    return f"s3://{BUCKET}/{FAILED_KEY}"


def keys(aws: Aws) -> list[str]:
    return sorted(item["Key"] for item in aws.s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))


def test_move_back_restores_the_input_key(aws: Aws) -> None:
    uri = failed_file(aws)
    out = io.StringIO()

    move_back(aws.s3, uri, out)

    assert keys(aws) == [FAILED_KEY + ".report.json", INPUT_KEY]
    assert (
        aws.s3.get_object(Bucket=BUCKET, Key=INPUT_KEY)["Body"].read() == b"associationId,actualValue\na,1\n"
    )
    assert out.getvalue() == (
        f"moved {uri} to s3://{BUCKET}/{INPUT_KEY}: "
        "same ETag: the function resumes after the chunks already accepted\n"
    )


def test_move_back_says_when_the_etag_changed(aws: Aws) -> None:
    # A multipart upload's ETag: a single CopyObject gives the content's MD5 instead.
    out = io.StringIO()
    move_back(aws.s3, failed_file(aws, etag='"0123456789abcdef0123456789abcdef-2"'), out)
    assert "its ETag changed" in out.getvalue()
    assert "the chunks accepted before are sent again" in out.getvalue()

    aws.s3.delete_object(Bucket=BUCKET, Key=INPUT_KEY)
    out = io.StringIO()
    move_back(aws.s3, failed_file(aws, etag='"other"', accepted=[]), out)
    assert "no chunk had been accepted" in out.getvalue()


def test_move_back_leaves_a_newer_upload_alone_and_dry_run_moves_nothing(aws: Aws) -> None:
    uri = failed_file(aws)
    out = io.StringIO()
    move_back(aws.s3, uri, out, dry_run=True)
    assert out.getvalue() == f"would move {uri} to s3://{BUCKET}/{INPUT_KEY}\n"
    assert INPUT_KEY not in keys(aws)

    aws.s3.put_object(Bucket=BUCKET, Key=INPUT_KEY, Body=b"newer")
    with pytest.raises(RedriveError, match="exists"):
        move_back(aws.s3, uri, out)
    assert aws.s3.get_object(Bucket=BUCKET, Key=INPUT_KEY)["Body"].read() == b"newer"
    assert FAILED_KEY in keys(aws)


def test_move_back_needs_the_report(aws: Aws) -> None:
    aws.s3.put_object(Bucket=BUCKET, Key=FAILED_KEY, Body=b"x")
    with pytest.raises(RedriveError, match=r"cannot read .*report\.json: NoSuchKey"):
        move_back(aws.s3, f"s3://{BUCKET}/{FAILED_KEY}", io.StringIO())
    with pytest.raises(RedriveError, match="takes s3://"):
        move_back(aws.s3, FAILED_KEY, io.StringIO())


def test_command_line_takes_a_queue_or_a_failed_file() -> None:
    for argv in (["redrive"], ["redrive", "--queue", "actuals", "--actuals-failed", "s3://b/k"]):
        err = io.StringIO()
        assert main(argv, io.StringIO(), err) == 2
        assert (
            err.getvalue() == "redrive: pass --queue batch|actuals, or --actuals-failed s3://<bucket>/<key>\n"
        )
