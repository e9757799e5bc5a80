"""Continuation across invocations, pacing under the hourly budget, and refusals that fail at once.

The harness stands in for Lambda's asynchronous Invoke: it captures the continuation event a
hand-off queues and runs the handler again with it, under a new request id.
"""

import itertools
import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from actuals_fake_api import Fault
from actuals_helpers import DEPLOYMENT, PREFIX, FakeContext, Harness, csv_text, s3_event
from botocore.exceptions import ClientError

from mlgw.actuals import sinks as sinks_module
from mlgw.actuals import state as state_module
from mlgw.handlers import report_actuals
from mlgw.handlers.report_actuals import ActualsReportingError
from mlgw.pipeline.continuation import Continuation

KEY = f"{PREFIX}{DEPLOYMENT}/big.csv"
STATE = f"upload_actuals-state/{DEPLOYMENT}/big.csv.json"
FAILED = f"upload_actuals-failed/{DEPLOYMENT}/big.csv"
BUDGET = f"upload_actuals-state/{DEPLOYMENT}.budget.json"

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")


class Invoker:
    """Captures what a hand-off queues, as Lambda's Invoke with InvocationType Event would."""

    def __init__(self) -> None:
        self.queued: list[tuple[str, dict[str, Any]]] = []

    def hand_off(self, function_name: str, continuation: Continuation) -> None:
        self.queued.append((function_name, json.loads(json.dumps(continuation.event()))))


def ids(count: int) -> list[str]:
    return [f"id-{index:06d}" for index in range(count)]


def ticking(seconds: float, step: float = 0.1) -> Callable[[], float]:
    """Time left that shrinks by ``step`` at every look, so each invocation ends early."""
    left = {"value": seconds}

    def remaining() -> float:
        left["value"] -= step
        return left["value"]

    return remaining


def run_chain(
    harness: Harness, invoker: Invoker, first: dict[str, Any], *, seconds: float = 1.5, limit: int = 40
) -> list[dict[str, Any]]:
    """Run the first event, then every queued continuation in turn; returns each result."""
    results = [harness.invoke(first, FakeContext(aws_request_id="req-0", remaining=ticking(seconds)))]
    for number in itertools.count(1):
        if not invoker.queued or number > limit:
            break
        function_name, event = invoker.queued.pop(0)
        assert function_name == "churn-report-actuals"
        context = FakeContext(aws_request_id=f"req-{number}", remaining=ticking(seconds))
        results.append(harness.invoke(event, context))
    return results


def use(harness: Harness, **fields: Any) -> Invoker:
    invoker = Invoker()
    harness.use(**fields).reporter.invoker = invoker
    return invoker


def assert_each_once(harness: Harness, expected: list[str]) -> None:
    counts = Counter(harness.api.delivered_ids())
    assert sorted(counts) == sorted(expected)
    assert set(counts.values()) == {1}


def test_a_file_longer_than_one_invocation_completes_through_hand_offs_without_lambda_retries(
    harness: Harness,
) -> None:
    # Given a file of 12 chunks when one invocation has time for about three
    invoker = use(harness, max_in_flight=1)
    harness.api.latency = 0.03
    harness.put(KEY, csv_text(120))

    # When the S3 event arrives and every queued continuation runs
    results = run_chain(harness, invoker, s3_event(KEY))

    # Then no invocation failed (Lambda's retries untouched), each handed off to the next, and
    # every row was delivered exactly once before the file was removed
    statuses = [result["results"][0]["status"] for result in results]
    assert statuses[-1] == "reported"
    assert set(statuses[:-1]) == {"handed-off"}
    assert len(results) >= 3
    chain = [result["results"][0]["handoffs"] for result in results]
    assert chain == [*range(1, len(results)), len(results) - 1]
    assert sum(result["results"][0]["rows_sent"] for result in results) == 120
    assert_each_once(harness, ids(120))
    assert harness.object_keys() == []


