import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import urllib3
from actuals_fake_api import FakeActualsApi, Fault
from actuals_helpers import DEPLOYMENT, TOKEN

from mlgw.actuals.client import (
    ActualsApi,
    MaybeAccepted,
    OutOfTime,
    PermanentDeliveryError,
    RetryPolicy,
    StatusGone,
    Throttled,
    TokenProvider,
    TransientDeliveryError,
    parse_retry_after,
)
from mlgw.actuals.csvfile import Batch
from mlgw.actuals.sinks import datarobot_body

ROWS = [{"associationId": "a-1", "actualValue": 1}, {"associationId": "a-2", "actualValue": "cat"}]
BATCH = Batch(['"a-1"', '"a-2"'], ["1", '"cat"'], ["1", "cat"])


class Secrets:
    """Stands in for the Secrets Manager client; the handler tests use moto instead."""

    def __init__(self, *values: str) -> None:
        self.values = list(values)
        self.calls = 0

    def get_secret_value(self, SecretId: str) -> dict[str, Any]:
        self.calls += 1
        return {"SecretString": self.values[min(self.calls, len(self.values)) - 1]}


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_api(
    fake_api: FakeActualsApi, *, secrets: Secrets | None = None, retries: int = 3, read_timeout: float = 2.0
) -> tuple[ActualsApi, Sleeps, Secrets]:
    sleeps = Sleeps()
    secrets = secrets or Secrets(TOKEN)
    api = ActualsApi(
        urllib3.PoolManager(maxsize=2, retries=False),
        fake_api.url,
        TokenProvider(secrets, "arn:secret"),
        RetryPolicy(max_retries=retries, base=0.01, cap=0.05),
        connect_timeout=1.0,
        read_timeout=read_timeout,
        poll_interval=0.0,
        poll_max_interval=0.0,
        sleep=sleeps,
        rng=lambda: 1.0,
    )
    return api, sleeps, secrets


def deliver(api: ActualsApi, deadline: float = 30.0) -> None:
    status = api.submit(DEPLOYMENT, datarobot_body(BATCH), time.monotonic() + deadline)
    assert status is not None
    api.wait(status, time.monotonic() + deadline)


def test_submission_posts_the_rows_and_polls_until_completed(fake_api: FakeActualsApi) -> None:
    fake_api.running_polls = 3
    api, sleeps, _ = make_api(fake_api)

    deliver(api)

    (submission,) = fake_api.submissions
    assert submission.deployment_id == DEPLOYMENT
    assert submission.rows == ROWS
    assert submission.authorization == f"Bearer {TOKEN}"
    assert fake_api.polls == {"1": 4}
    assert len(sleeps) == 3


def test_final_json_status_completed_is_success(fake_api: FakeActualsApi) -> None:
    fake_api.final_status = "COMPLETED"
    api, _, _ = make_api(fake_api)

    deliver(api)

    assert len(fake_api.submissions) == 1


def test_failed_ingestion_status_is_permanent(fake_api: FakeActualsApi) -> None:
    fake_api.final_status = "ERROR"
    api, _, _ = make_api(fake_api)

    with pytest.raises(PermanentDeliveryError, match="status ERROR"):
        deliver(api)


def test_unknown_status_url_is_reported_as_gone(fake_api: FakeActualsApi) -> None:
    api, _, _ = make_api(fake_api)

    with pytest.raises(StatusGone):
        api.wait(f"{fake_api.url}/api/v2/status/999/", time.monotonic() + 5)


def test_a_307_from_the_status_poll_is_followed_once(fake_api: FakeActualsApi) -> None:
    fake_api.running_polls = 2
    fake_api.status_redirects = 2
    api, _, _ = make_api(fake_api)

    deliver(api)

    assert len(fake_api.submissions) == 1
    assert fake_api.polls == {"1": 3}


def test_the_deployment_target_type_comes_from_the_deployment(fake_api: FakeActualsApi) -> None:
    fake_api.target_type = "Regression"
    api, _, _ = make_api(fake_api)

    assert api.target_type(DEPLOYMENT, time.monotonic() + 5) == "Regression"
    assert fake_api.lookups == [DEPLOYMENT]


