"""The handler end to end: moto S3 and Secrets Manager, the real local actuals API."""

import csv
import dataclasses
import io
import json
import logging
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from actuals_fake_api import Fault
from actuals_helpers import (
    DEPLOYMENT,
    PREFIX,
    TOKEN,
    FakeContext,
    Harness,
    assert_each_delivered_once,
    csv_text,
    eventbridge_event,
    s3_event,
)

from mlgw.actuals import pipeline as pipeline_module
from mlgw.actuals import state as state_module
from mlgw.handlers import report_actuals
from mlgw.handlers.report_actuals import ActualsReportingError

KEY = f"{PREFIX}{DEPLOYMENT}/2024-06-01.csv"
FAILED = f"upload_actuals-failed/{DEPLOYMENT}/2024-06-01.csv"
STATE = f"upload_actuals-state/{DEPLOYMENT}/2024-06-01.csv.json"
ALL_IDS = [f"id-{index:06d}" for index in range(25)]


def test_happy_path_delivers_every_row_once_in_bounded_chunks_then_deletes(harness: Harness) -> None:
    # Given 25 rows and report_rows = 10
    harness.use()
    harness.put(KEY, csv_text(25))

    # When the notification arrives
    result = harness.invoke(s3_event(KEY))

    # Then three requests carried every row exactly once, and only then was the file removed
    assert_each_delivered_once(harness.api.delivered_ids(), ALL_IDS)
    assert sorted(len(s.rows) for s in harness.api.submissions) == [5, 10, 10]
    assert {s.deployment_id for s in harness.api.submissions} == {DEPLOYMENT}
    first = next(s for s in harness.api.submissions if s.association_ids[0] == "id-000000")
    assert first.rows[1] == {"associationId": "id-000001", "actualValue": "1"}
    assert result["results"][0]["status"] == "reported"
    assert result["results"][0]["rows_sent"] == 25
    assert harness.object_keys() == []


def test_no_request_exceeds_report_rows(harness: Harness) -> None:
    harness.use(report_rows=7, max_in_flight=3)
    harness.put(KEY, csv_text(50))

    harness.invoke(s3_event(KEY))

    assert max(len(s.rows) for s in harness.api.submissions) == 7
    assert_each_delivered_once(harness.api.delivered_ids(), [f"id-{index:06d}" for index in range(50)])


def test_archive_mode_moves_the_input_under_the_processed_prefix(harness: Harness) -> None:
    harness.use(on_success="archive")
    harness.put(KEY, csv_text(3))

    harness.invoke(s3_event(KEY))

    assert harness.object_keys() == [f"upload_actuals-processed/{DEPLOYMENT}/2024-06-01.csv"]
    assert harness.get(harness.object_keys()[0]) == csv_text(3).encode()


@pytest.mark.parametrize("name", ["report é 2024.csv", "a+b c.csv", "数据 (1).csv", "x%2By.csv"])
def test_keys_with_spaces_plus_signs_and_non_ascii(harness: Harness, name: str) -> None:
    harness.use(on_success="archive")
    key = f"{PREFIX}{DEPLOYMENT}/{name}"
    harness.put(key, csv_text(4))

    harness.invoke(s3_event(key))

    assert_each_delivered_once(harness.api.delivered_ids(), ALL_IDS[:4])
    assert harness.object_keys() == [f"upload_actuals-processed/{DEPLOYMENT}/{name}"]


def test_eventbridge_events_are_handled_the_same_way(harness: Harness) -> None:
    harness.use()
    key = f"{PREFIX}{DEPLOYMENT}/eb file+1.csv"
    harness.put(key, csv_text(12))

    harness.invoke(eventbridge_event(key))

    assert_each_delivered_once(harness.api.delivered_ids(), [f"id-{index:06d}" for index in range(12)])
    assert harness.object_keys() == []


def test_several_records_in_one_event_are_each_reported(harness: Harness) -> None:
    harness.use()
    other = f"{PREFIX}{DEPLOYMENT}/second.csv"
    harness.put(KEY, csv_text(5))
    harness.put(other, csv_text(5, start=5))

    result = harness.invoke(s3_event(KEY, other))

    assert [r["status"] for r in result["results"]] == ["reported", "reported"]
    assert_each_delivered_once(harness.api.delivered_ids(), ALL_IDS[:10])


