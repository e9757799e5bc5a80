"""The handler end to end: canonical API Gateway events in, proxy responses out."""

import base64
import io
import json
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from moto import mock_aws
from moto.sagemakerruntime.models import sagemakerruntime_backends
from predict_support import FakeContext, ModelServer, Reply, load_event

REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
LEGACY_ENDPOINT = "https://realtime.machinelearning.us-east-1.amazonaws.com"

Loader = Callable[[dict[str, Any]], ModuleType]
LogCapture = Callable[[ModuleType], Callable[[], list[dict[str, Any]]]]


def table(model_server_url: str = "http://127.0.0.1:9") -> str:
    return json.dumps(
        {
            "default": {"backend": "sagemaker", "endpoint_name": None, "target_variant": None},
            "churn-csv": {
                "backend": "sagemaker",
                "endpoint_name": "churn-csv",
                "content_type": "text/csv",
                "accept": "text/csv",
            },
            "tiny": {"backend": "sagemaker", "max_payload_bytes": 16},
            "legacy": {"backend": "amazon-ml", "model_id": "ml-iris", "predict_endpoint": LEGACY_ENDPOINT},
            "kserve": {
                "backend": "http",
                "url": f"{model_server_url}/v1/models/churn:predict",
                "protocol": "kserve-v1",
            },
        }
    )


@pytest.fixture
def handler(load_handler: Loader, model_server: ModelServer) -> Iterator[ModuleType]:
    with mock_aws():
        yield load_handler(
            {
                "models": json.loads(table(model_server.url)),
                "default_endpoint_name": "churn-prod",
                "model_call": {"read_timeout_seconds": 0.3},
                "retry_after_seconds": 4,
            }
        )


