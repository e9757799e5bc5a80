import io
import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ConnectTimeoutError
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws
from moto.sagemakerruntime.models import sagemakerruntime_backends
from predict_support import ModelServer, Reply

from mlgw.backends.clients import CallBudget
from mlgw.backends.errors import (
    BackendFailure,
    BackendRejected,
    BackendTimeout,
    ModelError,
    NotReady,
    PayloadTooLarge,
    Throttled,
    Unavailable,
)
from mlgw.backends.payload import CSV, JSON, Payload
from mlgw.backends.sagemaker import SageMakerBackend
from mlgw.routing import Route

BUDGET = CallBudget(connect_timeout=0.5, read_timeout=0.3, max_attempts=2)
ROUTE = Route(name="default", backend="sagemaker", endpoint_name="churn-prod")
RECORD = Payload(b'{"var1": "1.2", "var2": "3.4"}', JSON)


def runtime(endpoint_url: str | None = None) -> Any:
    return boto3.client(
        "sagemaker-runtime",
        region_name="us-east-1",
        config=BUDGET.botocore_config(),
        endpoint_url=endpoint_url,
    )


def body(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


@mock_aws
def test_invoke_through_moto_returns_the_model_answer() -> None:
    sagemakerruntime_backends["123456789012"]["us-east-1"].results_queue.append(
        ('{"predictions": [0.82]}', "application/json", "blue", "trace=on")
    )
    answer = SageMakerBackend(runtime(), ROUTE, retry_after=1).predict(RECORD, inference_id="inf-1")
    assert json.loads(answer.body) == {"predictions": [0.82]}
    assert answer.content_type == "application/json"
    assert answer.headers == {
        "X-Invoked-Production-Variant": "blue",
        "X-Amzn-SageMaker-Custom-Attributes": "trace=on",
    }


def test_every_route_setting_reaches_invoke_endpoint() -> None:
    client = runtime()
    route = Route(
        name="mme",
        backend="sagemaker",
        endpoint_name="churn-mme",
        content_type=CSV,
        accept=CSV,
        target_model="churn-v7.tar.gz",
        custom_attributes="tenant=acme",
        feature_names=("var1", "var2"),
    )
    with Stubber(client) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": body(b"0.82\n"), "ContentType": "text/csv"},
            expected_params={
                "EndpointName": "churn-mme",
                "Body": b"1.2,3.4\n",
                "ContentType": CSV,
                "Accept": CSV,
                "InferenceId": "inf-42",
                "TargetModel": "churn-v7.tar.gz",
                "CustomAttributes": "tenant=acme",
            },
        )
        answer = SageMakerBackend(client, route, retry_after=1).predict(
            Payload(b'{"var2": "3.4", "var1": "1.2"}', JSON), inference_id="inf-42"
        )
    assert (answer.body, answer.content_type) == (b"0.82\n", "text/csv")


@pytest.mark.parametrize(
    ("key", "param"),
    [("target_variant", "TargetVariant"), ("inference_component", "InferenceComponentName")],
)
def test_variant_or_component_is_sent(key: str, param: str) -> None:
    client = runtime()
    route = Route(name="r", backend="sagemaker", endpoint_name="e", **{key: "blue"})
    with Stubber(client) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": body(b"{}")},
            expected_params={
                "EndpointName": "e",
                "Body": RECORD.body,
                "ContentType": JSON,
                "Accept": JSON,
                "InferenceId": "i",
                param: "blue",
            },
        )
        answer = SageMakerBackend(client, route, retry_after=1).predict(RECORD, inference_id="i")
    # Without a ContentType header the route's accept type describes the answer
    assert answer.content_type == JSON


