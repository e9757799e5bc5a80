"""Re-drive the events a pipeline function failed on, from its failure queue.

The module's functions send an event that failed every attempt to an SQS queue through an
on-failure *destination*, not a dead-letter queue (modules/lambda-function,
`aws_lambda_function_event_invoke_config`). The message body is then Lambda's invocation
record: `requestPayload` holds the original event, `requestContext` the function ARN, the
`condition` (for example RetriesExhausted) and `approximateInvokeCount`, `responsePayload` the
error; a dead-letter queue would hold the bare event instead
(https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).

Each record's event is invoked again asynchronously (InvocationType=Event; Lambda answers 202
once it has queued the event: https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html),
and the message is deleted only after that answer. A message not deleted (kept, failed, or seen
in a dry run) is made visible again when the run ends, so the next run sees it at once.

Re-invoking an event that is already done is harmless, because both handlers are idempotent:
- batch: the output, keyed by the input key, records the source ETag and version, and an event
  for a version whose output exists is skipped as a duplicate; an input that no longer exists is
  "gone" and nothing is written (lambda_src/mlgw/batch/pipeline.py);
- actuals: progress lives in a state object per input key, claimed with conditional writes and
  tied to the input's ETag, so accepted chunks are never sent again; an input that no longer
  exists (reported, or moved to the failed prefix) is "gone" (lambda_src/mlgw/actuals/pipeline.py).
Where the client can tell cheaply that nothing is left to do, it says "skipped" and deletes the
message without invoking: a batch input that no longer exists, an event with no created object,
and a Batch Transform job event whose job failed or was stopped (the handler would only repeat
that failure). An actuals input that no longer exists is still invoked: the handler's "gone" path
also removes a leftover finished state object, which would otherwise make an identical upload of
the same key skip delivery.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import unquote_plus

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

# ReceiveMessage returns at most 10 messages a call
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html).
BATCH = 10
# Long polling (a wait above 0) asks every SQS server, so an empty answer means no message is
# visible; short polling samples servers and may answer empty while messages wait
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-short-and-long-polling.html).
DEFAULT_WAIT_SECONDS = 2
# Received messages stay hidden this long; it must outlast the run, or a message could come back
# while the run is still going (a message id seen twice is never handled twice either way).
DEFAULT_VISIBILITY_SECONDS = 300
ERROR_CHARS = 160
NO_CREDENTIALS = "no AWS credentials: set AWS_PROFILE, or run `aws configure` or `aws sso login`"
FINISHED_WITHOUT_OUTPUT = frozenset({"Failed", "Stopped"})
# The event a hand-off queues (lambda_src/mlgw/pipeline/continuation.py, EVENT_KEY and
# EVENT_VERSION); the client does not import the function's package.
CONTINUATION_KEY = "mlgwContinuation"
CONTINUATION_VERSION = 1


class RedriveError(Exception):
    """A setup problem the user must fix (outputs, queue, credentials); printed, not traced."""


@dataclass(frozen=True)
class Pipeline:
    name: str
    queue_output: str
    function_output: str
    # Whether an input that no longer exists can be skipped without invoking (see the docstring).
    skip_gone: bool


PIPELINES = {
    "batch": Pipeline("batch", "batch_failure_queue_arn", "batch_function_name", skip_gone=True),
    "actuals": Pipeline("actuals", "actuals_failure_queue_arn", "actuals_function_name", skip_gone=False),
}


@dataclass(frozen=True)
class Target:
    pipeline: Pipeline
    function: str
    queue_url: str | None = None
    queue_arn: str | None = None

    @property
    def region(self) -> str | None:
        """The queue's region, which is the function's: both come from the same root."""
        if self.queue_arn:
            return self.queue_arn.split(":")[3] or None
        match = re.match(r"https://sqs[.-]([a-z0-9-]+)\.amazonaws\.com", self.queue_url or "")
        return match.group(1) if match else None


def target(
    outputs: Mapping[str, Any], pipeline: str, *, queue_url: str | None = None, function: str | None = None
) -> Target:
    """Queue and function from `terraform output -json` values, each replaceable by an override."""
    spec = PIPELINES[pipeline]
    queue_arn = None if queue_url else outputs.get(spec.queue_output)
    function = function or outputs.get(spec.function_output)
    if not queue_url and not queue_arn:
        raise RedriveError(
            f"the outputs have no {spec.queue_output} ({pipeline} is off, or its failures go to a "
            "destination of your own): pass --queue-url"
        )
    if not function:
        raise RedriveError(f"the outputs have no {spec.function_output}: pass --function")
    if queue_arn and not re.fullmatch(r"arn:aws[a-z-]*:sqs:[a-z0-9-]+:\d{12}:[\w-]+", queue_arn):
        raise RedriveError(f"{spec.queue_output} is not an SQS queue ARN: {queue_arn!r}")
    return Target(spec, str(function), queue_url, queue_arn)


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str
    etag: str | None = None
    version_id: str | None = None

    def label(self) -> str:
        version = f"version {self.version_id}" if self.version_id else f"etag {self.etag or '?'}"
        return f"s3://{self.bucket}/{self.key} ({version})"


@dataclass(frozen=True)
class FailedEvent:
    """One invocation record, read; `problem` says why it cannot be re-driven."""

    payload: dict[str, Any] | None
    function: str | None = None
    condition: str = "?"
    attempts: int | None = None
    error: str = ""
    objects: tuple[ObjectRef, ...] = ()
    job: tuple[str, str] | None = None
    ignorable: str | None = None
    problem: str | None = None

    def subject(self) -> str:
        if self.job is not None:
            return f"transform job {self.job[0]} ({self.job[1] or 'status ?'})"
        if self.objects:
            more = f" +{len(self.objects) - 1} more" if len(self.objects) > 1 else ""
            return self.objects[0].label() + more
        return "event"

    def failure(self) -> str:
        attempts = f" x{self.attempts}" if self.attempts else ""
        error = f": {self.error}" if self.error else ""
        return f"{self.condition}{attempts}{error}"


def parse_record(body: str) -> FailedEvent:
    try:
        record = json.loads(body)
    except ValueError:
        return FailedEvent(None, problem="the message is not JSON")
    if not isinstance(record, dict) or not isinstance(record.get("requestContext"), dict):
        return FailedEvent(
            None, problem="not a Lambda invocation record (no requestContext): was it sent by hand?"
        )
    context = record["requestContext"]
    payload = record.get("requestPayload")
    arn = str(context.get("functionArn") or "")
    # arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]
    parts = arn.split(":")
    function = parts[6] if len(parts) > 6 else None
    attempts = context.get("approximateInvokeCount")
    base = FailedEvent(
        payload if isinstance(payload, dict) else None,
        function=function,
        condition=str(context.get("condition") or "?"),
        attempts=attempts if isinstance(attempts, int) else None,
        error=_error(record.get("responsePayload")),
    )
    if not isinstance(payload, dict):
        return _replace(base, problem="the record has no requestPayload object to invoke again")
    return _classify(base, payload)


def _classify(base: FailedEvent, event: dict[str, Any]) -> FailedEvent:
    """The objects (or job) the event names, parsed as lambda_src/mlgw/s3events.py does."""
    if isinstance(event.get("Records"), list):
        objects = tuple(_from_record(record) for record in event["Records"] if _is_created_record(record))
        if not objects:
            return _replace(base, ignorable="no object-created record: the handler ignores this event")
        return _replace(base, objects=objects)
    if event.get("source") == "aws.s3" and isinstance(event.get("detail"), dict):
        if event.get("detail-type") != "Object Created":
            return _replace(base, ignorable="not an Object Created event: the handler ignores it")
        detail = event["detail"]
        obj = detail.get("object") or {}
        return _replace(
            base,
            objects=(
                ObjectRef(
                    str(detail.get("bucket", {}).get("name", "")),
                    unquote_plus(str(obj.get("key", "")), encoding="utf-8"),
                    obj.get("etag"),
                    obj.get("version-id"),
                ),
            ),
        )
    if event.get("source") == "aws.sagemaker" and isinstance(event.get("detail"), dict):
        detail = event["detail"]
        job = (str(detail.get("TransformJobName", "")), str(detail.get("TransformJobStatus", "")))
        return _replace(base, job=job)
    if CONTINUATION_KEY in event:
        return _continuation(base, event[CONTINUATION_KEY])
    if event.get("Event") == "s3:TestEvent":
        return _replace(base, ignorable="an S3 test event: the handler ignores it")
    return _replace(
        base, problem="not an S3, SageMaker or continuation event: the handler would refuse it again"
    )


def _continuation(base: FailedEvent, body: Any) -> FailedEvent:
    """A hand-off's continuation event (lambda_src/mlgw/pipeline/continuation.py), invoked again as
    it is: the handler takes it while its hand-off number is still the state object's and no other
    invocation holds a live lease on the file, and refuses it as stale once the chain moved on, so
    a redrive can neither start a second chain nor send a chunk twice. Its key is not URL-encoded."""
    if not isinstance(body, dict) or body.get("version") != CONTINUATION_VERSION:
        return _replace(
            base, problem="a continuation event of an unknown version: the handler would refuse it"
        )
    bucket, key = body.get("bucket"), body.get("key")
    if not isinstance(bucket, str) or not isinstance(key, str) or not bucket or not key:
        return _replace(base, problem="a continuation event without bucket and key")
    etag, version = body.get("etag"), body.get("versionId")
    return _replace(
        base,
        objects=(
            ObjectRef(
                bucket,
                key,
                etag if isinstance(etag, str) else None,
                version if isinstance(version, str) else None,
            ),
        ),
    )


def _is_created_record(record: Any) -> bool:
    return (
        isinstance(record, dict)
        and record.get("eventSource") == "aws:s3"
        and str(record.get("eventName", "")).startswith("ObjectCreated:")
    )


def _from_record(record: dict[str, Any]) -> ObjectRef:
    s3 = record.get("s3") or {}
    obj = s3.get("object") or {}
    # Keys arrive URL-encoded: a space as "+", a "+" as "%2B".
    return ObjectRef(
        str((s3.get("bucket") or {}).get("name", "")),
        unquote_plus(str(obj.get("key", "")), encoding="utf-8"),
        obj.get("eTag"),
        obj.get("versionId"),
    )


def _error(response: Any) -> str:
    if isinstance(response, dict):
        text = ": ".join(str(response[name]) for name in ("errorType", "errorMessage") if response.get(name))
    else:
        text = "" if response is None else str(response)
    return text if len(text) <= ERROR_CHARS else text[: ERROR_CHARS - 1] + "…"


def _replace(event: FailedEvent, **changes: Any) -> FailedEvent:
    return FailedEvent(**{**event.__dict__, **changes})


@dataclass(frozen=True)
class Decision:
    action: str  # "invoke", "skip" or "keep"
    reason: str = ""


def decide(event: FailedEvent, tgt: Target, s3: Any) -> Decision:
    if event.problem:
        return Decision("keep", event.problem)
    if event.function and event.function != tgt.function:
        return Decision("keep", f"a record of function {event.function}, not {tgt.function}")
    if event.ignorable:
        return Decision("skip", event.ignorable)
    if event.job is not None:
        status = event.job[1]
        if status in FINISHED_WITHOUT_OUTPUT:
            return Decision(
                "skip",
                f"the job ended {status}: a redrive repeats that; its report under the error prefix "
                "says why, and uploading the input again starts a new run",
            )
        return Decision("invoke", "the handler finishes the job, or finds it already finished")
    states = [_state(s3, obj) for obj in event.objects]
    if all(state == "gone" for state in states):
        if tgt.pipeline.skip_gone:
            return Decision("skip", "the input no longer exists")
        return Decision(
            "invoke",
            "the input is no longer there (reported, or under the failed prefix): "
            "the handler only tidies its state",
        )
    notes = sorted({state for state in states if state not in ("current", "gone")})
    return Decision("invoke", "; ".join(notes))


def _state(s3: Any, obj: ObjectRef) -> str:
    """What the input looks like now: gone, current, replaced, or why it could not be read."""
    try:
        head = s3.head_object(Bucket=obj.bucket, Key=obj.key)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in {"404", "NoSuchKey", "NotFound"}:
            return "gone"
        return f"not checked ({code or 'error'}): left to the handler"
    except BotoCoreError as exc:
        return f"not checked ({type(exc).__name__}): left to the handler"
    etag = str(head.get("ETag", "")).strip('"')
    newer_etag = obj.etag is not None and etag and etag != obj.etag.strip('"')
    newer_version = obj.version_id is not None and head.get("VersionId") not in (None, obj.version_id)
    if newer_etag or newer_version:
        return "a newer version exists: the handler works on the current one or finds it done"
    return "current"


@dataclass
class Summary:
    counts: dict[str, int] = field(
        default_factory=lambda: {"invoked": 0, "skipped": 0, "kept": 0, "failed": 0}
    )

    @property
    def ok(self) -> bool:
        return self.counts["kept"] == 0 and self.counts["failed"] == 0


@dataclass
class _Run:
    tgt: Target
    queue_url: str
    sqs: Any
    lambda_: Any
    s3: Any
    out: TextIO
    dry_run: bool
    summary: Summary = field(default_factory=Summary)
    # Receipt handles of messages received but not deleted, made visible again at the end.
    release: list[str] = field(default_factory=list)


def clients(region: str | None) -> tuple[Any, Any, Any]:
    """SQS, Lambda and S3 clients with explicit timeouts and retries; credentials and endpoints
    come from the usual AWS configuration (profile, environment, AWS_ENDPOINT_URL_<SERVICE>)."""
    import boto3  # noqa: PLC0415 - the prediction commands run without boto3

    # Long polls take up to the wait time, so the read timeout stays well above it.
    config = Config(connect_timeout=5, read_timeout=30, retries={"mode": "standard", "max_attempts": 3})
    try:
        session = boto3.session.Session(region_name=region)
        return tuple(session.client(name, config=config) for name in ("sqs", "lambda", "s3"))  # type: ignore[return-value]
    except NoRegionError:
        raise RedriveError("no AWS region: pass --region or set AWS_REGION") from None


def resolve_queue_url(sqs: Any, tgt: Target) -> str:
    """The queue's URL; looking it up also shows that the queue and the credentials work."""
    try:
        if tgt.queue_url:
            url = tgt.queue_url
        else:
            assert tgt.queue_arn is not None
            _, _, _, _, account, name = tgt.queue_arn.split(":")
            url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    except NoCredentialsError:
        raise RedriveError(NO_CREDENTIALS) from None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise RedriveError(
            f"cannot read the queue {tgt.queue_url or tgt.queue_arn}: "
            f"{error.get('Code', 'error')}: {error.get('Message', exc)}"
        ) from None
    except BotoCoreError as exc:
        raise RedriveError(f"cannot reach SQS: {exc}") from None
    return str(url)