def test_a_duplicate_event_after_success_sends_nothing(harness: Harness) -> None:
    harness.use()
    harness.put(KEY, csv_text(5))
    harness.invoke(s3_event(KEY))
    requests = harness.api.requests

    result = harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-dup"))

    assert result["results"][0]["status"] == "gone"
    assert harness.api.requests == requests


def test_a_duplicate_event_while_another_invocation_owns_the_file_sends_nothing(harness: Harness) -> None:
    harness.use()
    harness.put(KEY, csv_text(5))
    etag = harness.s3.head_object(Bucket="actuals-bucket", Key=KEY)["ETag"]
    owner = state_module.ProgressState(etag=etag, chunk_rows=10, owner="req-other", lease_expires=4e9)
    harness.put(STATE, owner.to_json())

    result = harness.invoke(s3_event(KEY))

    assert result["results"][0]["status"] == "busy"
    assert harness.api.requests == 0
    assert KEY in harness.object_keys()


@pytest.mark.filterwarnings("ignore:No application metrics")
@pytest.mark.parametrize("status_saved", [True, False])
def test_resumes_after_a_crash_without_resending_accepted_chunks(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, status_saved: bool
) -> None:
    # Given an invocation that dies abruptly after the service took its third chunk,
    # just before or just after the status URL of that chunk was written
    harness.use(max_in_flight=1)
    harness.put(KEY, csv_text(55))

    class Crash(BaseException):
        pass

    recorded = state_module.StateStore.record_pending

    def dying(self: state_module.StateStore, index: int, status_url: str) -> None:
        if index == 2:
            if status_saved:
                recorded(self, index, status_url)
            raise Crash
        recorded(self, index, status_url)

    monkeypatch.setattr(state_module.StateStore, "record_pending", dying)
    with pytest.raises(Crash):
        harness.invoke(s3_event(KEY))
    monkeypatch.setattr(state_module.StateStore, "record_pending", recorded)
    progress = state_module.ProgressState.from_json(harness.get(STATE))
    assert progress.accepted == {0, 1}
    assert (2 in progress.pending) is status_saved
    assert len(harness.api.submissions) == 3

    # When Lambda retries the same event
    harness.invoke(s3_event(KEY))

    # Then no accepted chunk was sent again; the chunk in flight was confirmed by polling its
    # saved status, or, without one, sent once more: the documented at-least-once window
    counts = Counter(harness.api.delivered_ids())
    assert sorted(counts) == [f"id-{index:06d}" for index in range(55)]
    resent = {aid for aid, count in counts.items() if count > 1}
    assert resent == (set() if status_saved else {f"id-{index:06d}" for index in range(20, 30)})
    assert set(counts.values()) <= {1, 2}
    assert harness.object_keys() == []


def test_running_out_of_time_saves_progress_and_a_later_invocation_continues(harness: Harness) -> None:
    harness.use(max_in_flight=1)
    harness.put(KEY, csv_text(45))
    # Each request to the service takes 0.5 s, and the invocation has about 2.4 s of real time
    # (3.4 s left at its start, less the 1 s margin): that covers three chunks here, never five,
    # and still one on a machine slow enough to spend 1.5 s on the rest.
    harness.api.latency = 0.5
    budget = {"left": 3.5}

    def remaining() -> float:
        budget["left"] -= 0.1
        return budget["left"]

    with pytest.raises(ActualsReportingError, match="RetryLater"):
        harness.invoke(s3_event(KEY), FakeContext(remaining=remaining))
    first = len(harness.api.submissions)
    progress = state_module.ProgressState.from_json(harness.get(STATE))
    assert 0 < first < 5
    assert progress.lease_expires == 0.0
    assert KEY in harness.object_keys()

    harness.api.latency = 0
    harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-2"))

    assert_each_delivered_once(harness.api.delivered_ids(), [f"id-{index:06d}" for index in range(45)])
    assert harness.object_keys() == []


def test_transient_failures_keep_the_file_until_attempts_run_out(harness: Harness) -> None:
    harness.use(max_attempts=2, max_in_flight=1)
    harness.put(KEY, csv_text(15))
    harness.api.faults.extend([Fault(503)] * 4)

    with pytest.raises(ActualsReportingError, match="RetryLater"):
        harness.invoke(s3_event(KEY))
    assert KEY in harness.object_keys()

    harness.api.faults.extend([Fault(503)] * 8)
    with pytest.raises(ActualsReportingError, match="FileFailed"):
        harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-2"))

    assert KEY not in harness.object_keys()
    report = harness.report(FAILED)
    assert report["reason"] == "gave up after 2 attempts"
    assert report["status"] == 503
    assert harness.get(FAILED) == csv_text(15).encode()


