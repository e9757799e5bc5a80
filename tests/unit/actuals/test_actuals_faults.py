"""The actuals reporter under faults: for every case, each input row was accepted by the receiver
or is in the errors file (the input moved to the failed prefix, or a bad row in the report), the
input is removed only after every chunk was accepted and is otherwise kept, and the invocation
returns or raises as it must.

Rows are counted by associationId, line by line, as a user reconciling a file would count them.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from actuals_fake_api import Fault
from actuals_helpers import (
    DEPLOYMENT,
    FAILED,
    PREFIX,
    PROCESSED,
    STATE,
    FakeContext,
    Harness,
    assert_each_delivered_once,
    csv_text,
    ground_truth_ids,
    ids_by_line,
    s3_event,
)

from mlgw.actuals.state import ProgressState
from mlgw.handlers import report_actuals
from mlgw.handlers.report_actuals import ActualsReportingError

NAME = "2024-06-01.csv"
KEY = f"{PREFIX}{DEPLOYMENT}/{NAME}"
REPORT_ROWS = 10  # the harness's report_rows: chunk n holds valid rows 10n to 10n + 9


def chunk_ids(valid_ids: list[str], ranges: list[list[int]], rows: int = REPORT_ROWS) -> list[str]:
    """The ids of the chunks in ``ranges``, each chunk ``rows`` valid rows (report_rows)."""
    return [aid for start, stop in ranges for aid in valid_ids[start * rows : stop * rows]]


def lines_of(bad_rows: list[dict[str, Any]]) -> list[int]:
    """Every physical line the bad rows of a report cover."""
    return [line for bad in bad_rows for line in range(bad["line"], bad.get("lastLine", bad["line"]) + 1)]


def assert_every_row_accounted(
    harness: Harness,
    body: str | bytes,
    *,
    key: str = KEY,
    received: list[str] | None = None,
    report_rows: int = REPORT_ROWS,
) -> str:
    """Each associationId of ``body`` was received exactly once or is in the errors file, and the
    input is where its outcome says: removed or archived once every valid row was accepted; moved
    byte for byte to the failed prefix, with the accepted chunks in its report; or kept in place,
    with the accepted chunks in its state object. Returns which of "done", "failed", "kept"."""
    data = body.encode() if isinstance(body, str) else body
    lines = ids_by_line(data)
    relative = key[len(PREFIX) :]
    keys = harness.object_keys()
    got = harness.api.delivered_ids() if received is None else received
    if f"{FAILED}{relative}" in keys:
        assert key not in keys
        assert harness.get(f"{FAILED}{relative}") == data
        report = harness.report(f"{FAILED}{relative}")
        bad_lines = set(lines_of(report["badRows"]))
        valid = [aid for line, aid in lines.items() if line not in bad_lines]
        assert_each_delivered_once(got, chunk_ids(valid, report["chunksAccepted"], report_rows))
        assert report["rowsAccepted"] == len(got)
        return "failed"
    if key in keys:
        assert harness.get(key) == data
        # Chunks the service took whose status is still to confirm are pending: the retry polls
        # their saved status instead of sending them again.
        progress = ProgressState.from_json(harness.get(f"{STATE}{relative}.json"))
        taken = sorted(progress.accepted | set(progress.pending))
        assert_each_delivered_once(
            got, chunk_ids(list(lines.values()), [[i, i + 1] for i in taken], report_rows)
        )
        return "kept"
    skipped: list[str] = []
    if f"{PROCESSED}{relative}.report.json" in keys:
        report = harness.report(f"{PROCESSED}{relative}")
        assert report["badRowCount"] == len(report["badRows"]), "the test must see every bad row"
        skipped = [lines[line] for line in lines_of(report["badRows"]) if line in lines]
    assert_each_delivered_once([*got, *skipped], list(lines.values()))
    assert not [k for k in keys if k.startswith(STATE)], "a finished file leaves no state object"
    return "done"


def invoke_failing(harness: Harness, key: str = KEY, context: FakeContext | None = None) -> str:
    with pytest.raises(ActualsReportingError) as failure:
        harness.invoke(s3_event(key), context)
    return str(failure.value)


def gone_after(harness: Harness, accepted: int, fault: Fault) -> None:
    """From the ``accepted``-th accepted chunk on, every later submission answers ``fault``."""

    def arm(deployment_id: str, rows: list[dict[str, Any]]) -> None:
        if len(harness.api.submissions) + 1 >= accepted:
            harness.api.before_accept.clear()
            harness.api.faults.extend([fault] * 1000)

    harness.api.before_accept.append(arm)


# The receiver answers 5xx


def test_5xx_on_some_calls_is_retried_and_every_row_arrives_once(harness: Harness) -> None:
    # Four retries per request: the four faults may all meet one request, whichever of the
    # requests in flight (POSTs, status polls) reaches the receiver first.
    harness.use(max_in_flight=2, http={**harness.fields["http"], "max_retries": 4})
    body = csv_text(95)
    harness.put(KEY, body)
    harness.api.faults.extend([Fault(500), Fault(502), Fault(503, text="busy"), Fault(504)])

    result = harness.invoke(s3_event(KEY))

    assert result["results"][0]["status"] == "reported"
    assert assert_every_row_accounted(harness, body) == "done"


def test_5xx_on_every_call_keeps_the_file_then_fails_it_when_attempts_run_out(harness: Harness) -> None:
    harness.use(max_attempts=2)
    body = csv_text(25)
    harness.put(KEY, body)
    harness.api.faults.extend([Fault(500)] * 1000)

    assert "RetryLater" in invoke_failing(harness)
    assert assert_every_row_accounted(harness, body) == "kept"

    assert "FileFailed" in invoke_failing(harness, context=FakeContext(aws_request_id="req-2"))
    assert assert_every_row_accounted(harness, body) == "failed"
    assert harness.report(f"{FAILED}{DEPLOYMENT}/{NAME}")["reason"] == "gave up after 2 attempts"


def test_5xx_from_mid_file_on_keeps_the_accepted_chunks_for_the_retry(harness: Harness) -> None:
    harness.use(max_in_flight=1)
    body = csv_text(45)
    harness.put(KEY, body)
    gone_after(harness, 2, Fault(503))

    assert "RetryLater" in invoke_failing(harness)
    assert assert_every_row_accounted(harness, body) == "kept"
    assert len(harness.api.submissions) == 2

    # When the service recovers, the retry sends only the chunks not yet accepted
    harness.api.faults.clear()
    harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-2"))
    assert assert_every_row_accounted(harness, body) == "done"


# Throttling


def test_throttling_waits_at_least_retry_after_then_every_row_arrives(harness: Harness) -> None:
    harness.use(max_in_flight=1)
    body = csv_text(15)
    harness.put(KEY, body)
    harness.api.faults.append(Fault(429, headers={"Retry-After": "1"}))
    started = time.monotonic()

    harness.invoke(s3_event(KEY))

    # The harness's backoff is 10 ms at most: only Retry-After explains a second's wait
    assert time.monotonic() - started >= 1.0
    assert assert_every_row_accounted(harness, body) == "done"


def test_throttling_longer_than_the_time_left_keeps_the_file_without_waiting(harness: Harness) -> None:
    harness.use()
    body = csv_text(15)
    harness.put(KEY, body)
    harness.api.faults.extend([Fault(429, headers={"Retry-After": "3600"})] * 1000)
    started = time.monotonic()

    # 1.5 s of work before the harness's 1 s margin: the 429's wait is slept only within that
    # time. This harness queues no hand-off (test_actuals_continuation covers it), so the file
    # is kept for Lambda's retry.
    assert "RetryLater" in invoke_failing(harness, context=FakeContext(remaining=lambda: 2.5))

    assert time.monotonic() - started < 8
    assert assert_every_row_accounted(harness, body) == "kept"


# Timeouts


def test_a_request_that_times_out_once_is_sent_again_and_every_row_arrives(harness: Harness) -> None:
    harness.use(max_in_flight=1, http={"read_timeout_seconds": 0.2})
    body = csv_text(25)
    harness.put(KEY, body)
    harness.api.faults.append(Fault(stall_seconds=0.5))

    harness.invoke(s3_event(KEY))

    assert assert_every_row_accounted(harness, body) == "done"


def test_requests_that_always_time_out_keep_the_file_for_the_retry(harness: Harness) -> None:
    harness.use(max_in_flight=1, http={"read_timeout_seconds": 0.1, "max_retries": 1})
    body = csv_text(25)
    harness.put(KEY, body)
    harness.api.faults.extend([Fault(stall_seconds=0.3)] * 1000)

    assert "RetryLater" in invoke_failing(harness)

    assert assert_every_row_accounted(harness, body) == "kept"


# The deployment disappears


def test_a_deployment_gone_mid_file_fails_the_file_with_the_accepted_chunks_in_its_report(
    harness: Harness,
) -> None:
    harness.use(max_in_flight=1)
    body = csv_text(45)
    harness.put(KEY, body)
    gone_after(harness, 2, Fault(404, text='{"message": "Deployment not found"}'))

    message = invoke_failing(harness)

    assert "FileFailed" in message
    assert assert_every_row_accounted(harness, body) == "failed"
    report = harness.report(f"{FAILED}{DEPLOYMENT}/{NAME}")
    assert (report["status"], report["chunksAccepted"]) == (404, [[0, 2]])


# Malformed rows


MALFORMED = (
    "associationId,actualValue,timestamp\n"
    "id-1,1,2024-05-01T12:00:00Z\n"
    "id-2,1\n"  # too few fields
    "id-3,1,2024-05-01T12:00:00Z,extra\n"  # too many
    ",1,\n"  # no id: counted by line as the empty id
    "id-5,,\n"  # no value
    "id-6,1,2024-05-01\n"  # not an RFC 3339 date-time
    f"{'x' * 129},1,\n"  # id longer than the API takes
    "id-8,8,\n"
)
MALFORMED_LINES = [3, 4, 5, 6, 7, 8]


def test_malformed_rows_reject_the_file_before_anything_is_sent(harness: Harness) -> None:
    harness.use()
    harness.put(KEY, MALFORMED)

    assert "FileFailed" in invoke_failing(harness)

    assert harness.api.requests == 0
    assert assert_every_row_accounted(harness, MALFORMED) == "failed"
    report = harness.report(f"{FAILED}{DEPLOYMENT}/{NAME}")
    assert [bad["line"] for bad in report["badRows"]] == MALFORMED_LINES


@pytest.mark.parametrize("on_success", ["delete", "archive"])
def test_malformed_rows_are_skipped_and_reported_in_skip_mode(harness: Harness, on_success: str) -> None:
    harness.use(bad_rows="skip", on_success=on_success)
    harness.put(KEY, MALFORMED)

    result = harness.invoke(s3_event(KEY))

    assert result["results"][0]["bad_rows"] == len(MALFORMED_LINES)
    assert assert_every_row_accounted(harness, MALFORMED) == "done"
    assert (f"{PROCESSED}{DEPLOYMENT}/{NAME}" in harness.object_keys()) is (on_success == "archive")


# Stray quotes


def test_a_quote_inside_an_unquoted_value_is_part_of_the_value(harness: Harness) -> None:
    harness.use()
    body = "associationId,actualValue\nid-1,5'11\"\n" + csv_text(30, header="").lstrip("\r\n")
    harness.put(KEY, body)

    harness.invoke(s3_event(KEY))

    assert assert_every_row_accounted(harness, body) == "done"
    first = next(s for s in harness.api.submissions if s.association_ids[0] == "id-1")
    assert first.rows[0]["actualValue"] == "5'11\""


@pytest.mark.parametrize("bad_rows", ["reject", "skip"])
def test_an_unclosed_quote_is_reported_at_the_line_that_opened_it(harness: Harness, bad_rows: str) -> None:
    harness.use(bad_rows=bad_rows, max_in_flight=1)
    body = csv_text(30) + 'id-x,"tall\r\n' + csv_text(20, start=30, header="").lstrip("\r\n")
    harness.put(KEY, body)

    message = invoke_failing(harness)

    assert "FileFailed" in message
    assert assert_every_row_accounted(harness, body) == "failed"
    assert "line 32" in harness.report(f"{FAILED}{DEPLOYMENT}/{NAME}")["reason"]


@pytest.mark.parametrize("bad_rows", ["reject", "skip"])
def test_a_quote_closed_lines_later_does_not_swallow_the_rows_between(
    harness: Harness, bad_rows: str
) -> None:
    # Given a value opening a quote that a value five lines later closes: to the csv module, one
    # record whose label holds the five lines between
    harness.use(bad_rows=bad_rows)
    rows = csv_text(5, start=1, header="").lstrip("\r\n")
    body = f'associationId,actualValue\nid-0,"tall\n{rows}id-6,short"\nid-7,7\n'
    harness.put(KEY, body)

    if bad_rows == "skip":
        assert harness.invoke(s3_event(KEY))["results"][0]["bad_rows"] == 1
        report = harness.report(f"{PROCESSED}{DEPLOYMENT}/{NAME}")
    else:
        assert "FileFailed" in invoke_failing(harness)
        report = harness.report(f"{FAILED}{DEPLOYMENT}/{NAME}")

    # Then no row vanished into another's label: the lines the quote spans are one bad row
    assert assert_every_row_accounted(harness, body) == ("done" if bad_rows == "skip" else "failed")
    [bad] = report["badRows"]
    assert (bad["line"], bad["lastLine"]) == (2, 8)


# Empty, header-only and undecodable files


@pytest.mark.parametrize(
    "body", ["", "associationId,actualValue\n", "\n\n", "\ufeffassociationId,actualValue\r\n\r\n"]
)
def test_empty_and_header_only_files_are_quarantined_without_a_request(harness: Harness, body: str) -> None:
    harness.use()
    harness.put(KEY, body)

    assert "FileFailed" in invoke_failing(harness)

    assert harness.api.requests == 0
    assert assert_every_row_accounted(harness, body) == "failed"


@pytest.mark.parametrize("bad_rows", ["reject", "skip"])
def test_a_byte_that_is_not_utf8_fails_the_file_at_its_exact_line(harness: Harness, bad_rows: str) -> None:
    # The byte comes after several of the reader's 64 KiB blocks; chunks of 1,000 rows keep the
    # 20,000 rows before it to 20 requests.
    harness.use(bad_rows=bad_rows, report_rows=1000)
    body = (
        csv_text(20_000).encode()
        + b"id-x,caf\xe9\r\n"
        + csv_text(5, start=20_000, header="").lstrip().encode()
    )
    harness.put(KEY, body)

    assert "FileFailed" in invoke_failing(harness)

    assert assert_every_row_accounted(harness, body, report_rows=1000) == "failed"
    assert "(line 20002)" in harness.report(f"{FAILED}{DEPLOYMENT}/{NAME}")["reason"]


# Keys and events


@pytest.mark.parametrize("name", ["daily scores+v2 é.csv", "100%.csv", "a%2Bb.csv"])
def test_url_encoded_keys_are_reported_and_archived_under_their_decoded_names(
    harness: Harness, name: str
) -> None:
    harness.use(on_success="archive")
    key = f"{PREFIX}{DEPLOYMENT}/{name}"
    body = csv_text(12)
    harness.put(key, body)

    harness.invoke(s3_event(key))

    assert assert_every_row_accounted(harness, body, key=key) == "done"
    assert harness.get(f"{PROCESSED}{DEPLOYMENT}/{name}") == body.encode()


def test_a_duplicate_record_in_one_event_sends_nothing_twice(harness: Harness) -> None:
    harness.use()
    body = csv_text(25)
    harness.put(KEY, body)

    result = harness.invoke(s3_event(KEY, KEY))

    assert [outcome["status"] for outcome in result["results"]] == ["reported", "gone"]
    assert assert_every_row_accounted(harness, body) == "done"


def test_a_duplicate_event_for_a_failed_file_leaves_it_in_the_failed_prefix(harness: Harness) -> None:
    harness.use()
    body = "associationId,actualValue\nid-1,\n"
    harness.put(KEY, body)
    invoke_failing(harness)

    result = harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-dup"))

    assert result["results"][0]["status"] == "gone"
    assert assert_every_row_accounted(harness, body) == "failed"


def test_concurrent_invocations_for_one_file_deliver_each_row_once(harness: Harness) -> None:
    harness.use(max_in_flight=1)
    harness.api.latency = 0.02
    body = csv_text(60)
    harness.put(KEY, body)
    results: list[dict[str, Any]] = []

    def invoke(request_id: str) -> None:
        results.append(harness.invoke(s3_event(KEY), FakeContext(aws_request_id=request_id)))

    threads = [threading.Thread(target=invoke, args=(f"req-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r["results"][0]["status"] for r in results) in (["busy", "reported"], ["gone", "reported"])
    assert assert_every_row_accounted(harness, body) == "done"


@pytest.mark.parametrize("on_success", ["delete", "archive"])
def test_a_newer_version_uploaded_mid_file_is_kept_for_its_own_event(
    harness: Harness, on_success: str
) -> None:
    # Given version 1 being sent when version 2 of the same key is uploaded
    harness.use(on_success=on_success, max_in_flight=1)
    older, newer = csv_text(25), csv_text(7, start=500)
    harness.put(KEY, older)

    def upload_version_2(deployment_id: str, rows: list[dict[str, Any]]) -> None:
        harness.api.before_accept.clear()
        harness.put(KEY, newer)

    harness.api.before_accept.append(upload_version_2)

    # When version 1 finishes, then version 2's own event arrives
    first = harness.invoke(s3_event(KEY))
    second = harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-v2"))

    # Then version 1's rows were sent once, and version 2 was neither removed nor lost
    assert first["results"][0]["status"] == "reported"
    assert second["results"][0]["status"] == "reported"
    assert_each_delivered_once(
        harness.api.delivered_ids(), [*ids_by_line(older).values(), *ids_by_line(newer).values()]
    )
    assert not [k for k in harness.object_keys() if k.startswith((PREFIX, STATE))]
    if on_success == "archive":
        assert harness.get(f"{PROCESSED}{DEPLOYMENT}/{NAME}") == newer.encode()


# Deadline pressure


def test_deadline_pressure_stops_before_the_margin_and_the_retry_finishes(harness: Harness) -> None:
    # Given 2.5 s left, a 1 s margin and a receiver taking 0.2 s a request
    harness.use(max_in_flight=1)
    harness.api.latency = 0.2
    body = csv_text(200)
    harness.put(KEY, body)
    end = time.monotonic() + 2.5

    assert "RetryLater" in invoke_failing(
        harness, context=FakeContext(remaining=lambda: end - time.monotonic())
    )

    # Then it stopped before Lambda would have, with what was accepted recorded
    assert time.monotonic() < end
    assert assert_every_row_accounted(harness, body) == "kept"
    harness.api.latency = 0
    harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-2"))
    assert assert_every_row_accounted(harness, body) == "done"


def test_a_stalled_request_is_bounded_by_the_time_left_not_the_read_timeout(harness: Harness) -> None:
    harness.use(http={"read_timeout_seconds": 60})
    body = csv_text(5)
    harness.put(KEY, body)
    harness.api.faults.append(Fault(stall_seconds=30))
    end = time.monotonic() + 3.0

    assert "RetryLater" in invoke_failing(
        harness, context=FakeContext(remaining=lambda: end - time.monotonic())
    )

    assert time.monotonic() < end
    assert assert_every_row_accounted(harness, body) == "kept"


# The Model Monitor sink


def test_a_failed_ground_truth_write_keeps_the_file_and_the_retry_rewrites_the_same_keys(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    harness.use(sinks=["model-monitor"], max_in_flight=1)
    body = csv_text(25)
    harness.put(KEY, body)
    s3 = report_actuals.runtime().reporter._s3
    original = s3.put_object
    calls = {"ground truth": 0}

    def failing_second_write(**kwargs: Any) -> Any:
        if kwargs["Key"].startswith("upload_actuals-ground-truth/"):
            calls["ground truth"] += 1
            if calls["ground truth"] == 2:
                raise ClientError({"Error": {"Code": "InternalError", "Message": "x"}}, "PutObject")
        return original(**kwargs)

    monkeypatch.setattr(s3, "put_object", failing_second_write)

    assert "RetryLater" in invoke_failing(harness)
    assert assert_every_row_accounted(harness, body, received=ground_truth_ids(harness)) == "kept"

    harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-2"))
    assert assert_every_row_accounted(harness, body, received=ground_truth_ids(harness)) == "done"


def test_ground_truth_ids_model_monitor_cannot_merge_reject_the_file_before_any_write(
    harness: Harness,
) -> None:
    harness.use(sinks=["model-monitor", "datarobot"])
    body = "associationId,actualValue\nid-1,1\nclé,2\n" + f"{'x' * 65},3\n"
    harness.put(KEY, body)

    assert "FileFailed" in invoke_failing(harness)

    assert ground_truth_ids(harness) == []
    assert assert_every_row_accounted(harness, body) == "failed"
    assert [bad["line"] for bad in harness.report(f"{FAILED}{DEPLOYMENT}/{NAME}")["badRows"]] == [3, 4]


def test_both_sinks_receive_every_row_through_receiver_faults(harness: Harness) -> None:
    harness.use(sinks=["model-monitor", "datarobot"], max_in_flight=2)
    body = csv_text(35)
    harness.put(KEY, body)
    harness.api.faults.extend([Fault(503), Fault(429, headers={"Retry-After": "0"}), Fault(500)])

    harness.invoke(s3_event(KEY))

    assert assert_every_row_accounted(harness, body) == "done"
    assert_each_delivered_once(ground_truth_ids(harness), list(ids_by_line(body).values()))