def redrive(
    tgt: Target,
    sqs: Any,
    lambda_: Any,
    s3: Any,
    out: TextIO,
    *,
    dry_run: bool = False,
    max_messages: int | None = None,
    visibility_timeout: int = DEFAULT_VISIBILITY_SECONDS,
    wait_seconds: int = DEFAULT_WAIT_SECONDS,
) -> Summary:
    queue_url = resolve_queue_url(sqs, tgt)
    waiting = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    ).get("Attributes", {})
    out.write(
        f"queue {queue_url}: about {waiting.get('ApproximateNumberOfMessages', '?')} messages waiting, "
        f"{waiting.get('ApproximateNumberOfMessagesNotVisible', '?')} in flight; "
        f"function {tgt.function}{' (dry run: nothing is invoked or deleted)' if dry_run else ''}\n"
    )
    run = _Run(tgt, queue_url, sqs, lambda_, s3, out, dry_run)
    try:
        for message in _messages(run, max_messages, visibility_timeout, wait_seconds):
            _handle(run, message)
    finally:
        _release(run)
    counts = run.summary.counts
    verb = "would be " if dry_run else ""
    out.write(
        f"{counts['invoked']} {verb}invoked, {counts['skipped']} {verb}skipped, "
        f"{counts['kept']} kept, {counts['failed']} failed\n"
    )
    return run.summary


