"""integration_responses.json and the error templates: SageMaker answers to client errors."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import botocore.session
import pytest

from mlgw_local.vtl import render_request, render_response, select_integration_response

REQUEST_ID = "7d3c1e2a-5b4f-4c6d-9e8f-0a1b2c3d4e5f"
ENTRY_KEYS = {
    "selection_pattern",
    "status_code",
    "template",
    "response_headers",
    "sagemaker_errors",
    "common_errors",
}
ROUTE_TEMPLATES = {"ratings_request.vtl", "ratings_response.vtl", "passthrough_request.vtl"}
# Every method any template calls; each is documented for API Gateway's $input/$util or is a
# java.lang.String / java.util.List method. Python-only methods (strip, lower, ...) fail on AWS.
JAVA_METHODS = {"add", "escapeJavaScript", "isEmpty", "json", "matches", "params", "path", "replaceAll"}
JAVA_METHODS |= {"size", "split", "trim"}

MODEL_ERROR_BODY = json.dumps(
    {
        "ErrorCode": "CLIENT_ERROR_FROM_MODEL",
        "LogStreamArn": "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/sagemaker/Endpoints/ratings",
        "Message": 'Received client error (400) from primary with message "unknown item". See logs.',
        "OriginalMessage": "unknown item",
        "OriginalStatusCode": 400,
    }
)
VALIDATION_BODY = json.dumps({"message": "Endpoint ratings of account 123456789012 not found."})
# SageMaker's ThrottlingException (a common error, HTTP 400) carries a null message:
# https://github.com/opensearch-project/ml-commons/issues/2429.
THROTTLING_BODY = json.dumps({"message": None})
# A serverless endpoint refuses a body above its limit as a ValidationError:
# https://github.com/aws/sagemaker-python-sdk/issues/4271.
OVERSIZE_BODY = json.dumps({"message": "Request 4c5e2a1f-7b3d-4e9a-8f6c-1d2e3f4a5b6c has oversize body."})
# Above InvokeEndpoint's limit SageMaker answers 413: https://github.com/aws/sagemaker-python-sdk/issues/171.
CONTENT_LENGTH_BODY = json.dumps({"message": "HTTP content length exceeded 6291456 bytes."})


class ErrorCase(NamedTuple):
    sagemaker_status: int
    body: str
    name: str
    status: int
    code: str
    message: str
    headers: dict[str, str] | None = None


ENDPOINT_FAILED = "The model endpoint could not process the request."
UNAVAILABLE = "The model is not ready or is overloaded; retry later."
TOO_LARGE = "The request is larger than the model endpoint accepts."
ERROR_CASES = [
    ErrorCase(
        400,
        THROTTLING_BODY,
        "bad-request",
        503,
        "ModelThrottled",
        "The model endpoint is throttling requests; retry later.",
        {"Retry-After": "5"},
    ),
    ErrorCase(
        400,
        '{"message":null,"__type":"ThrottlingException"}',
        "bad-request",
        503,
        "ModelThrottled",
        "The model endpoint is throttling requests; retry later.",
        {"Retry-After": "5"},
    ),
    ErrorCase(400, OVERSIZE_BODY, "bad-request", 413, "PayloadTooLarge", TOO_LARGE),
    ErrorCase(413, CONTENT_LENGTH_BODY, "payload-too-large", 413, "PayloadTooLarge", TOO_LARGE),
    ErrorCase(413, "", "payload-too-large", 413, "PayloadTooLarge", TOO_LARGE),
    ErrorCase(
        400,
        VALIDATION_BODY,
        "bad-request",
        400,
        "BadRequest",
        "The model endpoint rejected the request as invalid.",
    ),
    ErrorCase(
        424, MODEL_ERROR_BODY, "model-error", 502, "ModelError", "The model failed to process the request."
    ),
    ErrorCase(
        429,
        '{"message": "Model is loading"}',
        "model-not-ready",
        503,
        "ModelUnavailable",
        UNAVAILABLE,
        {"Retry-After": "5"},
    ),
    ErrorCase(
        503,
        '{"message": "Service unavailable"}',
        "service-unavailable",
        503,
        "ModelUnavailable",
        UNAVAILABLE,
        {"Retry-After": "5"},
    ),
    ErrorCase(504, "", "model-timeout", 504, "ModelTimeout", "The model did not answer in time."),
    ErrorCase(
        500, '{"message": "Internal failure"}', "endpoint-error", 502, "ModelEndpointError", ENDPOINT_FAILED
    ),
    ErrorCase(
        530, '{"message": "Dependency failure"}', "endpoint-error", 502, "ModelEndpointError", ENDPOINT_FAILED
    ),
    ErrorCase(
        403, '{"message": "not authorized"}', "endpoint-error", 502, "ModelEndpointError", ENDPOINT_FAILED
    ),
    ErrorCase(404, "<html>not found</html>", "endpoint-error", 502, "ModelEndpointError", ENDPOINT_FAILED),
    ErrorCase(302, "", "endpoint-error", 502, "ModelEndpointError", ENDPOINT_FAILED),
]


def pattern_table(responses: dict[str, dict[str, Any]]) -> dict[str, str | None]:
    return {name: entry["selection_pattern"] for name, entry in responses.items()}


def client_answer(
    responses: dict[str, dict[str, Any]],
    read_template: Callable[[str], str],
    sagemaker_status: int,
    sagemaker_body: str,
    request_id: str = REQUEST_ID,
) -> tuple[str, int, Any]:
    """What the client gets for an error answer of SageMaker: selected response, status, body."""
    name, status, body, _ = client_answer_with_headers(
        responses, read_template, sagemaker_status, sagemaker_body, request_id
    )
    return name, status, body


def client_answer_with_headers(
    responses: dict[str, dict[str, Any]],
    read_template: Callable[[str], str],
    sagemaker_status: int,
    sagemaker_body: str,
    request_id: str = REQUEST_ID,
) -> tuple[str, int, Any, dict[str, str]]:
    """The same, with the headers the client gets: the entry's static ones, then the template's
    $context.responseOverride.header values."""
    name = select_integration_response(pattern_table(responses), str(sagemaker_status))
    entry = responses[name]
    rendered = render_response(
        read_template(entry["template"]),
        sagemaker_body,
        int(entry["status_code"]),
        context={"requestId": request_id},
    )
    headers = {header: value.strip("'") for header, value in entry["response_headers"].items()}
    headers.update(rendered.headers)
    return name, rendered.status, json.loads(rendered.body), headers


class TestTable:
    def test_entries_have_one_shape(self, integration_responses: dict[str, dict[str, Any]]) -> None:
        for name, entry in integration_responses.items():
            assert set(entry) == ENTRY_KEYS, name
            assert re.fullmatch(r"[1-5][0-9]{2}", entry["status_code"]), name
            for header, value in entry["response_headers"].items():
                assert re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", header), name
                assert re.fullmatch(r"'[^']*'", value), f"{name}: {header} must be a quoted static value"

    def test_one_default_response_is_the_success_one(
        self, integration_responses: dict[str, dict[str, Any]]
    ) -> None:
        defaults = {
            name: entry for name, entry in integration_responses.items() if entry["selection_pattern"] is None
        }
        assert defaults == {
            "success": {
                "selection_pattern": None,
                "status_code": "200",
                "template": None,
                "response_headers": {},
                "sagemaker_errors": [],
                "common_errors": [],
            }
        }

    def test_every_error_response_has_a_template(
        self, integration_responses: dict[str, dict[str, Any]], template_names: list[str]
    ) -> None:
        error_templates = {entry["template"] for entry in integration_responses.values() if entry["template"]}
        assert len(error_templates) == len(integration_responses) - 2  # 429 and 503 share one
        assert set(template_names) == error_templates | ROUTE_TEMPLATES

    def test_patterns_use_syntax_java_and_python_read_alike(
        self, integration_responses: dict[str, dict[str, Any]]
    ) -> None:
        for entry in integration_responses.values():
            if entry["selection_pattern"] is not None:
                assert re.fullmatch(r"[0-9()|?!\[\]{},-]+", entry["selection_pattern"])


class TestSelection:
    def test_every_status_selects_one_response_and_errors_never_200(
        self, integration_responses: dict[str, dict[str, Any]]
    ) -> None:
        patterns = pattern_table(integration_responses)
        for code in range(100, 600):
            name = select_integration_response(patterns, str(code))
            if 200 <= code < 300:
                assert name == "success", code
            else:
                assert int(integration_responses[name]["status_code"]) >= 400, code

    def test_every_invoke_endpoint_error_is_mapped_where_listed(
        self, integration_responses: dict[str, dict[str, Any]]
    ) -> None:
        model = botocore.session.get_session().get_service_model("sagemaker-runtime")
        errors = {
            shape.name: shape.metadata["error"]["httpStatusCode"]
            for shape in model.operation_model("InvokeEndpoint").error_shapes
        }
        listed = {
            error: name
            for name, entry in integration_responses.items()
            for error in entry["sagemaker_errors"]
        }
        assert set(listed) == set(errors)
        patterns = pattern_table(integration_responses)
        for error, status in errors.items():
            assert select_integration_response(patterns, str(status)) == listed[error], error

    def test_prefixes_and_longer_values_do_not_match(
        self, integration_responses: dict[str, dict[str, Any]]
    ) -> None:
        patterns = pattern_table(integration_responses)
        for value in ("40", "4000", "5030", "4240", " 400", "400 "):
            assert select_integration_response(patterns, value) == "success", value


class TestErrorBodies:
    @pytest.mark.parametrize("case", ERROR_CASES, ids=lambda case: f"{case.sagemaker_status}-{case.name}")
    def test_sagemaker_error_becomes_a_json_error(
        self,
        integration_responses: dict[str, dict[str, Any]],
        read_template: Callable[[str], str],
        case: ErrorCase,
    ) -> None:
        answer = client_answer_with_headers(
            integration_responses, read_template, case.sagemaker_status, case.body
        )
        expected_body = {"message": case.message, "code": case.code, "requestId": REQUEST_ID}
        assert answer == (case.name, case.status, expected_body, case.headers or {})

    def test_throttling_is_503_with_retry_after_as_on_the_proxy_routes(
        self, integration_responses: dict[str, dict[str, Any]], read_template: Callable[[str], str]
    ) -> None:
        _, status, body, headers = client_answer_with_headers(
            integration_responses, read_template, 400, THROTTLING_BODY
        )
        assert (status, body["code"], headers["Retry-After"]) == (503, "ModelThrottled", "5")

    def test_a_validation_error_whose_message_mentions_null_stays_400(
        self, integration_responses: dict[str, dict[str, Any]], read_template: Callable[[str], str]
    ) -> None:
        body = json.dumps({"message": "Input contains null at row 3"})
        _, status, answer, headers = client_answer_with_headers(
            integration_responses, read_template, 400, body
        )
        assert (status, answer["code"], headers) == (400, "BadRequest", {})

    @pytest.mark.parametrize("name", ["model-not-ready", "service-unavailable"])
    def test_unavailable_answers_carry_retry_after(
        self, integration_responses: dict[str, dict[str, Any]], name: str
    ) -> None:
        assert integration_responses[name]["response_headers"] == {"Retry-After": "'5'"}

    def test_sagemaker_details_do_not_reach_the_client(
        self, integration_responses: dict[str, dict[str, Any]], read_template: Callable[[str], str]
    ) -> None:
        for status, body in ((400, VALIDATION_BODY), (424, MODEL_ERROR_BODY)):
            _, _, answer = client_answer(integration_responses, read_template, status, body)
            assert "123456789012" not in json.dumps(answer)

    @pytest.mark.parametrize(
        "request_id", ['a"b', "it's", "back\\slash", "</script>", "é😀", "line\nbreak", "\\'"]
    )
    def test_request_id_is_escaped_into_valid_json(
        self,
        integration_responses: dict[str, dict[str, Any]],
        read_template: Callable[[str], str],
        request_id: str,
    ) -> None:
        for status in (400, 413, 424, 429, 503, 504, 500):
            _, _, answer = client_answer(integration_responses, read_template, status, "{}", request_id)
            assert answer["requestId"] == request_id
        for body in (THROTTLING_BODY, OVERSIZE_BODY):
            _, _, answer = client_answer(integration_responses, read_template, 400, body, request_id)
            assert answer["requestId"] == request_id


class TestPassthrough:
    @pytest.mark.parametrize(
        "body",
        [
            '{"instances": [{"features": [1.5, 2, "x\\"y"]}]}',
            "5.1,3.5,1.4,0.2\n6.2,3.4,5.4,2.3",
            '{"text": "café \\u00e9 😀 \'quoted\' $input.body #set"}',
        ],
    )
    def test_body_is_forwarded_unchanged(self, read_template: Callable[[str], str], body: str) -> None:
        assert render_request(read_template("passthrough_request.vtl"), body) == body


def test_templates_call_only_java_and_api_gateway_methods(
    read_template: Callable[[str], str], template_names: list[str]
) -> None:
    for name in template_names:
        code = "\n".join(
            line for line in read_template(name).splitlines() if not line.lstrip().startswith("##")
        )
        called = set(re.findall(r"\.([A-Za-z_]\w*)\(", code))
        assert called <= JAVA_METHODS, f"{name} calls {sorted(called - JAVA_METHODS)}"