@pytest.mark.parametrize("status", [400, 413])
def test_refused_chunk_moves_the_file_to_failed_with_the_response_text(harness: Harness, status: int) -> None:
    harness.use()
    harness.put(KEY, csv_text(25))
    harness.api.faults.append(Fault(status, text=f"refused with {status}"))

    with pytest.raises(ActualsReportingError, match="FileFailed"):
        harness.invoke(s3_event(KEY))

    report = harness.report(FAILED)
    assert report["reason"] == "the actuals service refused a chunk"
    assert report["status"] == status
    assert report["responseText"] == f"refused with {status}"
    assert report["failedKey"] == FAILED
    assert harness.get(FAILED) == csv_text(25).encode()
    assert KEY not in harness.object_keys()


def test_accepted_chunks_of_a_failed_file_are_remembered_for_a_redrive(harness: Harness) -> None:
    harness.use(max_in_flight=1)
    harness.put(KEY, csv_text(25))

    def refuse_the_next_chunk(deployment_id: str, rows: list) -> None:
        harness.api.before_accept.clear()
        harness.api.faults.append(Fault(400, text="bad chunk"))

    harness.api.before_accept.append(refuse_the_next_chunk)
    with pytest.raises(ActualsReportingError):
        harness.invoke(s3_event(KEY))
    report = harness.report(FAILED)
    assert report["chunksAccepted"] == [[0, 1]]
    assert report["rowsAccepted"] == 10

    # An operator puts the same bytes back: only the chunks not yet accepted are sent
    harness.s3.copy_object(
        Bucket="actuals-bucket", Key=KEY, CopySource={"Bucket": "actuals-bucket", "Key": FAILED}
    )
    harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-redrive"))

    assert_each_delivered_once(harness.api.delivered_ids(), ALL_IDS)


def test_bad_rows_reject_the_whole_file_before_anything_is_sent(harness: Harness) -> None:
    harness.use(bad_rows_in_report=2)
    body = "associationId,actualValue\nok-1,1\n,2\nok-3,\nok-4,4\n" + "x" * 129 + ",5\n"
    harness.put(KEY, body)

    with pytest.raises(ActualsReportingError, match="FileFailed"):
        harness.invoke(s3_event(KEY))

    assert harness.api.requests == 0
    report = harness.report(FAILED)
    assert report["reason"] == "3 bad rows; nothing was sent"
    assert report["badRowCount"] == 3
    assert report["badRows"] == [
        {"row": 2, "line": 3, "reason": "associationId is empty"},
        {"row": 3, "line": 4, "reason": "actualValue is empty"},
    ]
    assert harness.get(FAILED) == body.encode()
    assert STATE not in harness.object_keys()


@pytest.mark.parametrize(
    ("target_type", "expected"),
    [
        ("Regression", [7, 1.0, 1000.0, -2]),
        ("Binary", ["007", "1.0", "1e3", "-2"]),
        ("Multiclass", ["007", "1.0", "1e3", "-2"]),
        (None, ["007", "1.0", "1e3", "-2"]),  # an answer without model.targetType
    ],
)
def test_values_are_numbers_only_for_a_regression_deployment_asked_once_per_file(
    harness: Harness, target_type: str | None, expected: list[object]
) -> None:
    harness.api.target_type = target_type
    harness.use(report_rows=2)
    harness.put(KEY, "associationId,actualValue\na,007\nb,1.0\nc,1e3\nd,-2\n")

    harness.invoke(s3_event(KEY))

    rows = sorted(
        (row for s in harness.api.submissions for row in s.rows), key=lambda row: row["associationId"]
    )
    assert [row["actualValue"] for row in rows] == expected
    assert harness.api.lookups == [DEPLOYMENT]
    assert harness.api.authorizations == [f"Bearer {TOKEN}"] * harness.api.requests


def test_a_label_in_a_regression_deployment_is_a_bad_row(harness: Harness) -> None:
    harness.api.target_type = "Regression"
    harness.use()
    harness.put(KEY, "associationId,actualValue\na,1\nb,cat\n")

    with pytest.raises(ActualsReportingError, match="FileFailed"):
        harness.invoke(s3_event(KEY))

    assert harness.api.requests == 0
    (bad,) = harness.report(FAILED)["badRows"]
    assert (bad["row"], bad["line"]) == (2, 3)
    assert "regression" in bad["reason"]