def _messages(
    run: _Run, max_messages: int | None, visibility_timeout: int, wait_seconds: int
) -> Iterator[dict[str, Any]]:
    """Received messages, at most `max_messages`, each message id once; ends on an empty answer."""
    seen: set[str] = set()
    while max_messages is None or len(seen) < max_messages:
        wanted = BATCH if max_messages is None else min(BATCH, max_messages - len(seen))
        try:
            answer = run.sqs.receive_message(
                QueueUrl=run.queue_url,
                MaxNumberOfMessages=wanted,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=visibility_timeout,
            )
        except (ClientError, BotoCoreError) as exc:
            raise RedriveError(f"cannot receive from the queue: {exc}") from None
        fresh = []
        for message in answer.get("Messages", []):
            if message["MessageId"] in seen:
                run.release.append(message["ReceiptHandle"])
            else:
                seen.add(message["MessageId"])
                fresh.append(message)
        if not fresh:
            return
        yield from fresh


def _handle(run: _Run, message: dict[str, Any]) -> None:
    event = parse_record(message.get("Body", ""))
    decision = decide(event, run.tgt, run.s3)
    subject = event.subject() if event.payload is not None else f"message {message['MessageId']}"
    if decision.action == "keep" and event.payload is not None:
        subject += f" (message {message['MessageId']})"
    note = f" [{decision.reason}]" if decision.reason else ""
    if decision.action == "keep":
        run.release.append(message["ReceiptHandle"])
        run.summary.counts["kept"] += 1
        _line(run, "kept", subject, f"{decision.reason} (the message stays in the queue)")
        return
    if run.dry_run:
        run.release.append(message["ReceiptHandle"])
        if decision.action == "skip":
            run.summary.counts["skipped"] += 1
            _line(run, "would skip", subject, decision.reason)
        else:
            run.summary.counts["invoked"] += 1
            _line(run, "would invoke", subject, f"failed {event.failure()}{note}")
        return
    if decision.action == "invoke":
        problem = _invoke(run, event)
        if problem is not None:
            run.release.append(message["ReceiptHandle"])
            run.summary.counts["failed"] += 1
            _line(run, "failed", subject, f"{problem}; the message stays for the next run")
            return
    problem = _delete(run, message)
    if decision.action == "skip":
        run.summary.counts["skipped"] += 1
        _line(run, "skipped", subject, decision.reason + (f"; {problem}" if problem else ""))
    else:
        run.summary.counts["invoked"] += 1
        deleted = f"; {problem}" if problem else ""
        _line(run, "invoked", subject, f"failed {event.failure()}{note}{deleted}")
    if problem:
        run.summary.counts["failed"] += 1


