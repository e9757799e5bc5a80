"""The SageMaker runtime front as boto3's sagemaker-runtime client sees it: refusals SageMaker
makes before a container sees the request come back as the exception classes botocore raises
against AWS (the error shapes are in botocore's sagemaker-runtime service model)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from mlgw_local.http import Request, Response, bind, serve, url_of
from mlgw_local.sagemaker import RuntimeFront


def _container(request: Request) -> Response:
    """A container that scores any body of four numbers and refuses others with its own 400."""
    if request.body.count(b",") != 3:
        return Response.json(400, {"message": "each record needs 4 values"})
    return Response(200, b'{"predictions": [1]}', {"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def runtime() -> Iterator[Any]:
    servers = [bind("127.0.0.1", 0, "container", "--c", _container_path)]
    front = RuntimeFront({}, variants={"iris": ("blue", "green")})
    servers.append(bind("127.0.0.1", 0, "front", "--f", front))
    for server in servers:
        serve(server)
    front.endpoints["iris"] = url_of(servers[0])
    yield boto3.client(
        "sagemaker-runtime",
        endpoint_url=url_of(servers[1]),
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )
    for server in servers:
        server.shutdown()
        server.server_close()


def _container_path(request: Request) -> Response:
    if request.path != "/invocations":
        return Response.json(404, {"message": "not part of the contract"})
    return _container(request)


def _refusal(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    return raised.value.response


def test_a_known_variant_is_served_and_named_in_the_answer(runtime: Any) -> None:
    answer = runtime.invoke_endpoint(
        EndpointName="iris", Body=b"1,2,3,4", ContentType="text/csv", TargetVariant="green"
    )
    assert answer["InvokedProductionVariant"] == "green"
    assert answer["Body"].read() == b'{"predictions": [1]}'


def test_an_unknown_target_variant_is_a_validation_error(runtime: Any) -> None:
    error = _refusal(
        runtime.invoke_endpoint,
        EndpointName="iris",
        Body=b"1,2,3,4",
        ContentType="text/csv",
        TargetVariant="red",
    )
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Code"] == "ValidationError"
    assert "red" in error["Error"]["Message"]


def test_an_inference_id_over_64_characters_is_a_validation_error(runtime: Any) -> None:
    body = {"EndpointName": "iris", "Body": b"1,2,3,4", "ContentType": "text/csv"}
    assert runtime.invoke_endpoint(**body, InferenceId="x" * 64)["ResponseMetadata"]["HTTPStatusCode"] == 200
    error = _refusal(runtime.invoke_endpoint, **body, InferenceId="x" * 65)
    assert error["Error"]["Code"] == "ValidationError"
    assert "less than or equal to 64" in error["Error"]["Message"]


def test_target_model_on_a_single_model_endpoint_is_a_validation_error(runtime: Any) -> None:
    error = _refusal(
        runtime.invoke_endpoint,
        EndpointName="iris",
        Body=b"1,2,3,4",
        ContentType="text/csv",
        TargetModel="model-a.tar.gz",
    )
    assert error["Error"]["Code"] == "ValidationError"
    assert error["Error"]["Message"] == (
        "Endpoint iris is not a multi-model endpoint and does not support target model header."
    )


def test_a_container_error_is_a_model_error_with_the_original_status(runtime: Any) -> None:
    with pytest.raises(runtime.exceptions.ModelError) as raised:
        runtime.invoke_endpoint(EndpointName="iris", Body=b"1,2", ContentType="text/csv")
    error = raised.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert error["OriginalStatusCode"] == 400
    assert "each record needs 4 values" in error["OriginalMessage"]


def test_an_unknown_endpoint_is_a_validation_error_naming_it(runtime: Any) -> None:
    with pytest.raises(runtime.exceptions.ValidationError) as raised:
        runtime.invoke_endpoint(EndpointName="nope", Body=b"1,2,3,4", ContentType="text/csv")
    assert raised.value.response["Error"]["Message"] == "Endpoint nope of account 123456789012 not found."