def test_each_hand_off_reserves_the_file_for_its_continuation_with_a_fresh_retry_budget(
    harness: Harness,
) -> None:
    invoker = use(harness, max_in_flight=1)
    harness.api.latency = 0.03
    harness.put(KEY, csv_text(120))

    harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-0", remaining=ticking(1.5)))

    progress = state_module.ProgressState.from_json(harness.get(STATE))
    ((_, event),) = invoker.queued
    body = event["mlgwContinuation"]
    etag = harness.s3.head_object(Bucket="actuals-bucket", Key=KEY)["ETag"]
    assert (body["bucket"], body["key"], body["etag"], body["handoff"]) == ("actuals-bucket", KEY, etag, 1)
    assert progress.handoffs == 1
    assert progress.owner == body["token"] == "req-0#1"
    assert progress.attempts == 0
    assert progress.validated


def test_a_duplicate_event_mid_chain_neither_sends_nor_breaks_the_chain(harness: Harness) -> None:
    invoker = use(harness, max_in_flight=1)
    harness.api.latency = 0.03
    harness.put(KEY, csv_text(120))
    harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-0", remaining=ticking(1.5)))
    sent = harness.api.requests

    # When S3 delivers the same event again while the continuation is queued
    duplicate = harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-dup"))

    # Then it finds the file reserved and sends nothing; the chain goes on to the end
    assert duplicate["results"][0]["status"] == "busy"
    assert harness.api.requests == sent
    _, event = invoker.queued.pop(0)
    run_chain(harness, invoker, event)
    assert_each_once(harness, ids(120))
    assert harness.object_keys() == []


def test_a_stale_continuation_sends_nothing(harness: Harness) -> None:
    invoker = use(harness, max_in_flight=1)
    harness.api.latency = 0.03
    harness.put(KEY, csv_text(120))
    harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-0", remaining=ticking(1.5)))
    _, event = invoker.queued.pop(0)
    stale = json.loads(json.dumps(event))
    stale["mlgwContinuation"]["handoff"] = 0
    stale["mlgwContinuation"]["token"] = "req-old#0"
    sent = harness.api.requests

    result = harness.invoke(stale, FakeContext(aws_request_id="req-stale"))

    assert result["results"][0]["status"] == "busy"
    assert harness.api.requests == sent


def test_a_retry_of_an_invocation_that_died_before_queueing_its_continuation_takes_the_file_back(
    harness: Harness,
) -> None:
    # Given an invocation killed after it reserved the file but before Lambda queued the event
    class Killed(BaseException):
        pass

    class DyingInvoker(Invoker):
        def hand_off(self, function_name: str, continuation: Continuation) -> None:
            raise Killed

    invoker = use(harness, max_in_flight=1)
    harness.api.latency = 0.03
    harness.put(KEY, csv_text(60))
    runtime_invoker = DyingInvoker()
    harness.use(max_in_flight=1).reporter.invoker = runtime_invoker
    with pytest.raises(Killed):
        harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-0", remaining=ticking(1.5)))
    assert state_module.ProgressState.from_json(harness.get(STATE)).owner == "req-0#1"

    # When Lambda retries that event (same request id), then runs whatever it queues
    harness.use(max_in_flight=1).reporter.invoker = invoker
    results = run_chain(harness, invoker, s3_event(KEY))

    # Then the retry took the file back and the chain finished it, every row once
    assert results[0]["results"][0]["status"] in {"handed-off", "reported"}
    assert_each_once(harness, ids(60))
    assert harness.object_keys() == []


def test_a_hand_off_lambda_refuses_leaves_the_file_to_lambdas_retry(harness: Harness) -> None:
    class Refusing(Invoker):
        def hand_off(self, function_name: str, continuation: Continuation) -> None:
            raise ClientError({"Error": {"Code": "TooManyRequestsException"}}, "Invoke")

    harness.use(max_in_flight=1).reporter.invoker = Refusing()
    harness.api.latency = 0.03
    harness.put(KEY, csv_text(120))

    with pytest.raises(ActualsReportingError, match="RetryLater"):
        harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-0", remaining=ticking(1.5)))

    progress = state_module.ProgressState.from_json(harness.get(STATE))
    assert (progress.handoffs, progress.lease_expires) == (0, 0.0)
    assert KEY in harness.object_keys()