def _invoke(run: _Run, event: FailedEvent) -> str | None:
    """None once Lambda accepted the event (202), else what went wrong."""
    try:
        answer = run.lambda_.invoke(
            FunctionName=run.tgt.function,
            InvocationType="Event",
            Payload=json.dumps(event.payload).encode("utf-8"),
        )
    except ClientError as exc:
        error = exc.response.get("Error", {})
        return f"invoke refused: {error.get('Code', 'error')}: {error.get('Message', exc)}"
    except BotoCoreError as exc:
        return f"invoke failed: {type(exc).__name__}: {exc}"
    status = answer.get("StatusCode")
    return None if status == 202 else f"invoke answered {status}, not 202"


def _delete(run: _Run, message: dict[str, Any]) -> str | None:
    try:
        run.sqs.delete_message(QueueUrl=run.queue_url, ReceiptHandle=message["ReceiptHandle"])
    except (ClientError, BotoCoreError) as exc:
        return (
            f"the message could not be deleted ({type(exc).__name__}: {exc}); "
            "a second redrive invokes it again, which the handler treats as a duplicate"
        )
    return None


def _release(run: _Run) -> None:
    """A visibility timeout of 0 makes a message receivable at once
    (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html).
    Best effort: a message not released comes back by itself when its visibility ends."""
    for start in range(0, len(run.release), BATCH):
        entries = [
            {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for index, handle in enumerate(run.release[start : start + BATCH])
        ]
        try:
            run.sqs.change_message_visibility_batch(QueueUrl=run.queue_url, Entries=entries)
        except (ClientError, BotoCoreError) as exc:
            run.out.write(f"note: messages stay hidden until their visibility timeout ends ({exc})\n")
            return


def _line(run: _Run, verb: str, subject: str, detail: str) -> None:
    run.out.write(f"{verb:<12} {subject}" + (f": {detail}" if detail else "") + "\n")


def move_back(s3: Any, uri: str, out: TextIO, *, dry_run: bool = False) -> None:
    """Move an actuals file from the failed prefix back to the key it failed under.

    The report beside the failed file names that key and the ETag the function worked on. The
    function's state object for the key keeps the chunks already accepted and resumes from them
    when the file comes back with that same ETag. A single CopyObject (files up to 5 GB) keeps
    the ETag of a file first uploaded in one part without SSE-KMS or SSE-C, because S3 then
    makes the ETag the MD5 of the content; a multipart upload or copy, or SSE-KMS, gives another
    ETag (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html), and the function then
    starts the file over. The copy's ObjectCreated:Copy event starts the function, as the
    triggers subscribe to every ObjectCreated event (modules/s3-triggers).
    """
    match = re.fullmatch(r"s3://([^/]+)/(.+)", uri)
    if match is None:
        raise RedriveError(f"--actuals-failed takes s3://<bucket>/<key of the failed file>, not {uri!r}")
    bucket, key = match.groups()
    try:
        report = json.loads(s3.get_object(Bucket=bucket, Key=key + ".report.json")["Body"].read())
        original = str(report["key"])
        head = s3.head_object(Bucket=bucket, Key=key)
    except (KeyError, ValueError, TypeError):
        raise RedriveError(f"{uri}.report.json does not name the key the file failed under") from None
    except ClientError as exc:
        raise RedriveError(f"cannot read {uri} and its .report.json: {_code(exc)}") from None
    except NoCredentialsError:
        raise RedriveError(NO_CREDENTIALS) from None
    except BotoCoreError as exc:
        raise RedriveError(f"cannot reach S3: {exc}") from None
    if original == key:
        raise RedriveError(f"{uri} is the input itself, not a failed copy of it")
    if _state(s3, ObjectRef(bucket, original)) != "gone":
        raise RedriveError(f"s3://{bucket}/{original} exists (a newer upload?): it is left as it is")
    accepted = report.get("chunksAccepted") or []
    was = str(report.get("etag") or "").strip('"')
    if dry_run:
        out.write(f"would move {uri} to s3://{bucket}/{original}\n")
        return
    try:
        copied = s3.copy_object(
            Bucket=bucket,
            Key=original,
            CopySource={"Bucket": bucket, "Key": key},
            CopySourceIfMatch=head["ETag"],
            MetadataDirective="COPY",
        )
    except (ClientError, BotoCoreError) as exc:
        raise RedriveError(f"the copy to s3://{bucket}/{original} failed, nothing moved: {exc}") from None
    try:
        s3.delete_object(Bucket=bucket, Key=key)
    except (ClientError, BotoCoreError) as exc:
        raise RedriveError(f"copied to s3://{bucket}/{original}, but {uri} is still there: {exc}") from None
    etag = str(copied.get("CopyObjectResult", {}).get("ETag", "")).strip('"')
    if not accepted:
        resume = "no chunk had been accepted, so the function reports it from the start"
    elif etag == was:
        resume = "same ETag: the function resumes after the chunks already accepted"
    else:
        resume = (
            f"its ETag changed ({was} -> {etag}), so the function starts over and the chunks "
            "accepted before are sent again"
        )
    out.write(f"moved {uri} to s3://{bucket}/{original}: {resume}\n")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "error"))
