"""The local gateway driven by an OpenAPI document, as API Gateway drives a REST API by its body.

The document is handcrafted in AWS's import format (tests/local/openapi_sample.py); the gateway
runs in-process, Lambda functions are Python callables and the SageMaker runtime is a real local
HTTP server that records what it receives.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from openapi_sample import KEY, OTHER_STAGE_KEY, QUOTA_KEY, TEMPLATES, document, gateway

from mlgw_local.gateway import RestApi
from mlgw_local.http import Request, Response, bind, serve
from mlgw_local.openapi import DocumentError, is_binary, is_binary_request, parse
from mlgw_local.vtl import render_request

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"


class Runtime:
    """A SageMaker runtime (its InvokeEndpoint contract) that records calls and answers as set."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str], bytes]] = []
        self.status = 200
        self.answer = b'{"predictions": [{"scores": [4.5]}, {"scores": [3.25]}]}'
        self.content_type = "application/json"
        runtime = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                runtime.calls.append((self.path, headers, body))
                self.send_response(runtime.status)
                self.send_header("Content-Type", runtime.content_type)
                self.send_header("Content-Length", str(len(runtime.answer)))
                self.end_headers()
                self.wfile.write(runtime.answer)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    server = Runtime()
    yield server
    server.server.shutdown()


