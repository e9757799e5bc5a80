import json
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mlgw.backends.amazon_ml import AmazonMLBackend
from mlgw.backends.errors import BackendFailure, BackendRejected, NotReady, PayloadTooLarge, Throttled
from mlgw.backends.payload import CSV, JSON, InvalidInput, Payload
from mlgw.routing import Route

ENDPOINT = "https://realtime.machinelearning.us-east-1.amazonaws.com"
ROUTE = Route(name="legacy", backend="amazon-ml", model_id="ml-iris", predict_endpoint=ENDPOINT)
PREDICTION = {
    "details": {"Algorithm": "SGD", "PredictiveModelType": "MULTICLASS"},
    "predictedLabel": "Iris-versicolor",
    "predictedScores": {"Iris-setosa": 0.37, "Iris-versicolor": 0.57, "Iris-virginica": 0.05},
}


def ml_client() -> Any:
    return boto3.client("machinelearning", region_name="us-east-1")


def test_record_values_are_strings_and_prediction_is_returned_unchanged() -> None:
    client = ml_client()
    with Stubber(client) as stub:
        stub.add_response(
            "predict",
            {"Prediction": PREDICTION},
            expected_params={
                "MLModelId": "ml-iris",
                "PredictEndpoint": ENDPOINT,
                # numbers and booleans become their JSON text; nulls are left out as missing
                "Record": {"var1": "1.2", "var2": "3.4", "flag": "true"},
            },
        )
        answer = AmazonMLBackend(client, ROUTE, retry_after=1).predict(
            Payload(b'{"var1": "1.2", "var2": 3.4, "flag": true, "var3": null}', JSON), inference_id="i"
        )
    assert answer.content_type == JSON
    assert json.loads(answer.body) == PREDICTION


def test_csv_line_is_named_by_feature_names() -> None:
    client = ml_client()
    route = Route(
        name="legacy", backend="amazon-ml", model_id="m", predict_endpoint=ENDPOINT, feature_names=("a", "b")
    )
    with Stubber(client) as stub:
        stub.add_response(
            "predict",
            {"Prediction": {"predictedValue": 4.2, "details": {}}},
            expected_params={"MLModelId": "m", "PredictEndpoint": ENDPOINT, "Record": {"a": "1.2", "b": "x"}},
        )
        answer = AmazonMLBackend(client, route, retry_after=1).predict(
            Payload(b"1.2,x\n", CSV), inference_id="i"
        )
    assert json.loads(answer.body)["predictedValue"] == 4.2


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (Payload(b"1.2,3.4\n", CSV), "named features"),
        (Payload(b'{"instances": [{"a": 1}, {"a": 2}]}', JSON), "one record per request"),
    ],
)
def test_inputs_amazon_ml_cannot_score_are_refused(payload: Payload, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason):
        AmazonMLBackend(ml_client(), ROUTE, retry_after=1).predict(payload, inference_id="i")


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("LimitExceededException", 417, Throttled),
        ("PredictorNotMountedException", 400, NotReady),
        ("InvalidInputException", 400, BackendRejected),
        ("ResourceNotFoundException", 404, BackendRejected),
        ("InternalServerException", 500, BackendFailure),
    ],
)
def test_service_errors_become_typed_errors(code: str, status: int, expected: type[Exception]) -> None:
    client = ml_client()
    with Stubber(client) as stub:
        stub.add_client_error("predict", code, "no", status)
        with pytest.raises(expected) as caught:
            AmazonMLBackend(client, ROUTE, retry_after=3).predict(
                Payload(b'{"a": "1"}', JSON), inference_id="i"
            )
    assert type(caught.value) is expected


def test_oversized_record_fails_before_any_call() -> None:
    route = Route(name="l", backend="amazon-ml", model_id="m", predict_endpoint=ENDPOINT, max_payload_bytes=5)
    client = ml_client()
    with Stubber(client), pytest.raises(PayloadTooLarge):
        AmazonMLBackend(client, route, retry_after=1).predict(
            Payload(b'{"a": "123456"}', JSON), inference_id="i"
        )