def test_no_progress_for_max_idle_hand_offs_fails_the_file_with_a_report(harness: Harness) -> None:
    # Given a service that answers every request 429 with a Retry-After beyond any deadline
    invoker = use(harness, max_idle_handoffs=2)
    harness.api.faults.extend([Fault(429, {"Retry-After": "600"})] * 20)
    harness.put(KEY, csv_text(20))

    # When the chain runs
    with pytest.raises(ActualsReportingError, match="FileFailed"):
        run_chain(harness, invoker, s3_event(KEY), seconds=1.3, limit=10)

    # Then two idle hand-offs were allowed, the third failed the file with a report
    report = harness.report(FAILED)
    assert report["reason"] == "no progress in 2 hand-offs in a row"
    assert report["handoffs"] == 2
    assert report["status"] == 429
    assert harness.api.submissions == []
    assert invoker.queued == []


def test_the_model_monitor_sink_continues_across_invocations(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    invoker = use(harness, sinks=["model-monitor"], max_in_flight=1)
    delivered = sinks_module.ModelMonitorSink.deliver

    def slow(self: Any, *args: Any, **kwargs: Any) -> str | None:
        import time

        time.sleep(0.1)
        return delivered(self, *args, **kwargs)

    monkeypatch.setattr(sinks_module.ModelMonitorSink, "deliver", slow)
    harness.put(KEY, csv_text(100))

    results = run_chain(harness, invoker, s3_event(KEY))

    assert len(results) >= 2
    assert results[-1]["results"][0]["status"] == "reported"
    written = [key for key in harness.object_keys() if key.startswith("upload_actuals-ground-truth/")]
    lines = [line for key in written for line in harness.get(key).decode().splitlines()]
    event_ids = [json.loads(line)["eventMetadata"]["eventId"] for line in lines]
    assert sorted(event_ids) == ids(100)


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (404, "the deployment was not found: Deployment not found"),
        (422, "the platform refused the actuals: Association ID is not configured for this deployment"),
    ],
)
def test_404_and_422_fail_the_file_at_once_with_the_platforms_message(
    harness: Harness, status: int, reason: str
) -> None:
    invoker = use(harness, max_in_flight=1)
    message = reason.split(": ", 1)[1]
    harness.api.faults.append(Fault(status, text=json.dumps({"message": message})))
    harness.put(KEY, csv_text(25))

    with pytest.raises(ActualsReportingError, match="FileFailed"):
        harness.invoke(s3_event(KEY))

    report = harness.report(FAILED)
    assert report["reason"] == reason
    assert report["status"] == status
    assert harness.api.requests == 1  # no retry of the request
    assert invoker.queued == []  # no hand-off
    assert KEY not in harness.object_keys()