class Functions:
    """Lambda functions as callables: each records its events and answers what it is given."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.answer: dict[str, Any] = {"statusCode": 200, "body": '{"ok": true}'}

    def __call__(self, name: str, event: dict[str, Any]) -> Any:
        self.events.append((name, event))
        return self.answer


def _api(runtime: Runtime, doc: dict[str, Any] | None = None, **options: Any) -> tuple[RestApi, Functions]:
    functions = Functions()
    return RestApi(gateway(doc, **options), functions, runtime.url, "localhost:8080"), functions


def _request(
    method: str,
    path: str,
    body: bytes = b"",
    query: list[tuple[str, str]] | None = None,
    key: str | None = KEY,
    **headers: str,
) -> Request:
    given = [(name.replace("_", "-"), value) for name, value in headers.items()]
    if key is not None:
        given.append(("x-api-key", key))
    return Request(method, path, query or [], given, body, "127.0.0.1")


def _json(response: Response) -> Any:
    return json.loads(response.body)


# -- the document as API Gateway reads it


def test_the_document_gives_each_operation_its_integration_validator_and_key() -> None:
    api = parse(document())
    operations = {(op.method, op.path): op for op in api.operations}
    predict = operations[("POST", "/predict")]
    assert predict.integration.type == "AWS_PROXY"
    assert predict.integration.function_name == "churn-predict"
    assert (predict.api_key_required, predict.validate_body, predict.validate_parameters) == (
        True,
        True,
        False,
    )
    health = operations[("ANY", "/predict/health")]
    assert (health.api_key_required, health.integration.function_name) == (False, "churn-health")
    ratings = operations[("GET", "/predicted-ratings/{user_id}")]
    assert ratings.integration.endpoint_name == "ratings"
    assert ratings.integration.passthrough_behavior == "NEVER"
    assert {(p.location, p.name, p.required) for p in ratings.parameters} == {
        ("path", "user_id", True),
        ("querystring", "items", True),
    }
    assert ratings.integration.responses["default"].selection_pattern is None
    assert ratings.integration.responses["424"].status_code == 502
    # A path item's parameters reach its operations.
    assert [p.name for p in operations[("POST", "/predict/{model}")].parameters] == ["model"]
    assert operations[("OPTIONS", "/predicted-ratings/{user_id}")].integration.type == "MOCK"
    assert api.binary_media_types == ("image/png", "application/octet-stream")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["paths"]["/predict"]["post"].pop("x-amazon-apigateway-integration"), "no x-amazon"),
        (
            lambda d: d["paths"]["/predict"]["post"].update({"x-amazon-apigateway-request-validator": "x"}),
            "'x'",
        ),
        (
            lambda d: d["paths"]["/predict"]["post"]["x-amazon-apigateway-integration"].update(
                {"type": "http"}
            ),
            "'http' is not served",
        ),
        (
            lambda d: d["paths"]["/predict"]["post"]["x-amazon-apigateway-integration"].update(
                {"type": "aws", "uri": "arn:aws:apigateway:us-east-1:s3:path/bucket/key"}
            ),
            "is not served",
        ),
        (lambda d: d.update({"x-amazon-apigateway-api-key-source": "AUTHORIZER"}), "x-api-key header only"),
    ],
)
def test_a_document_local_mode_cannot_serve_is_refused_with_the_reason(
    change: Callable[[dict[str, Any]], Any], message: str
) -> None:
    doc = document()
    change(doc)
    with pytest.raises(DocumentError, match=message):
        parse(doc)


@pytest.mark.parametrize(
    ("header", "types", "binary"),
    [
        ("image/png", ("image/png",), True),
        ("image/png; charset=binary", ("image/png",), True),
        ("IMAGE/PNG", ("image/png",), True),
        ("image/jpeg", ("image/*",), True),
        ("application/json", ("*/*",), True),
        ("application/json", ("image/png",), False),
        ("application/json, image/png", ("image/png",), False),  # only the first Accept type counts
        ("image/png, application/json", ("image/png",), True),
        ("*/*", ("image/png",), False),
        (None, ("*/*",), False),
        ("image/png", (), False),
    ],
)
def test_binary_media_types_match_the_first_media_type(
    header: str | None, types: tuple[str, ...], binary: bool
) -> None:
    assert is_binary(header, types) is binary


# -- routing, keys, limits, validators and gateway responses


def test_routes_match_static_segments_first_and_unknown_paths_get_the_documents_response(
    runtime: Runtime,
) -> None:
    api, functions = _api(runtime)
    assert api(_request("GET", "/prod/predict/health", key=None)).status == 200
    assert functions.events[-1][0] == "churn-health"  # /predict/health, not /predict/{model}
    assert api(_request("POST", "/prod/predict/iris", b"{}")).status == 200
    assert functions.events[-1][1]["pathParameters"] == {"model": "iris"}
    for method, path in (
        ("GET", "/prod/nothing/here"),
        ("DELETE", "/prod/predict"),
        ("GET", "/nostage/predict"),
    ):
        answer = api(_request(method, path))
        assert (answer.status, _json(answer)["code"]) == (404, "NotFound"), (method, path)
        assert answer.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_a_keyed_operation_needs_a_key_of_a_plan_covering_the_stage(runtime: Runtime) -> None:
    api, functions = _api(runtime)
    for key in (None, "not-a-key", OTHER_STAGE_KEY):
        answer = api(_request("POST", "/prod/predict/iris", b"{}", key=key))
        assert (answer.status, _json(answer)["code"]) == (403, "InvalidApiKey"), key
    assert api(_request("POST", "/test/predict/iris", b"{}", key=OTHER_STAGE_KEY)).status == 200
    event = functions.events[-1][1]
    assert event["requestContext"]["identity"]["apiKey"] == OTHER_STAGE_KEY
    assert event["requestContext"]["stage"] == "test"


def test_required_parameters_are_validated_present_and_not_blank(runtime: Runtime) -> None:
    api, _ = _api(runtime)
    for query in ([], [("items", "")], [("items", "  ")]):
        answer = api(_request("GET", "/prod/predicted-ratings/321", query=query))
        assert answer.status == 400, query
        assert _json(answer)["message"] == "Missing required request parameters: [items]"
        assert _json(answer)["code"] == "ClientError"  # DEFAULT_4XX: no BAD_REQUEST_PARAMETERS response
        assert answer.headers["Access-Control-Allow-Origin"] == "*"


def test_the_body_is_validated_against_the_schema_of_its_content_type(runtime: Runtime) -> None:
    api, functions = _api(runtime)
    for body in (b'{"rows": []}', b'{"instances": [["x"]]}', b"{not json", b""):
        answer = api(_request("POST", "/prod/predict", body, Content_Type="application/json"))
        assert (answer.status, _json(answer)["code"]) == (400, "BadRequest"), body
    assert not functions.events
    assert api(_request("POST", "/prod/predict", b'{"instances": [[1, 2]]}')).status == 200
    # No model for text/csv, so API Gateway does not validate it.
    assert api(_request("POST", "/prod/predict", b"1,2", Content_Type="text/csv")).status == 200


def test_stage_method_throttle_and_usage_plan_quota_answer_429_from_the_document(runtime: Runtime) -> None:
    api, _ = _api(runtime)
    statuses = [
        api(_request("GET", "/prod/predicted-ratings/1", query=[("items", "2,3")])).status for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    throttled = api(_request("GET", "/prod/predicted-ratings/1", query=[("items", "2,3")]))
    assert (_json(throttled)["code"], throttled.headers["Retry-After"]) == ("Throttled", "1")
    assert throttled.headers["X-Stage"] == "prod"  # a context.* mapping of the gateway response

    quota, _ = _api(runtime, quota=2)
    answers = [quota(_request("POST", "/prod/predict/iris", b"{}", key=QUOTA_KEY)) for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 429]
    assert _json(answers[2])["code"] == "QuotaExceeded"


def test_an_answer_above_lambdas_6_mb_ends_as_the_documents_integration_failure(runtime: Runtime) -> None:
    # Lambda cannot return it; API Gateway reports INTEGRATION_FAILURE (DataBiosphere/azul#8258).
    api, functions = _api(runtime)
    functions.answer = {"statusCode": 200, "body": "x" * (6 * 1024 * 1024 + 100)}
    answer = api(_request("POST", "/prod/predict/iris", b"{}"))
    assert answer.status == 502
    assert (_json(answer)["code"], _json(answer)["message"]) == ("IntegrationFailure", "Failed")
    assert _json(answer)["requestId"] == answer.headers["x-amzn-RequestId"]
    functions.answer = {"statusCode": 200, "body": "x" * 1024}
    assert api(_request("POST", "/prod/predict/iris", b"{}")).status == 200


# -- Lambda proxy


def test_the_proxy_event_is_api_gateways_rest_event(runtime: Runtime) -> None:
    api, functions = _api(runtime)
    functions.answer = {"statusCode": 201, "headers": {"X-Model": "iris"}, "body": '{"ok": true}'}
    answer = api(
        _request(
            "POST",
            "/prod/predict/iris",
            b'{"a": 1}',
            query=[("v", "1"), ("v", "2")],
            Content_Type="application/json",
        )
    )
    assert (answer.status, answer.body, answer.headers["X-Model"]) == (201, b'{"ok": true}', "iris")
    name, event = functions.events[-1]
    assert name == "churn-predict"
    assert event["resource"] == "/predict/{model}"
    assert event["path"] == "/predict/iris"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"model": "iris"}
    assert event["queryStringParameters"] == {"v": "2"}
    assert event["multiValueQueryStringParameters"] == {"v": ["1", "2"]}
    assert event["stageVariables"] == {"modelVersion": "3"}
    assert (event["body"], event["isBase64Encoded"]) == ('{"a": 1}', False)
    assert event["requestContext"]["resourcePath"] == "/predict/{model}"
    assert event["requestContext"]["requestId"] == answer.headers["x-amzn-RequestId"]


@pytest.mark.parametrize(
    ("content_type", "encoded"),
    [
        ("image/png", True),
        ("application/octet-stream", True),
        ("text/plain", False),
        ("application/json", False),
    ],
)
def test_a_request_body_is_base64_in_the_event_only_for_a_binary_content_type(
    runtime: Runtime, content_type: str, encoded: bool
) -> None:
    api, functions = _api(runtime)
    body = PNG if encoded else b"6.2,2.9,4.3,1.3"
    api(_request("POST", "/prod/predict/iris", body, Content_Type=content_type))
    event = functions.events[-1][1]
    assert event["isBase64Encoded"] is encoded
    assert event["body"] == (base64.b64encode(body).decode() if encoded else body.decode())


@pytest.mark.parametrize(
    ("accept", "decoded"),
    [
        ("image/png", True),
        ("application/octet-stream", True),
        ("image/png, application/json", True),
        ("application/json, image/png", False),
        ("*/*", False),
        (None, False),
    ],
)
def test_a_base64_answer_is_decoded_only_when_the_first_accept_type_is_binary(
    runtime: Runtime, accept: str | None, decoded: bool
) -> None:
    api, functions = _api(runtime)
    encoded = base64.b64encode(PNG).decode()
    functions.answer = {
        "statusCode": 200,
        "headers": {"Content-Type": "image/png"},
        "body": encoded,
        "isBase64Encoded": True,
    }
    headers = {} if accept is None else {"Accept": accept}
    answer = api(_request("POST", "/prod/predict/iris", b"{}", **headers))
    assert answer.body == (PNG if decoded else encoded.encode())


def test_base64_that_does_not_decode_is_an_api_configuration_error(runtime: Runtime) -> None:
    api, functions = _api(runtime)
    functions.answer = {"statusCode": 200, "body": "not base64!", "isBase64Encoded": True}
    answer = api(_request("POST", "/prod/predict/iris", b"{}", Accept="image/png"))
    assert (answer.status, answer.headers["x-amzn-ErrorType"]) == (500, "API_CONFIGURATION_ERROR")
    # For a text Accept the answer is not decoded, so it reaches the client as it is.
    assert api(_request("POST", "/prod/predict/iris", b"{}", Accept="text/plain")).body == b"not base64!"


def test_gateway_refusals_carry_api_gateways_exception_name(runtime: Runtime) -> None:
    api, _ = _api(runtime)
    refused_key = api(_request("POST", "/prod/predict/iris", b"{}", key="not-a-key"))
    assert (refused_key.status, refused_key.headers["x-amzn-ErrorType"]) == (403, "ForbiddenException")
    bad_body = api(_request("POST", "/prod/predict", b"{not json", Content_Type="application/json"))
    assert (bad_body.status, bad_body.headers["x-amzn-ErrorType"]) == (400, "BadRequestException")
    missing = api(_request("GET", "/prod/predicted-ratings/321"))
    assert (missing.status, missing.headers["x-amzn-ErrorType"]) == (400, "BadRequestException")
    throttled = [api(_request("GET", "/prod/predicted-ratings/1", query=[("items", "2")])) for _ in range(4)][
        -1
    ]
    assert (throttled.status, throttled.headers["x-amzn-ErrorType"]) == (429, "TooManyRequestsException")
    quota, _ = _api(runtime, quota=1)
    answers = [quota(_request("POST", "/prod/predict/iris", b"{}", key=QUOTA_KEY)) for _ in range(2)]
    assert (answers[1].status, answers[1].headers["x-amzn-ErrorType"]) == (429, "TooManyRequestsException")


def test_headers_and_multi_value_headers_are_both_sent_each_value_its_own_line(runtime: Runtime) -> None:
    api, functions = _api(runtime)
    functions.answer = {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "X-Trace": "single", "Cache-Control": "no-store"},
        "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"], "x-trace": ["multi"]},
        "body": "{}",
    }
    answer = api(_request("POST", "/prod/predict/iris", b"{}"))
    lines = [*answer.headers.items(), *answer.more_headers]
    assert [v for n, v in lines if n == "Set-Cookie"] == ["a=1", "b=2"]
    assert [v for n, v in lines if n.lower() == "x-trace"] == ["multi"]
    assert (answer.headers["Content-Type"], answer.headers["Cache-Control"]) == (
        "application/json",
        "no-store",
    )


def test_two_set_cookie_values_reach_the_client_as_two_header_lines(runtime: Runtime) -> None:
    api, functions = _api(runtime)
    functions.answer = {"statusCode": 200, "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}, "body": "{}"}
    server = bind("127.0.0.1", 0, "REST API", "--api-port", api)
    serve(server)
    try:
        connection = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
        connection.request("POST", "/prod/predict/iris", b"{}", {"x-api-key": KEY})
        answer = connection.getresponse()
        assert answer.status == 200
        assert answer.msg.get_all("Set-Cookie") == ["a=1", "b=2"]
    finally:
        server.shutdown()
        server.server_close()


def test_a_text_answer_is_never_decoded(runtime: Runtime) -> None:
    api, functions = _api(runtime)
    functions.answer = {"statusCode": 200, "headers": {"Content-Type": "image/png"}, "body": "aGVsbG8="}
    assert api(_request("POST", "/prod/predict/iris", b"{}", Accept="image/png")).body == b"aGVsbG8="


def test_without_binary_media_types_nothing_is_encoded_or_decoded(runtime: Runtime) -> None:
    doc = document()
    del doc["x-amazon-apigateway-binary-media-types"]
    api, functions = _api(runtime, doc)
    functions.answer = {"statusCode": 200, "body": base64.b64encode(PNG).decode(), "isBase64Encoded": True}
    answer = api(_request("POST", "/prod/predict/iris", b"abc", Content_Type="image/png", Accept="image/png"))
    assert functions.events[-1][1]["isBase64Encoded"] is False
    assert answer.body == base64.b64encode(PNG)


# -- direct SageMaker integration and mock


def test_the_ratings_route_sends_the_templates_bytes_and_maps_the_answer(runtime: Runtime) -> None:
    api, _ = _api(runtime)
    runtime.calls.clear()
    answer = api(_request("GET", "/prod/predicted-ratings/321", query=[("items", " 101,007,131 ")]))
    assert answer.status == 200, answer.body
    assert _json(answer) == {"ratings": [4.5, 3.25], "items": [101, 131]}
    assert answer.headers["Content-Type"] == "application/json"
    [(path, headers, body)] = runtime.calls
    assert path == "/endpoints/ratings/invocations"
    assert (headers["content-type"], headers["accept"]) == ("application/json", "application/json")
    expected = render_request(
        (TEMPLATES / "ratings_request.vtl").read_text(encoding="utf-8"),
        path_params={"user_id": "321"},
        query={"items": " 101,007,131 "},
    )
    assert body == expected.encode("utf-8")


@pytest.mark.parametrize(
    ("status", "client_status", "code", "retry_after"),
    [(424, 502, "ModelError", None), (429, 503, None, "5"), (500, 502, None, None), (400, 400, None, None)],
)
def test_the_integration_response_is_selected_by_the_runtimes_status(
    runtime: Runtime, status: int, client_status: int, code: str | None, retry_after: str | None
) -> None:
    api, _ = _api(runtime)
    runtime.status, runtime.answer = status, b'{"ErrorCode": "X", "Message": "failure"}'
    try:
        answer = api(_request("GET", "/prod/predicted-ratings/321", query=[("items", "101")]))
    finally:
        runtime.status, runtime.answer = 200, b'{"predictions": [{"scores": [4.5]}, {"scores": [3.25]}]}'
    assert answer.status == client_status
    assert _json(answer)["requestId"] == answer.headers["x-amzn-RequestId"]
    if code:
        assert _json(answer)["code"] == code
    assert answer.headers.get("Retry-After") == retry_after


def test_a_passthrough_route_maps_request_parameters_and_refuses_unmapped_content_types(
    runtime: Runtime,
) -> None:
    api, _ = _api(runtime)
    runtime.calls.clear()
    runtime.answer, runtime.content_type = b"versicolor\n", "text/csv"
    try:
        answer = api(
            _request(
                "POST",
                "/prod/models/legacy/csv",
                b"6.2,2.9,4.3,1.3\n",
                Content_Type="text/csv",
                X_Amzn_SageMaker_Custom_Attributes="trace=1",
            )
        )
        refused = api(_request("POST", "/prod/models/legacy/csv", b"<x/>", Content_Type="application/xml"))
    finally:
        runtime.answer, runtime.content_type = (
            b'{"predictions": [{"scores": [4.5]}, {"scores": [3.25]}]}',
            "application/json",
        )
    assert (answer.status, answer.body, answer.headers["Content-Type"]) == (200, b"versicolor\n", "text/csv")
    [(_, headers, body)] = runtime.calls
    assert body == b"6.2,2.9,4.3,1.3\n"
    assert headers["x-amzn-sagemaker-custom-attributes"] == "trace=1"
    # passthroughBehavior NEVER: no template for application/xml is API Gateway's 415.
    assert refused.status == 415
    assert _json(refused)["message"] == "Unsupported Media Type"
    assert len(runtime.calls) == 1


def test_the_cors_preflight_is_the_documents_mock(runtime: Runtime) -> None:
    api, functions = _api(runtime)
    runtime.calls.clear()
    answer = api(_request("OPTIONS", "/prod/predicted-ratings/321", key=None))
    assert answer.status == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert answer.headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"
    assert not runtime.calls
    assert not functions.events


# -- binary requests and templates


@pytest.mark.parametrize(
    ("content_type", "types", "binary"),
    [
        (None, ("*/*",), True),  # a preflight has no Content-Type and is binary under */*
        ("", ("*/*",), True),
        (None, ("image/*", "application/octet-stream"), False),
        (None, (), False),
        ("application/json", ("*/*",), True),
        ("text/csv", ("image/*",), False),
    ],
)
def test_a_request_without_content_type_is_binary_only_under_any_type(
    content_type: str | None, types: tuple[str, ...], binary: bool
) -> None:
    assert is_binary_request(content_type, types) is binary


def _preflight_document(content_handling: str | None) -> dict[str, Any]:
    doc = document()
    doc["x-amazon-apigateway-binary-media-types"] = ["*/*"]
    integration = doc["paths"]["/predicted-ratings/{user_id}"]["options"]["x-amazon-apigateway-integration"]
    if content_handling is not None:
        integration["contentHandling"] = content_handling
    return doc


def test_under_any_binary_type_a_preflight_without_content_handling_is_a_configuration_error(
    runtime: Runtime,
) -> None:
    api, _ = _api(runtime, _preflight_document(None))
    answer = api(_request("OPTIONS", "/prod/predicted-ratings/321", key=None))
    assert (answer.status, answer.headers["x-amzn-ErrorType"]) == (500, "API_CONFIGURATION_ERROR")


def test_under_any_binary_type_a_preflight_converted_to_text_answers(runtime: Runtime) -> None:
    api, _ = _api(runtime, _preflight_document("CONVERT_TO_TEXT"))
    answer = api(_request("OPTIONS", "/prod/predicted-ratings/321", key=None))
    assert answer.status == 200, answer.body
    assert answer.headers["Access-Control-Allow-Methods"] == "GET,OPTIONS"


def test_a_binary_request_to_a_templated_integration_is_a_configuration_error(runtime: Runtime) -> None:
    doc = document()
    doc["x-amazon-apigateway-binary-media-types"] = ["text/*"]
    api, _ = _api(runtime, doc)
    runtime.calls.clear()
    answer = api(_request("POST", "/prod/models/legacy/csv", b"1,2,3", Content_Type="text/csv"))
    assert (answer.status, answer.headers["x-amzn-ErrorType"]) == (500, "API_CONFIGURATION_ERROR")
    assert not runtime.calls


def test_convert_to_text_hands_the_template_the_binary_body_in_base64(runtime: Runtime) -> None:
    doc = document()
    doc["x-amazon-apigateway-binary-media-types"] = ["text/*"]
    doc["paths"]["/models/legacy/csv"]["post"]["x-amazon-apigateway-integration"]["contentHandling"] = (
        "CONVERT_TO_TEXT"
    )
    api, _ = _api(runtime, doc)
    runtime.calls.clear()
    answer = api(_request("POST", "/prod/models/legacy/csv", b"1,2,3", Content_Type="text/csv"))
    assert answer.status == 200, answer.body
    [(_, _, body)] = runtime.calls
    assert body == base64.b64encode(b"1,2,3")
