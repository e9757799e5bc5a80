import json

import pytest
import urllib3
from predict_support import ModelServer, Reply

from mlgw.backends.clients import CallBudget
from mlgw.backends.errors import (
    BackendFailure,
    BackendTimeout,
    ModelError,
    PayloadTooLarge,
    Throttled,
    Unavailable,
)
from mlgw.backends.http import HttpBackend, retry_policy
from mlgw.backends.payload import CSV, JSON, Payload
from mlgw.routing import Route

BUDGET = CallBudget(connect_timeout=0.5, read_timeout=0.3, max_attempts=2)


def backend(url: str, protocol: str = "sagemaker", **route: object) -> HttpBackend:
    return HttpBackend(
        urllib3.PoolManager(),
        Route(name="m", backend="http", url=url, protocol=protocol, **route),  # type: ignore[arg-type]
        timeout=urllib3.Timeout(connect=BUDGET.connect_timeout, read=BUDGET.read_timeout),
        retries=retry_policy(BUDGET.max_attempts),
        retry_after=2,
    )


def test_sagemaker_protocol_forwards_the_body_with_headers(model_server: ModelServer) -> None:
    model_server.reply(Reply(body=b"0.82\n", headers={"Content-Type": "text/csv"}))
    answer = backend(f"{model_server.url}/invocations", content_type=CSV, accept=CSV).predict(
        Payload(b"1.2,3.4\n", CSV), inference_id="inf-7"
    )
    assert (answer.body, answer.content_type) == (b"0.82\n", "text/csv")
    sent = model_server.received[0]
    assert (sent.method, sent.path, sent.body) == ("POST", "/invocations", b"1.2,3.4\n")
    assert sent.headers["Content-Type"] == CSV
    assert sent.headers["Accept"] == CSV
    assert sent.headers["X-Inference-Id"] == "inf-7"


def test_kserve_v1_wraps_records_in_instances(model_server: ModelServer) -> None:
    backend(f"{model_server.url}/v1/models/churn:predict", "kserve-v1").predict(
        Payload(b"1.2,abc\n", CSV), inference_id="i"
    )
    assert json.loads(model_server.received[0].body) == {"instances": [[1.2, "abc"]]}


def test_mlflow_sends_dataframe_records_named_by_features(model_server: ModelServer) -> None:
    backend(f"{model_server.url}/invocations", "mlflow", feature_names=("a", "b")).predict(
        Payload(b'{"instances": [[1, 2], {"a": 3, "b": 4}]}', JSON), inference_id="i"
    )
    sent = model_server.received[0]
    assert json.loads(sent.body) == {"dataframe_records": [{"a": 1, "b": 2}, {"a": 3, "b": 4}]}
    assert sent.headers["Content-Type"] == JSON


def test_model_error_status_is_kept(model_server: ModelServer) -> None:
    model_server.reply(Reply(status=500, body=b"Traceback (most recent call last): ..."))
    with pytest.raises(ModelError) as caught:
        backend(model_server.url).predict(Payload(b'{"a": 1}', JSON), inference_id="i")
    assert caught.value.original_status == 500
    # A model's error status is an answer, not a transport failure: it is not retried
    assert len(model_server.received) == 1


@pytest.mark.parametrize(("status", "expected"), [(503, Unavailable), (429, Throttled)])
def test_busy_model_server_passes_its_retry_after(
    model_server: ModelServer, status: int, expected: type[Exception]
) -> None:
    model_server.reply(Reply(status=status, headers={"Retry-After": "9"}))
    with pytest.raises(expected) as caught:
        backend(model_server.url).predict(Payload(b'{"a": 1}', JSON), inference_id="i")
    assert caught.value.retry_after == 9  # type: ignore[attr-defined]


def test_retry_after_falls_back_to_the_setting(model_server: ModelServer) -> None:
    model_server.reply(Reply(status=503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}))
    with pytest.raises(Unavailable) as caught:
        backend(model_server.url).predict(Payload(b'{"a": 1}', JSON), inference_id="i")
    assert caught.value.retry_after == 2


@pytest.mark.parametrize(
    "value",
    [
        # past Python's 4300-digit limit on int(): a ValueError, not a number
        pytest.param("9" * 5000, id="5000-digits"),
        # a superscript two arrives as latin-1 and passes str.isdigit(), but int() refuses it
        pytest.param("\u00b2", id="superscript-digit"),
        pytest.param("-5", id="negative"),
        pytest.param("3.5", id="fraction"),
    ],
)
def test_an_unreadable_retry_after_falls_back_to_the_setting(model_server: ModelServer, value: str) -> None:
    model_server.reply(Reply(status=503, headers={"Retry-After": value}))
    with pytest.raises(Unavailable) as caught:
        backend(model_server.url).predict(Payload(b'{"a": 1}', JSON), inference_id="i")
    assert caught.value.retry_after == 2


def test_read_timeout_is_retried_then_reported(model_server: ModelServer) -> None:
    model_server.default = Reply(delay=1.0)
    with pytest.raises(BackendTimeout):
        backend(model_server.url).predict(Payload(b'{"a": 1}', JSON), inference_id="i")
    assert len(model_server.received) == BUDGET.max_attempts


def test_slow_first_attempt_then_answer_succeeds(model_server: ModelServer) -> None:
    model_server.reply(Reply(delay=1.0), Reply(body=b'{"ok": true}'))
    answer = backend(model_server.url).predict(Payload(b'{"a": 1}', JSON), inference_id="i")
    assert json.loads(answer.body) == {"ok": True}


def test_refused_connection_is_a_failure_not_a_timeout(closed_port_url: str) -> None:
    with pytest.raises(BackendFailure, match="NewConnectionError"):
        backend(closed_port_url).predict(Payload(b'{"a": 1}', JSON), inference_id="i")


def test_oversized_body_is_not_sent(model_server: ModelServer) -> None:
    with pytest.raises(PayloadTooLarge):
        backend(model_server.url, max_payload_bytes=4).predict(Payload(b'{"a": 1}', JSON), inference_id="i")
    assert model_server.received == []