def test_a_refused_deployment_lookup_leaves_the_values_as_written(harness: Harness) -> None:
    harness.api.missing_deployments = {DEPLOYMENT}
    harness.use()
    harness.put(KEY, "associationId,actualValue\na,007\n")

    harness.invoke(s3_event(KEY))

    assert [row["actualValue"] for s in harness.api.submissions for row in s.rows] == ["007"]
    assert harness.api.lookups == [DEPLOYMENT]


def test_skip_mode_delivers_the_good_rows_and_reports_the_skipped_ones(harness: Harness) -> None:
    harness.use(bad_rows="skip")
    harness.put(KEY, "associationId,actualValue\nok-1,1\n,2\nok-3,3\n")

    result = harness.invoke(s3_event(KEY))

    assert_each_delivered_once(harness.api.delivered_ids(), ["ok-1", "ok-3"])
    assert result["results"][0]["bad_rows"] == 1
    report_key = f"upload_actuals-processed/{DEPLOYMENT}/2024-06-01.csv.report.json"
    assert harness.object_keys() == [report_key]
    report = json.loads(harness.get(report_key))
    assert report["status"] == "completed"
    assert report["badRows"] == [{"row": 2, "line": 3, "reason": "associationId is empty"}]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("associationid,actualvalue\n1,2\n", "header lacks associationId, actualValue"),
        ("", "no header"),
        ("associationId,actualValue\n", "no valid data rows"),
        (b"associationId,actualValue\n\xff,1\n", "not UTF-8"),
    ],
)
def test_unreadable_files_are_quarantined_with_a_reason(
    harness: Harness, body: str | bytes, reason: str
) -> None:
    harness.use()
    harness.put(KEY, body)

    with pytest.raises(ActualsReportingError, match="FileFailed"):
        harness.invoke(s3_event(KEY))

    assert reason in harness.report(FAILED)["reason"]
    assert harness.api.requests == 0


@pytest.mark.parametrize(
    ("key", "reason"),
    [
        (f"{PREFIX}not-a-deployment/a.csv", "is not a valid deployment id"),
        (f"{PREFIX}a.csv", "no deployment id"),
        (f"{PREFIX}{DEPLOYMENT}/a.json", "only .csv files"),
    ],
)
def test_bad_keys_are_quarantined_with_a_reason(harness: Harness, key: str, reason: str) -> None:
    harness.use()
    harness.put(key, csv_text(2))

    with pytest.raises(ActualsReportingError):
        harness.invoke(s3_event(key))

    failed = "upload_actuals-failed/" + key[len(PREFIX) :]
    assert reason in harness.report(failed)["reason"]
    assert harness.get(failed) == csv_text(2).encode()
    assert harness.api.requests == 0


@pytest.mark.parametrize(
    ("key", "bucket"),
    [
        (f"upload_actuals-failed/{DEPLOYMENT}/a.csv", "actuals-bucket"),
        (f"upload_actuals-state/{DEPLOYMENT}/a.csv.json", "actuals-bucket"),
        (f"elsewhere/{DEPLOYMENT}/a.csv", "actuals-bucket"),
        (KEY, "some-other-bucket"),
    ],
)
def test_keys_outside_the_trigger_or_under_own_outputs_are_refused_untouched(
    harness: Harness, key: str, bucket: str
) -> None:
    harness.use()
    harness.put(key, csv_text(2))
    before = harness.object_keys()

    with pytest.raises(ActualsReportingError, match="RefusedObject"):
        harness.invoke(s3_event(key, bucket=bucket))

    assert harness.object_keys() == before
    assert harness.api.requests == 0