def invoke(handler: ModuleType, event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    result = handler.lambda_handler(event, FakeContext())
    body = result["body"]
    content_type = result["headers"]["Content-Type"]
    return result["statusCode"], result["headers"], json.loads(body) if "json" in content_type else body


def post(
    body: str | None,
    *,
    model: str | None = None,
    content_type: str | None = "application/json",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    event = load_event("apigw_predict_post_record.json")
    event["body"] = body
    if content_type is None:
        del event["headers"]["Content-Type"]
    else:
        event["headers"]["Content-Type"] = content_type
    event["headers"].update(headers or {})
    if model is not None:
        event["pathParameters"] = {"model": model}
    return event


def get(data: list[str] | None, *, model: str | None = None) -> dict[str, Any]:
    event = load_event("apigw_predict_get_data.json")
    event["queryStringParameters"] = {"data": data[-1]} if data else None
    event["multiValueQueryStringParameters"] = {"data": data} if data else None
    if model is not None:
        event["pathParameters"] = {"model": model}
    return event


def stream(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


def queue_moto_result(body: str, content_type: str = "application/json") -> None:
    sagemakerruntime_backends["123456789012"]["us-east-1"].results_queue.append((body, content_type, "", ""))


# --- success ---------------------------------------------------------------------------------


def test_json_record_reaches_the_default_endpoint(handler: ModuleType) -> None:
    queue_moto_result('{"predictions": [{"score": 0.82}]}')
    status, headers, body = invoke(handler, load_event("apigw_predict_post_record.json"))
    assert status == 200
    assert body == {"predictions": [{"score": 0.82}]}
    assert headers["X-Request-Id"] == REQUEST_ID
    assert headers["X-Model-Route"] == "default"
    # Without a client id the request id is the InferenceId, ready for reporting actuals
    assert headers["X-Inference-Id"] == REQUEST_ID


def test_client_inference_id_is_sent_and_returned(handler: ModuleType) -> None:
    event = post('{"var1": "1.2"}', headers={"X-Inference-Id": "order-991"})
    with Stubber(handler.CLIENTS.sagemaker_runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": stream(b'{"p": 1}'), "ContentType": "application/json"},
            expected_params={
                "EndpointName": "churn-prod",
                "Body": b'{"var1": "1.2"}',
                "ContentType": "application/json",
                "Accept": "application/json",
                "InferenceId": "order-991",
            },
        )
        status, headers, _ = invoke(handler, event)
    assert status == 200
    assert headers["X-Inference-Id"] == "order-991"


def test_instances_are_forwarded_unchanged(handler: ModuleType) -> None:
    event = load_event("apigw_predict_post_instances.json")
    with Stubber(handler.CLIENTS.sagemaker_runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": stream(b"[0.1, 0.9]")},
            expected_params={
                "EndpointName": "churn-prod",
                "Body": event["body"].encode(),
                "ContentType": "application/json",
                "Accept": "application/json",
                "InferenceId": REQUEST_ID,
            },
        )
        status, _, body = invoke(handler, event)
    assert (status, body) == (200, [0.1, 0.9])


def test_csv_body_to_a_csv_route_stays_csv(handler: ModuleType) -> None:
    event = load_event("apigw_predict_model_post_csv.json")
    event["pathParameters"] = {"model": "churn-csv"}
    with Stubber(handler.CLIENTS.sagemaker_runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": stream(b"0.82\n0.13\n"), "ContentType": "text/csv"},
            expected_params={
                "EndpointName": "churn-csv",
                "Body": event["body"].encode(),
                "ContentType": "text/csv",
                "Accept": "text/csv",
                "InferenceId": REQUEST_ID,
            },
        )
        status, headers, body = invoke(handler, event)
    assert (status, headers["Content-Type"], body) == (200, "text/csv", "0.82\n0.13\n")
    assert headers["X-Model-Route"] == "churn-csv"


def test_get_data_is_one_csv_line(handler: ModuleType) -> None:
    with Stubber(handler.CLIENTS.sagemaker_runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": stream(b"0.5\n"), "ContentType": "text/csv"},
            expected_params={
                "EndpointName": "churn-csv",
                "Body": b"1.2,3.4,5.6",
                "ContentType": "text/csv",
                "Accept": "text/csv",
                "InferenceId": REQUEST_ID,
            },
        )
        status, _, body = invoke(handler, get(["1.2,3.4,5.6"], model="churn-csv"))
    assert (status, body) == (200, "0.5\n")


def test_get_data_to_a_json_route_becomes_one_instance(handler: ModuleType) -> None:
    with Stubber(handler.CLIENTS.sagemaker_runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": stream(b"[0.5]")},
            expected_params={
                "EndpointName": "churn-prod",
                "Body": b'{"instances": [[1.2, 3.4, 5.6]]}',
                "ContentType": "application/json",
                "Accept": "application/json",
                "InferenceId": REQUEST_ID,
            },
        )
        status, _, _ = invoke(handler, load_event("apigw_predict_get_data.json"))
    assert status == 200


def test_base64_body_is_decoded(handler: ModuleType) -> None:
    event = load_event("apigw_predict_post_base64.json")
    with Stubber(handler.CLIENTS.sagemaker_runtime) as stub:
        stub.add_response(
            "invoke_endpoint",
            {"Body": stream(b"{}")},
            expected_params={
                "EndpointName": "churn-prod",
                "Body": base64.b64decode(event["body"]),
                "ContentType": "application/json",
                "Accept": "application/json",
                "InferenceId": REQUEST_ID,
            },
        )
        assert invoke(handler, event)[0] == 200


def test_binary_model_answer_is_base64_encoded(handler: ModuleType) -> None:
    with Stubber(handler.CLIENTS.sagemaker_runtime) as stub:
        stub.add_response(
            "invoke_endpoint", {"Body": stream(b"\x93NUMPY\x00"), "ContentType": "application/x-npy"}
        )
        result = handler.lambda_handler(load_event("apigw_predict_post_record.json"), FakeContext())
    assert result["isBase64Encoded"] is True
    assert base64.b64decode(result["body"]) == b"\x93NUMPY\x00"


def test_legacy_route_returns_the_prediction_object(handler: ModuleType) -> None:
    prediction = {
        "predictedLabel": "Iris-versicolor",
        "predictedScores": {"Iris-versicolor": 0.57},
        "details": {"Algorithm": "SGD", "PredictiveModelType": "MULTICLASS"},
    }
    with Stubber(handler.CLIENTS.machine_learning) as stub:
        stub.add_response(
            "predict",
            {"Prediction": prediction},
            expected_params={
                "MLModelId": "ml-iris",
                "PredictEndpoint": LEGACY_ENDPOINT,
                "Record": {"var1": "1.2", "var2": "3.4"},
            },
        )
        status, headers, body = invoke(handler, post('{"var1": "1.2", "var2": "3.4"}', model="legacy"))
    assert (status, body) == (200, prediction)
    assert headers["X-Model-Route"] == "legacy"


def test_http_route_reaches_the_model_server(handler: ModuleType, model_server: ModelServer) -> None:
    model_server.reply(Reply(body=b'{"predictions": [1]}'))
    status, _, body = invoke(handler, post('{"var1": 1.2}', model="kserve"))
    assert (status, body) == (200, {"predictions": [1]})
    assert json.loads(model_server.received[0].body) == {"instances": [{"var1": 1.2}]}
    assert model_server.received[0].headers["X-Inference-Id"] == REQUEST_ID


def test_missing_content_type_is_read_as_json(handler: ModuleType) -> None:
    queue_moto_result("{}")
    assert invoke(handler, post('{"var1": "1.2"}', content_type=None))[0] == 200


# --- refused input: 400, one test per reason ---------------------------------------------------


@pytest.mark.parametrize(
    ("event_factory", "code"),
    [
        pytest.param(lambda: post("{not json"), "MalformedJson", id="malformed-json"),
        pytest.param(lambda: post(None), "EmptyBody", id="empty-body"),
        pytest.param(lambda: post("   "), "EmptyBody", id="blank-body"),
        pytest.param(
            lambda: post("a=1", content_type="application/x-www-form-urlencoded"),
            "UnsupportedContentType",
            id="unsupported-content-type",
        ),
        pytest.param(lambda: get(None), "InvalidDataParameter", id="get-without-data"),
        pytest.param(lambda: get([""]), "InvalidDataParameter", id="get-empty-data"),
        pytest.param(lambda: get(["1,2", "3,4"]), "InvalidDataParameter", id="get-repeated-data"),
        pytest.param(lambda: get(['1,"2']), "InvalidCsv", id="get-unterminated-quote"),
        pytest.param(lambda: post('{"var1": {"nested": 1}}'), "InvalidRecord", id="non-scalar-value"),
        pytest.param(lambda: post('{"instances": [{"a": [1]}]}'), "InvalidRecord", id="non-scalar-instance"),
        pytest.param(
            lambda: {
                **post(None, content_type="text/csv"),
                "body": base64.b64encode(b"1.2,3.4\n\xff").decode(),
                "isBase64Encoded": True,
            },
            "InvalidCsv",
            id="csv-not-utf8",
        ),
        pytest.param(
            lambda: {**post("{}"), "body": "%%%", "isBase64Encoded": True},
            "InvalidBase64",
            id="invalid-base64",
        ),
        pytest.param(
            lambda: post('{"a": 1}', headers={"X-Inference-Id": " leading-space"}),
            "InvalidInferenceId",
            id="bad-inference-id",
        ),
        pytest.param(
            lambda: post('{"a": 1}', headers={"X-Inference-Id": "x" * 65}),
            "InvalidInferenceId",
            id="long-inference-id",
        ),
        # Python's json module raises RecursionError past its nesting limit, and ValueError for
        # integers longer than sys.get_int_max_str_digits() (4300 by default):
        # https://docs.python.org/3/library/stdtypes.html#int-max-str-digits
        pytest.param(lambda: post('{"a": ' + "[" * 5000 + "]" * 5000 + "}"), "MalformedJson", id="deep-json"),
        pytest.param(lambda: post('{"a": ' + "9" * 100_000 + "}"), "MalformedJson", id="huge-integer"),
        pytest.param(lambda: get(["1," + "9" * 100_000]), "InvalidRecord", id="get-huge-integer-to-json"),
        pytest.param(
            lambda: post("1," + "9" * 100_000, content_type="text/csv"),
            "InvalidRecord",
            id="csv-huge-integer-to-json",
        ),
        pytest.param(
            lambda: post("1," + "9" * 100_000, model="kserve", content_type="text/csv"),
            "InvalidRecord",
            id="csv-huge-integer-to-kserve",
        ),
    ],
)
def test_bad_input_is_a_400_before_any_model_call(
    handler: ModuleType, event_factory: Callable[[], dict[str, Any]], code: str
) -> None:
    with Stubber(handler.CLIENTS.sagemaker_runtime) as stub:  # nothing queued: a call would fail
        status, headers, body = invoke(handler, event_factory())
        stub.assert_no_pending_responses()
    assert status == 400
    assert headers["X-Request-Id"] == REQUEST_ID
    assert body["code"] == code
    assert body["requestId"] == REQUEST_ID
    assert set(body) == {"message", "code", "requestId"}


def test_bad_input_is_never_logged_as_an_unexpected_error(
    handler: ModuleType, model_server: ModelServer, capture_logs: LogCapture
) -> None:
    logs = capture_logs(handler)
    for event in (post("[" * 5000), get(["9" * 100_000]), post('{"a": ' + "9" * 100_000 + "}")):
        assert invoke(handler, event)[0] == 400
    assert not [entry for entry in logs() if entry.get("level") == "ERROR" or "exception" in entry]
    assert model_server.received == []


def test_unknown_route_is_404(handler: ModuleType, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, body = invoke(handler, post('{"a": 1}', model="nope"))
    assert (status, body["code"]) == (404, "RouteNotFound")
    # The client's route name never becomes a metric dimension
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert {entry["route"] for entry in emf if "route" in entry} == {"unknown"}


def test_other_methods_are_405(handler: ModuleType) -> None:
    event = post('{"a": 1}')
    event["httpMethod"] = "PUT"
    assert invoke(handler, event)[0] == 405


def test_payload_over_the_route_limit_is_413(handler: ModuleType) -> None:
    with Stubber(handler.CLIENTS.sagemaker_runtime):
        status, _, body = invoke(handler, post('{"var1": "a long enough value"}', model="tiny"))
    assert (status, body["code"]) == (413, "PayloadTooLarge")


# --- model side failures -----------------------------------------------------------------------


def test_model_error_is_502_with_the_model_status_only(handler: ModuleType) -> None:
    with Stubber(handler.CLIENTS.sagemaker_runtime) as stub:
        stub.add_client_error(
            "invoke_endpoint",
            "ModelError",
            "Received server error (500)",
            424,
            modeled_fields={
                "OriginalStatusCode": 500,
                "OriginalMessage": "Traceback: KeyError 'var9' in /opt/ml/code",
            },
        )
        status, _, body = invoke(handler, post('{"var1": "1.2"}'))
    assert (status, body["code"]) == (502, "ModelError")
    assert "500" in body["message"]
    assert "Traceback" not in json.dumps(body)


@pytest.mark.parametrize("code", ["ValidationError", "InternalFailure"])
def test_backend_rejection_or_failure_is_502_without_internals(handler: ModuleType, code: str) -> None:
    with Stubber(handler.CLIENTS.sagemaker_runtime) as stub:
        stub.add_client_error(
            "invoke_endpoint",
            code,
            "Endpoint churn-prod of account 123456789012 not found",
            400 if code == "ValidationError" else 500,
        )
        status, _, body = invoke(handler, post('{"var1": "1.2"}'))
    assert (status, body["code"]) == (502, "BackendError")
    assert "churn-prod" not in body["message"]


@pytest.mark.parametrize(
    ("code", "http_status", "client_code"),
    [
        ("ModelNotReadyException", 429, "ModelNotReady"),
        ("ServiceUnavailable", 503, "ModelUnavailable"),
        ("ThrottlingException", 429, "ModelThrottled"),
    ],
)
def test_busy_model_is_503_with_retry_after(
    handler: ModuleType, code: str, http_status: int, client_code: str
) -> None:
    with Stubber(handler.CLIENTS.sagemaker_runtime) as stub:
        stub.add_client_error("invoke_endpoint", code, "busy", http_status)
        status, headers, body = invoke(handler, post('{"var1": "1.2"}'))
    assert (status, body["code"], headers["Retry-After"]) == (503, client_code, "4")


def test_a_model_answering_429_through_sagemaker_is_503_with_retry_after(handler: ModuleType) -> None:
    with Stubber(handler.CLIENTS.sagemaker_runtime) as stub:
        stub.add_client_error(
            "invoke_endpoint",
            "ModelError",
            "Received client error (429) from primary",
            424,
            modeled_fields={"OriginalStatusCode": 429, "OriginalMessage": "slow down"},
        )
        status, headers, body = invoke(handler, post('{"var1": "1.2"}'))
    assert (status, body["code"], headers["Retry-After"]) == (503, "ModelThrottled", "4")


def test_model_timeout_is_504(handler: ModuleType, model_server: ModelServer) -> None:
    model_server.default = Reply(delay=1.0)
    status, _, body = invoke(handler, post('{"var1": 1}', model="kserve"))
    assert (status, body["code"]) == (504, "ModelTimeout")


def test_unexpected_error_is_500_logged_with_the_request_id(
    handler: ModuleType, monkeypatch: pytest.MonkeyPatch, capture_logs: LogCapture
) -> None:
    logs = capture_logs(handler)

    def explode(self: object, route: object) -> object:
        raise RuntimeError("secret internals at /var/task")

    monkeypatch.setattr(type(handler.CLIENTS), "backend_for", explode)
    status, _, body = invoke(handler, post('{"var1": 1}'))
    assert (status, body) == (
        500,
        {"message": "internal error", "code": "InternalError", "requestId": REQUEST_ID},
    )
    failure = next(entry for entry in logs() if entry["message"] == "unexpected error")
    assert failure["correlation_id"] == REQUEST_ID
    assert "secret internals" in failure["exception"]


# --- configuration, logs and metrics -----------------------------------------------------------


def test_bad_settings_answer_every_request_with_json(load_handler: Loader, capture_logs: LogCapture) -> None:
    handler = load_handler({"models": {"default": {"backend": "sagemaker"}}})
    logs = capture_logs(handler)
    status, _, body = invoke(handler, load_event("apigw_predict_post_record.json"))
    assert (status, body["code"]) == (500, "ConfigurationError")
    assert "default_endpoint_name is not set" in logs()[0]["error"]


def test_routing_table_from_ssm(load_handler: Loader) -> None:
    with mock_aws():
        boto3.client("ssm").put_parameter(
            Name="/churn/models", Type="String", Value=json.dumps({"default": {"endpoint_name": "from-ssm"}})
        )
        handler = load_handler({"models_parameter": {"name": "/churn/models", "cache_ttl_seconds": 60}})
        with Stubber(handler.CLIENTS.sagemaker_runtime) as stub:
            stub.add_response(
                "invoke_endpoint",
                {"Body": stream(b"{}")},
                expected_params={
                    "EndpointName": "from-ssm",
                    "Body": b'{"a": 1}',
                    "ContentType": "application/json",
                    "Accept": "application/json",
                    "InferenceId": REQUEST_ID,
                },
            )
            assert invoke(handler, post('{"a": 1}'))[0] == 200


def test_missing_ssm_table_is_a_configuration_error(load_handler: Loader, capture_logs: LogCapture) -> None:
    with mock_aws():
        handler = load_handler({"models_parameter": {"name": "/churn/missing", "cache_ttl_seconds": 60}})
        logs = capture_logs(handler)
        status, _, body = invoke(handler, post('{"a": 1}'))
    assert (status, body["code"]) == (500, "ConfigurationError")
    assert logs()[0]["error"] == "SSM parameter /churn/missing does not exist"


def test_bodies_stay_out_of_logs_by_default(handler: ModuleType, capture_logs: LogCapture) -> None:
    logs = capture_logs(handler)
    queue_moto_result("{}")
    invoke(handler, post('{"secret_feature": "4111111111111111"}'))
    entries = logs()
    assert entries[-1]["message"] == "prediction request done"
    assert entries[-1]["status"] == 200
    text = json.dumps(entries)
    assert "4111111111111111" not in text
    assert "EXAMPLEKEY" not in text  # the API key header


def test_debug_setting_logs_bodies(load_handler: Loader, capture_logs: LogCapture) -> None:
    with mock_aws():
        handler = load_handler(
            {"models": json.loads(table()), "default_endpoint_name": "e", "log_request_bodies": True}
        )
        logs = capture_logs(handler)
        queue_moto_result("{}")
        invoke(handler, post('{"feature": "visible-in-debug"}'))
    assert any("visible-in-debug" in entry.get("body", "") for entry in logs())


def test_metrics_carry_latency_per_route_and_errors_per_kind(
    handler: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    invoke(handler, post("{oops"))
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    latency = next(entry for entry in emf if "Latency" in entry)
    errors = next(entry for entry in emf if "Errors" in entry)
    assert latency["route"] == "default"
    assert (errors["route"], errors["kind"], errors["Errors"]) == ("default", "MalformedJson", [1.0])
    assert errors["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service", "route", "kind"]]