def test_a_chunk_costs_rows_times_classes_and_the_budget_paces_it_across_invocations(
    harness: Harness,
) -> None:
    # Given a multiclass deployment of 3 classes and a budget of 60 actuals a minute
    harness.api.target_type = "Multiclass"
    harness.api.model_package = {"id": "pkg-1", "target": {"classNames": ["a", "b", "c"]}}
    invoker = use(harness, max_in_flight=1, pacing={"actuals_per_hour": 3600, "window_seconds": 60})
    harness.put(KEY, csv_text(50))
    # The wait for the window is recorded instead of slept: the invocation has about 3.8 s of
    # real time (a little under 5 s left at its start, less the 1 s margin), so a slow machine
    # still sends both chunks in time.
    sink = next(
        s for s in report_actuals.runtime().reporter._sinks if isinstance(s, sinks_module.DataRobotSink)
    )
    waits: list[float] = []
    sink._budget._sleep = waits.append

    # When the first invocation runs
    first = harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-0", remaining=ticking(5.0)))

    # Then it sent the two chunks (2 x 10 rows x 3 classes) the minute allows, waited within its
    # time and handed off; waiting for the budget is progress, not idleness
    assert first["results"][0]["status"] == "handed-off"
    assert len(harness.api.submissions) == 2
    assert len(waits) == 1
    assert 0 < waits[0] <= 4.0
    progress = state_module.ProgressState.from_json(harness.get(STATE))
    assert progress.idle_handoffs == 0
    budget = json.loads(harness.get(BUDGET))
    assert budget["allowance"] == 60
    assert sum(budget["slots"].values()) == 60
    assert len(invoker.queued) == 1


def test_a_chunk_over_the_whole_budget_fails_the_file(harness: Harness) -> None:
    harness.api.target_type = "Multiclass"
    harness.api.model_package = {"id": "pkg-1", "target": {"classCount": 7}}
    use(harness, pacing={"actuals_per_hour": 3600, "window_seconds": 60})
    harness.put(KEY, csv_text(30))

    with pytest.raises(ActualsReportingError, match="FileFailed"):
        harness.invoke(s3_event(KEY))

    assert "more than the 60 the budget allows" in harness.report(FAILED)["reason"]
    assert harness.api.submissions == []


def test_a_full_chunk_over_the_budget_fails_the_file_before_the_shorter_last_one_is_sent(
    harness: Harness,
) -> None:
    # Given 7 classes and a budget of 60 actuals a window: a full chunk of 10 rows costs 70, more
    # than the window allows, while the last chunk of 5 rows (35) would fit
    harness.api.target_type = "Multiclass"
    harness.api.model_package = {"id": "pkg-1", "target": {"classCount": 7}}
    use(harness, pacing={"actuals_per_hour": 3600, "window_seconds": 60})
    harness.put(KEY, csv_text(25))

    with pytest.raises(ActualsReportingError, match="FileFailed"):
        harness.invoke(s3_event(KEY))

    # Then the file failed and not even the last chunk reached the service
    assert "more than the 60 the budget allows" in harness.report(FAILED)["reason"]
    assert harness.api.submissions == []


def test_a_continuation_that_failed_every_attempt_completes_the_file_when_redriven(harness: Harness) -> None:
    # Given a chain whose continuation failed twice on a transient error and was then killed (a
    # timeout or crash) before its last attempt recorded anything: Lambda's retries are spent
    invoker = use(harness, max_in_flight=1, http={"max_retries": 0})
    harness.api.latency = 0.03
    harness.put(KEY, csv_text(120))
    harness.invoke(s3_event(KEY), FakeContext(aws_request_id="req-0", remaining=ticking(1.5)))
    ((_, event),) = invoker.queued
    invoker.queued.clear()
    harness.api.faults.extend([Fault(503)] * 2)
    for _attempt in range(2):  # Lambda retries an event under the same request id
        # With time to spare (FakeContext's 600 s), the 503 ends each attempt: with the chain's
        # 1.5 s, a slow machine could run out of time first and hand off instead.
        with pytest.raises(ActualsReportingError):
            harness.invoke(event, FakeContext(aws_request_id="req-1"))

    # When `mlgw redrive` invokes the same continuation event again, under a new request id
    results = [harness.invoke(event, FakeContext(aws_request_id="req-redrive", remaining=ticking(1.5)))]
    while invoker.queued:
        _, queued = invoker.queued.pop(0)
        results.append(harness.invoke(queued, FakeContext(aws_request_id=f"req-r{len(results)}")))

    # Then the handler takes it (its hand-off number is still the state's) and finishes the file
    assert results[-1]["results"][0]["status"] == "reported"
    assert_each_once(harness, ids(120))
    assert harness.object_keys() == []