def test_429_waits_at_least_retry_after(fake_api: FakeActualsApi) -> None:
    fake_api.faults.extend([Fault(429, {"Retry-After": "2"}, "slow down"), Fault(429)])
    api, sleeps, _ = make_api(fake_api)

    deliver(api)

    assert sleeps[0] == 2.0
    assert sleeps[1] == pytest.approx(0.02)
    assert len(fake_api.submissions) == 1


def test_5xx_and_dropped_connections_are_retried_with_growing_backoff(fake_api: FakeActualsApi) -> None:
    fake_api.faults.extend([Fault(500, text="boom"), Fault(drop=True), Fault(503)])
    api, sleeps, _ = make_api(fake_api)

    deliver(api)

    assert sleeps[:3] == pytest.approx([0.01, 0.02, 0.04])
    assert len(fake_api.submissions) == 1


def test_a_stalled_reply_times_out_and_is_retried(fake_api: FakeActualsApi) -> None:
    fake_api.faults.append(Fault(stall_seconds=0.6))
    api, sleeps, _ = make_api(fake_api, read_timeout=0.2)

    deliver(api)

    assert len(sleeps) >= 1
    assert len(fake_api.submissions) == 1


def test_a_slow_reply_within_the_timeout_is_simply_waited_for(fake_api: FakeActualsApi) -> None:
    fake_api.latency = 0.2
    fake_api.running_polls = 0
    api, sleeps, _ = make_api(fake_api, read_timeout=1.0)

    deliver(api)

    assert sleeps == []
    assert len(fake_api.submissions) == 1


def test_retries_exhausted_is_transient(fake_api: FakeActualsApi) -> None:
    fake_api.faults.extend([Fault(502)] * 4)
    api, sleeps, _ = make_api(fake_api, retries=3)

    with pytest.raises(TransientDeliveryError, match="answered 502"):
        deliver(api)

    assert len(sleeps) == 3
    assert fake_api.submissions == []


def test_retry_after_beyond_the_deadline_is_slept_to_the_deadline_then_handed_off(
    fake_api: FakeActualsApi,
) -> None:
    # Given a 429 asking for two minutes when ten seconds are left
    fake_api.faults.append(Fault(429, {"Retry-After": "120"}))
    api, sleeps, _ = make_api(fake_api)

    # Then the invocation waits out its own time (no hot loop of invocations), and the error
    # says "out of time", which the pipeline hands off instead of spending a retry
    with pytest.raises(Throttled) as caught:
        deliver(api, deadline=10)

    assert isinstance(caught.value, OutOfTime)
    assert len(sleeps) == 1
    assert 9 < sleeps[0] <= 10
    assert fake_api.submissions == []


def test_429s_spend_no_retries_of_the_request(fake_api: FakeActualsApi) -> None:
    # Given more 429s than the request has retries, each with a short Retry-After
    fake_api.faults.extend([Fault(429, {"Retry-After": "0"})] * 6)
    api, sleeps, _ = make_api(fake_api, retries=2)

    deliver(api)

    assert len([seconds for seconds in sleeps if seconds > 0]) == 6  # the last is the status poll
    assert len(fake_api.submissions) == 1


def test_the_deployment_lookup_reads_class_count_and_forecast_distances(fake_api: FakeActualsApi) -> None:
    fake_api.target_type = "Multiclass"
    fake_api.model_package = {
        "id": "pkg-1",
        "target": {"type": "Multiclass", "classNames": ["a", "b", "c"]},
        "modelKind": {"isTimeSeries": True},
        "timeseries": {"forecastDistances": [1, 2]},
    }
    api, _, _ = make_api(fake_api)

    info = api.deployment(DEPLOYMENT, time.monotonic() + 5)

    assert (info.target_type, info.class_count, info.forecast_distances) == ("Multiclass", 3, 2)
    assert info.actuals_per_row() == 6
    assert fake_api.lookups == [DEPLOYMENT, "modelPackages/pkg-1"]


@pytest.mark.parametrize("status", [400, 403, 404, 413, 422])
def test_other_client_errors_fail_fast_with_the_response_text(fake_api: FakeActualsApi, status: int) -> None:
    fake_api.faults.append(Fault(status, text=f"deployment says no ({status})"))
    api, sleeps, _ = make_api(fake_api)

    with pytest.raises(PermanentDeliveryError) as caught:
        deliver(api)

    assert caught.value.status == status
    assert caught.value.response_text == f"deployment says no ({status})"
    assert sleeps == []
    assert fake_api.requests == 1