@pytest.mark.parametrize(
    ("code", "status", "fields", "expected"),
    [
        ("ValidationError", 400, {}, BackendRejected),
        ("ModelNotReadyException", 429, {}, NotReady),
        ("ThrottlingException", 400, {}, Throttled),
        ("ServiceUnavailable", 503, {}, Unavailable),
        ("InternalFailure", 500, {}, BackendFailure),
        ("InternalDependencyException", 530, {}, BackendFailure),
    ],
)
def test_service_errors_become_typed_errors(
    code: str, status: int, fields: dict[str, Any], expected: type[Exception]
) -> None:
    client = runtime()
    with Stubber(client) as stub:
        stub.add_client_error("invoke_endpoint", code, "said no", status, modeled_fields=fields)
        with pytest.raises(expected) as caught:
            SageMakerBackend(client, ROUTE, retry_after=7).predict(RECORD, inference_id="i")
    assert type(caught.value) is expected
    if expected in {NotReady, Throttled, Unavailable}:
        assert caught.value.retry_after == 7  # type: ignore[attr-defined]


def test_model_error_keeps_the_original_status_apart_from_its_message() -> None:
    client = runtime()
    with Stubber(client) as stub:
        stub.add_client_error(
            "invoke_endpoint",
            "ModelError",
            "Received client error (400) from primary with message 'bad feature var1=1.2'",
            424,
            modeled_fields={
                "OriginalStatusCode": 400,
                "OriginalMessage": "bad feature var1=1.2",
                "LogStreamArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/e",
            },
        )
        with pytest.raises(ModelError) as caught:
            SageMakerBackend(client, ROUTE, retry_after=1).predict(RECORD, inference_id="i")
    error = caught.value
    assert error.original_status == 400
    assert error.original_message == "bad feature var1=1.2"
    assert error.log_stream is not None
    assert "var1=1.2" not in str(error)


def test_a_model_answering_429_is_throttling_not_a_model_error() -> None:
    # ModelError carries the container's own status in OriginalStatusCode:
    # https://docs.aws.amazon.com/botocore/latest/reference/services/sagemaker-runtime/client/exceptions/ModelError.html
    client = runtime()
    with Stubber(client) as stub:
        stub.add_client_error(
            "invoke_endpoint",
            "ModelError",
            "Received client error (429) from primary",
            424,
            modeled_fields={"OriginalStatusCode": 429, "OriginalMessage": "too many requests"},
        )
        with pytest.raises(Throttled) as caught:
            SageMakerBackend(client, ROUTE, retry_after=7).predict(RECORD, inference_id="i")
    assert caught.value.retry_after == 7


def test_payload_over_the_limit_fails_before_any_call() -> None:
    client = runtime()
    route = Route(name="r", backend="sagemaker", endpoint_name="e", max_payload_bytes=10)
    with Stubber(client) as stub:  # no response queued: any call would fail the test
        with pytest.raises(PayloadTooLarge) as caught:
            SageMakerBackend(client, route, retry_after=1).predict(RECORD, inference_id="i")
        stub.assert_no_pending_responses()
    assert (caught.value.size, caught.value.limit) == (len(RECORD.body), 10)


def test_read_timeout_is_retried_then_reported(model_server: ModelServer) -> None:
    # Given a runtime endpoint that answers later than the read timeout
    model_server.default = Reply(delay=1.0)
    backend = SageMakerBackend(runtime(model_server.url), ROUTE, retry_after=1)
    with pytest.raises(BackendTimeout):
        backend.predict(RECORD, inference_id="i")
    # Then the whole retry budget was used, and no more
    assert len(model_server.received) == BUDGET.max_attempts
    assert model_server.received[0].path == "/endpoints/churn-prod/invocations"


def test_connect_timeout_is_retried_then_reported() -> None:
    client = runtime()
    attempts: list[str] = []

    def refuse(request: Any, **_: Any) -> None:
        attempts.append(request.url)
        raise ConnectTimeoutError(endpoint_url=request.url)

    client.meta.events.register("before-send.sagemaker-runtime.InvokeEndpoint", refuse)
    with pytest.raises(BackendTimeout):
        SageMakerBackend(client, ROUTE, retry_after=1).predict(RECORD, inference_id="i")
    assert len(attempts) == BUDGET.max_attempts


def test_unreachable_endpoint_is_a_failure_not_a_timeout(closed_port_url: str) -> None:
    with pytest.raises(BackendFailure, match="EndpointConnectionError"):
        SageMakerBackend(runtime(closed_port_url), ROUTE, retry_after=1).predict(RECORD, inference_id="i")