@pytest.mark.parametrize(
    "setup",
    ["bad_row", "refused", "transient", "bad_key", "crash_in_copy"],
)
def test_no_failure_path_deletes_the_input(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, setup: str
) -> None:
    harness.use(max_attempts=1)
    key = f"{PREFIX}bad-id/x.csv" if setup == "bad_key" else KEY
    body = "associationId,actualValue\n,1\n" if setup == "bad_row" else csv_text(25)
    harness.put(key, body)
    if setup == "refused":
        harness.api.faults.append(Fault(422, text="nope"))
    if setup == "transient":
        harness.api.faults.extend([Fault(500)] * 10)
    if setup == "crash_in_copy":
        harness.api.faults.append(Fault(400))
        s3 = report_actuals.runtime().reporter._s3
        monkeypatch.setattr(s3, "copy_object", lambda **_: (_ for _ in ()).throw(RuntimeError("copy failed")))

    with pytest.raises(ActualsReportingError):
        harness.invoke(s3_event(key))

    failed = "upload_actuals-failed/" + key[len(PREFIX) :]
    survivors = [k for k in harness.object_keys() if k in (key, failed)]
    assert survivors, harness.object_keys()
    assert all(harness.get(k) == body.encode() for k in survivors)


def test_the_token_appears_in_no_log_line(
    harness: Harness, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    harness.use()
    harness.put(KEY, csv_text(25))
    harness.api.tokens = {"rotated-token-9d8c"}
    harness.secrets.put_secret_value(SecretId=harness.secret_arn, SecretString="rotated-token-9d8c")
    harness.api.faults.append(Fault(401, text=f"token {TOKEN} is not valid"))
    harness.put(f"{PREFIX}{DEPLOYMENT}/second.csv", csv_text(2))

    harness.invoke(s3_event(KEY))
    harness.api.faults.append(Fault(400, text="rejected"))
    with pytest.raises(ActualsReportingError):
        harness.invoke(s3_event(f"{PREFIX}{DEPLOYMENT}/second.csv"))

    assert_each_delivered_once(harness.api.delivered_ids(), ALL_IDS)
    logged = capsys.readouterr().out + capsys.readouterr().err + caplog.text
    assert "actuals reported" in logged
    assert "actuals file failed" in logged
    assert TOKEN not in logged.replace(f"token {TOKEN} is not valid", "")
    assert "rotated-token-9d8c" not in logged


def test_the_token_stays_out_of_the_log_even_at_debug(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # A Lambda log level of DEBUG sets the root logger to DEBUG, where botocore.parsers would
    # log every response body, GetSecretValue's SecretString included.
    caplog.set_level(logging.DEBUG)
    harness.use()
    harness.put(KEY, csv_text(3))

    harness.invoke(s3_event(KEY))

    assert len(harness.api.delivered_ids()) == 3
    assert caplog.records, "nothing was logged at all: the test would prove nothing"
    assert TOKEN not in caplog.text
    assert not [
        record
        for record in caplog.records
        if record.name.startswith(("botocore", "urllib3")) and record.levelno < logging.INFO
    ]


def test_every_handler_keeps_botocore_wire_logging_off_at_a_debug_log_level() -> None:
    # A fresh interpreter, as a cold start: the root logger at DEBUG as the Lambda runtime sets it
    # for a log level of DEBUG, then each handler imported.
    probe = (
        "import logging\n"
        "logging.getLogger().setLevel(logging.DEBUG)\n"
        "import mlgw.handlers.predict, mlgw.handlers.report_actuals, mlgw.handlers.batch_predict\n"
        "names = ['botocore.parsers', 'botocore.endpoint', 'botocore.hooks', 'botocore.auth',\n"
        "         'botocore.retries.standard', 'boto3.resources.action', 'urllib3.connectionpool']\n"
        "print([name for name in names if logging.getLogger(name).isEnabledFor(logging.DEBUG)])\n"
    )
    source = Path(report_actuals.__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(source), "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]", result.stderr


def test_model_monitor_sink_writes_ground_truth_json_lines(harness: Harness) -> None:
    harness.use(sinks=["model-monitor", "datarobot"], ground_truth_endpoint="churn-prod")
    harness.put(
        KEY, "associationId,actualValue\nevt-1,1\nevt-2,cat\n" + csv_text(9, header="").lstrip("\r\n")
    )
    uploaded = harness.s3.head_object(Bucket="actuals-bucket", Key=KEY)["LastModified"]

    harness.invoke(s3_event(KEY))

    written = [k for k in harness.object_keys() if k.startswith("upload_actuals-ground-truth/")]
    hour = uploaded.strftime("%Y/%m/%d/%H")
    assert [k.rsplit("-", 1)[-1] for k in written] == ["000000.jsonl", "000001.jsonl"]
    assert all(k.startswith(f"upload_actuals-ground-truth/churn-prod/{hour}/2024-06-01-") for k in written)
    first = [json.loads(line) for line in harness.get(written[0]).decode().splitlines()]
    assert first[:2] == [
        {
            "groundTruthData": {"data": "1", "encoding": "CSV"},
            "eventMetadata": {"eventId": "evt-1"},
            "eventVersion": "0",
        },
        {
            "groundTruthData": {"data": "cat", "encoding": "CSV"},
            "eventMetadata": {"eventId": "evt-2"},
            "eventVersion": "0",
        },
    ]
    assert sum(len(harness.get(k).decode().splitlines()) for k in written) == 11
    assert len(harness.api.delivered_ids()) == 11


def test_model_monitor_ground_truth_quotes_labels_and_refuses_ids_it_could_never_merge(
    harness: Harness,
) -> None:
    harness.use(sinks=["model-monitor"], bad_rows="skip")
    harness.put(
        KEY,
        "associationId,actualValue\n"
        'evt-1,"red, large"\n'
        'evt-2,"say ""hi"""\n'
        f"{'x' * 65},1\n"
        "clé,1\n"
        "evt-5,plain\n",
    )

    result = harness.invoke(s3_event(KEY))

    (written,) = [k for k in harness.object_keys() if k.startswith("upload_actuals-ground-truth/")]
    records = [json.loads(line) for line in harness.get(written).decode().splitlines()]
    assert [r["eventMetadata"]["eventId"] for r in records] == ["evt-1", "evt-2", "evt-5"]
    labels = [r["groundTruthData"]["data"] for r in records]
    assert labels == ['"red, large"', '"say ""hi"""', "plain"]
    # each label reads back as exactly one CSV field holding the original text
    assert [next(csv.reader([label])) for label in labels] == [["red, large"], ['say "hi"'], ["plain"]]
    assert result["results"][0]["bad_rows"] == 2
    assert harness.api.lookups == []


def test_cold_start_reads_settings_from_the_environment(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in harness.environment().items():
        monkeypatch.setenv(name, value)
    report_actuals.runtime.cache_clear()
    harness.put(KEY, csv_text(3))
    try:
        harness.invoke(s3_event(KEY))
        assert report_actuals.runtime() is report_actuals.runtime()
    finally:
        report_actuals.runtime.cache_clear()

    assert_each_delivered_once(harness.api.delivered_ids(), ALL_IDS[:3])


def count_reads_of(harness: Harness, monkeypatch: pytest.MonkeyPatch, key: str) -> list[str]:
    """Every GET of ``key`` by the handler's S3 client, recorded."""
    s3 = report_actuals.runtime().reporter._s3
    original = s3.get_object
    reads: list[str] = []

    def get_object(**kwargs: object) -> object:
        if kwargs.get("Key") == key:
            reads.append(key)
        return original(**kwargs)

    monkeypatch.setattr(s3, "get_object", get_object)
    return reads


def use_spool_limit(harness: Harness, monkeypatch: pytest.MonkeyPatch, limit_bytes: int) -> None:
    """The runtime with a spool limit in bytes, finer than the variable's megabytes allow."""
    current = report_actuals.build_runtime(
        dataclasses.replace(harness.settings(), spool_limit_bytes=limit_bytes)
    )
    monkeypatch.setattr(report_actuals, "runtime", lambda: current)


def test_by_default_the_file_is_read_once_and_sent_from_the_spool(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.use()
    harness.put(KEY, csv_text(25))
    reads = count_reads_of(harness, monkeypatch, KEY)

    harness.invoke(s3_event(KEY))

    assert len(reads) == 1
    assert_each_delivered_once(harness.api.delivered_ids(), ALL_IDS)
    assert harness.object_keys() == []


@pytest.mark.parametrize(
    "case", ["spool off", "file larger than the limit", "spool outgrows the limit", "no temporary file"]
)
def test_without_a_spool_the_file_is_validated_then_read_again_to_send(
    harness: Harness, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    # Given a clean file of 25 rows (about 300 bytes of CSV, 1 KB once encoded)
    body = csv_text(25)
    if case == "spool off":
        harness.use(spool_limit_mb=0)
    elif case == "file larger than the limit":
        use_spool_limit(harness, monkeypatch, len(body) - 1)
    elif case == "spool outgrows the limit":
        use_spool_limit(harness, monkeypatch, len(body) + 1)
    else:
        harness.use()

        def no_space(**_: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(pipeline_module.tempfile, "TemporaryFile", no_space)
    harness.put(KEY, body)
    reads = count_reads_of(harness, monkeypatch, KEY)

    # When it is reported
    harness.invoke(s3_event(KEY))

    # Then it was read twice, and every row still went out exactly once
    assert len(reads) == 2
    assert_each_delivered_once(harness.api.delivered_ids(), ALL_IDS)
    assert harness.object_keys() == []


@pytest.mark.parametrize("spool_mb", [0, 256])
def test_a_bad_row_after_good_chunks_sends_nothing_with_or_without_a_spool(
    harness: Harness, spool_mb: int
) -> None:
    harness.use(spool_limit_mb=spool_mb)
    body = csv_text(35) + "late,\n" + csv_text(5, start=35, header="").lstrip("\r\n")
    harness.put(KEY, body)

    with pytest.raises(ActualsReportingError, match="FileFailed"):
        harness.invoke(s3_event(KEY))

    assert harness.api.requests == 0
    report = harness.report(FAILED)
    assert report["badRows"] == [{"row": 36, "line": 37, "reason": "actualValue is empty"}]
    assert harness.get(FAILED) == body.encode()


def test_a_file_replaced_between_the_two_reads_is_not_half_sent(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.use(spool_limit_mb=0)
    harness.put(KEY, csv_text(25))
    s3 = report_actuals.runtime().reporter._s3
    original = s3.get_object
    reads = {"n": 0}

    def replacing_get_object(**kwargs: object) -> object:
        if kwargs.get("Key") == KEY:
            reads["n"] += 1
            if reads["n"] == 2:
                harness.put(KEY, csv_text(30))
        return original(**kwargs)

    monkeypatch.setattr(s3, "get_object", replacing_get_object)

    with pytest.raises(ActualsReportingError, match="RetryLater"):
        harness.invoke(s3_event(KEY))

    assert harness.api.requests == 0
    assert harness.get(KEY) == csv_text(30).encode()


def test_the_next_request_leaves_while_written_statuses_are_polled_within_the_window(
    harness: Harness,
) -> None:
    # Given requests taking 30 ms, ingestion that takes a few 20 ms polls, and two request slots
    harness.use(
        max_in_flight=2,
        status_poll={"interval_seconds": 0.02, "max_interval_seconds": 0.02},
    )
    harness.api.running_polls = 2
    harness.put(KEY, csv_text(100))
    arrived: set[int] = set()
    seen: list[tuple[int, int]] = []

    def check_the_window(deployment_id: str, rows: list) -> None:
        # as each request arrives: chunks sent with neither their acceptance nor their status written
        arrived.add(int(rows[0]["associationId"][3:]) // 10)
        progress = state_module.ProgressState.from_json(harness.get(STATE))
        seen.append((len(arrived - progress.accepted - set(progress.pending)), len(progress.pending)))
        time.sleep(0.03)

    harness.api.before_accept.append(check_the_window)

    # When the file is reported
    harness.invoke(s3_event(KEY))

    # Then no more than two chunks were ever at risk of a second delivery, while requests
    # went on as earlier chunks were still being polled
    assert_each_delivered_once(harness.api.delivered_ids(), [f"id-{index:06d}" for index in range(100)])
    assert max(at_risk for at_risk, _ in seen) <= 2
    assert max(polled for _, polled in seen) >= 1


def test_mlgw_redrive_actuals_failed_moves_the_file_back_and_the_state_resumes_it(harness: Harness) -> None:
    from mlgw_client.redrive import move_back

    harness.use(max_in_flight=1)
    harness.put(KEY, csv_text(25))

    def refuse_the_next_chunk(deployment_id: str, rows: list) -> None:
        harness.api.before_accept.clear()
        harness.api.faults.append(Fault(400, text="bad chunk"))

    harness.api.before_accept.append(refuse_the_next_chunk)
    with pytest.raises(ActualsReportingError):
        harness.invoke(s3_event(KEY))
    out = io.StringIO()

    # When the operator moves the failed file back (its copy's event invokes the function)
    move_back(harness.s3, f"s3://actuals-bucket/{FAILED}", out)
    harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-redrive"))

    # Then it came back under its key with its ETag, and only the chunks not accepted were sent
    assert "same ETag: the function resumes after the chunks already accepted" in out.getvalue()
    assert FAILED not in harness.object_keys()
    assert_each_delivered_once(harness.api.delivered_ids(), ALL_IDS)