def test_401_refreshes_the_token_once_and_continues(fake_api: FakeActualsApi) -> None:
    fake_api.tokens = {"rotated"}
    api, _, secrets = make_api(fake_api, secrets=Secrets("stale", "rotated"))

    deliver(api)
    deliver(api)

    assert secrets.calls == 2
    assert [s.authorization for s in fake_api.submissions] == ["Bearer rotated", "Bearer rotated"]


def test_a_second_401_is_final(fake_api: FakeActualsApi) -> None:
    fake_api.tokens = {"something-else"}
    api, _, secrets = make_api(fake_api, secrets=Secrets("stale", "still-stale"))

    with pytest.raises(PermanentDeliveryError, match="rejected the token twice") as caught:
        deliver(api)

    assert caught.value.status == 401
    assert secrets.calls == 2


def test_token_secret_may_be_json() -> None:
    assert TokenProvider(Secrets('{"token": " abc "}'), "arn").current() == "abc"
    with pytest.raises(PermanentDeliveryError, match="'token' field"):
        TokenProvider(Secrets('{"key": "abc"}'), "arn").current()


def test_backoff_is_full_jitter_capped() -> None:
    policy = RetryPolicy(max_retries=10, base=0.5, cap=4.0)

    assert [policy.delay(n, None, lambda: 1.0) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert policy.delay(3, None, lambda: 0.25) == 1.0
    assert policy.delay(0, 3.0, lambda: 1.0) == 3.0


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    now = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)

    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(later, now=now.timestamp) == pytest.approx(30.0)
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


class ScriptedHttp:
    """A PoolManager whose answers (responses or exceptions to raise) are scripted in order."""

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls = 0

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        self.calls += 1
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def _response(status: int, location: str | None = None) -> urllib3.HTTPResponse:
    headers = {"Location": location} if location else {}
    return urllib3.HTTPResponse(
        body=b'{"message": "x"}', status=status, headers=headers, preload_content=True
    )


def _scripted_api(http: ScriptedHttp) -> ActualsApi:
    return ActualsApi(
        http,  # type: ignore[arg-type]
        "https://platform.example",
        TokenProvider(Secrets(TOKEN), "arn:secret"),
        RetryPolicy(max_retries=3, base=0.01, cap=0.05),
        connect_timeout=1.0,
        read_timeout=2.0,
        poll_interval=0.0,
        poll_max_interval=0.0,
        sleep=Sleeps(),
        rng=lambda: 1.0,
    )


_READ_TIMEOUT = urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out")  # type: ignore[arg-type]
_DROPPED = urllib3.exceptions.ProtocolError("Connection aborted.")


@pytest.mark.parametrize("failure", [_READ_TIMEOUT, _DROPPED, _response(503), _response(500)])
def test_a_request_that_must_not_be_sent_twice_is_not_resent_after_an_ambiguous_failure(failure: Any) -> None:
    http = ScriptedHttp(failure, _response(202, "https://platform.example/status/1/"))
    api = _scripted_api(http)

    with pytest.raises(MaybeAccepted, match="may have"):
        api.request("POST", "https://platform.example/x/", b"{}", time.monotonic() + 30, resend=False)
    assert http.calls == 1


@pytest.mark.parametrize(
    "failure",
    [
        urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
        urllib3.exceptions.ConnectTimeoutError("connect timed out"),
        _response(429),
    ],
)
def test_a_request_that_never_left_or_was_refused_with_429_is_sent_again(failure: Any) -> None:
    http = ScriptedHttp(failure, _response(202, "https://platform.example/status/1/"))
    api = _scripted_api(http)

    response = api.request("POST", "https://platform.example/x/", b"{}", time.monotonic() + 30, resend=False)

    assert response.status == 202
    assert http.calls == 2


def test_an_ordinary_request_is_still_resent_after_a_read_timeout() -> None:
    http = ScriptedHttp(_READ_TIMEOUT, _response(202, "https://platform.example/status/1/"))

    response = _scripted_api(http).request(
        "POST", "https://platform.example/x/", b"{}", time.monotonic() + 30
    )

    assert response.status == 202
    assert http.calls == 2
