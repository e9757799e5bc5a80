import json
import logging
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SSMProvider
from aws_lambda_powertools.utilities.parameters import base as parameters_base
from moto import mock_aws

from mlgw.backends.limits import SAGEMAKER_REALTIME_MAX_BYTES, SAGEMAKER_SERVERLESS_MAX_BYTES
from mlgw.env import SettingsError
from mlgw.routing import ParameterRoutes, Route, parse_routes

LOG = logging.getLogger("test")


def parse(document: Any, default_endpoint: str | None = "churn-prod") -> dict[str, Route]:
    return dict(
        parse_routes(document, default_endpoint_name=default_endpoint, source="MLGW_SETTINGS.models").routes
    )


def test_terraform_rendering_with_nulls_parses() -> None:
    # Given the JSON Terraform renders for the root `models` input, with every optional as null
    routes = parse(
        {
            "default": {
                "backend": "sagemaker",
                "endpoint_name": None,
                "content_type": "text/csv",
                "accept": "application/json",
                "target_variant": "blue",
                "url": None,
                "model_id": None,
            },
            "legacy": {
                "backend": "amazon-ml",
                "model_id": "ml-abc",
                "predict_endpoint": "https://realtime.machinelearning.us-east-1.amazonaws.com",
            },
            "kserve": {
                "backend": "http",
                "url": "https://models.internal/v1/models/x:predict",
                "protocol": "kserve-v1",
            },
        }
    )
    assert routes["default"].endpoint_name == "churn-prod"
    assert routes["default"].content_type == "text/csv"
    assert routes["default"].target_variant == "blue"
    assert routes["default"].max_payload_bytes == SAGEMAKER_REALTIME_MAX_BYTES
    assert routes["legacy"].model_id == "ml-abc"
    assert routes["kserve"].protocol == "kserve-v1"


def test_rendering_of_the_root_models_variable_parses() -> None:
    # Given the root module's rendering: nulls dropped, but every object default filled in on
    # every route, whatever its backend
    defaults = {
        "content_type": "application/json",
        "accept": "application/json",
        "serverless": False,
        "protocol": "sagemaker",
    }
    routes = parse(
        {
            "default": {"backend": "sagemaker", "endpoint_name": "churn-prod", **defaults},
            "legacy": {
                **defaults,
                "backend": "amazon-ml",
                "model_id": "ml-abc",
                "predict_endpoint": "https://realtime.machinelearning.us-east-1.amazonaws.com",
            },
            "kserve": {
                **defaults,
                "backend": "http",
                "url": "http://m/v1/models/x:predict",
                "protocol": "kserve-v1",
            },
        }
    )
    assert set(routes) == {"default", "legacy", "kserve"}
    assert routes["kserve"].protocol == "kserve-v1"


def test_non_default_value_on_the_wrong_backend_is_refused() -> None:
    document = {
        "legacy": {
            "backend": "amazon-ml",
            "model_id": "m",
            "content_type": "text/csv",
            "predict_endpoint": "https://realtime.machinelearning.us-east-1.amazonaws.com",
        }
    }
    with pytest.raises(SettingsError, match=r"content_type do.* not apply to backend amazon-ml"):
        parse(document)


def test_serverless_route_gets_the_4_mb_limit() -> None:
    route = parse({"default": {"serverless": True}})["default"]
    assert route.max_payload_bytes == SAGEMAKER_SERVERLESS_MAX_BYTES


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "non-empty JSON object"),
        ([], "non-empty JSON object"),
        ({"bad name!": {}}, "route name"),
        ({"default": "sagemaker"}, "must be an object"),
        ({"default": {"endpiont_name": "x"}}, "unknown key.*endpiont_name"),
        ({"default": {"backend": "bedrock"}}, "backend must be one of"),
        ({"default": {"url": "https://x"}}, "url do.* not apply to backend sagemaker"),
        ({"default": {"endpoint_name": ""}}, "endpoint_name must be a non-empty string"),
        ({"default": {"target_variant": "a", "target_model": "b.tar.gz"}}, "at most one of"),
        ({"default": {"content_type": "image/png"}}, "content_type must be text/csv or a JSON type"),
        ({"default": {"max_payload_bytes": 7_000_000}}, "at most 6291456"),
        ({"default": {"serverless": True, "max_payload_bytes": 5_000_000}}, "serverless limit"),
        ({"default": {"max_payload_bytes": "big"}}, "positive whole number"),
        ({"default": {"serverless": "yes"}}, "serverless must be true or false"),
        ({"default": {"feature_names": ["a", "a"]}}, "feature_names must be"),
        ({"legacy": {"backend": "amazon-ml", "model_id": "ml-1"}}, "predict_endpoint must be set"),
        (
            {"legacy": {"backend": "amazon-ml", "model_id": "ml-1", "predict_endpoint": "http://x"}},
            "absolute https URL",
        ),
        ({"m": {"backend": "http"}}, "url must be set"),
        ({"m": {"backend": "http", "url": "ftp://x"}}, "absolute http or https URL"),
        ({"m": {"backend": "http", "url": "http://x", "protocol": "grpc"}}, "protocol must be one of"),
        (
            {"m": {"backend": "http", "url": "http://x", "protocol": "mlflow", "content_type": "text/csv"}},
            "protocol mlflow sends JSON",
        ),
    ],
)
def test_invalid_tables_name_the_problem(document: Any, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        parse(document)


def test_sagemaker_route_needs_an_endpoint_somewhere() -> None:
    with pytest.raises(SettingsError, match="default_endpoint_name is not set"):
        parse({"default": {}}, default_endpoint=None)


class Clock:
    """One clock for both caches: Powertools' `max_age` (wall clock, `datetime.now` in its
    parameters base module) and the routing table's hold-off after a failed refresh."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 0.0
        clock = self
        start = datetime(2024, 1, 1)

        class Wall(datetime):
            @classmethod
            def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
                return start + timedelta(seconds=clock.now)

        monkeypatch.setattr(parameters_base, "datetime", Wall)

    def __call__(self) -> float:
        return self.now


def routes(ssm: Any, clock: Clock, *, ttl: int) -> ParameterRoutes:
    return ParameterRoutes(
        SSMProvider(boto3_client=ssm),
        "/churn/models",
        ttl=ttl,
        default_endpoint_name="e",
        logger=LOG,
        clock=clock,
    )


@mock_aws
def test_parameter_table_is_cached_for_its_ttl_then_refreshed(monkeypatch: pytest.MonkeyPatch) -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name="/churn/models", Type="String", Value=json.dumps({"default": {}}))
    clock = Clock(monkeypatch)
    source = routes(ssm, clock, ttl=30)
    first = source.table()
    assert first.get("default") is not None

    # When an operator adds a route
    ssm.put_parameter(
        Name="/churn/models", Type="String", Overwrite=True, Value=json.dumps({"default": {}, "v2": {}})
    )
    clock.now = 29.0
    assert source.table() is first  # still cached, not parsed again
    clock.now = 31.0
    assert source.table().get("v2") is not None  # refreshed after the TTL


@mock_aws
def test_an_unchanged_value_is_not_parsed_again(monkeypatch: pytest.MonkeyPatch) -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name="/churn/models", Type="String", Value=json.dumps({"default": {}}))
    clock = Clock(monkeypatch)
    source = routes(ssm, clock, ttl=10)
    first = source.table()

    clock.now = 11.0

    assert source.table() is first


@mock_aws
def test_failed_refresh_keeps_serving_the_last_good_table(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name="/churn/models", Type="String", Value=json.dumps({"default": {}}))
    clock = Clock(monkeypatch)
    source = routes(ssm, clock, ttl=10)
    first = source.table()
    calls: list[str] = []
    original = ssm.get_parameter
    monkeypatch.setattr(ssm, "get_parameter", lambda **kw: calls.append(kw["Name"]) or original(**kw))

    # Given a bad edit of the parameter
    ssm.put_parameter(Name="/churn/models", Type="String", Overwrite=True, Value="{not json")
    clock.now = 11.0
    with caplog.at_level(logging.ERROR):
        assert source.table() is first
    assert "refresh failed" in caplog.text

    # And a deleted parameter: one SSM call per TTL while it lasts, not one per request
    ssm.delete_parameter(Name="/churn/models")
    clock.now = 22.0
    assert source.table() is first
    clock.now = 25.0
    assert source.table() is first
    assert len(calls) == 2


@mock_aws
def test_parameter_that_never_loaded_is_an_error() -> None:
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name="/churn/models", Type="String", Value='{"default": {"backend": "x"}}')
    source = ParameterRoutes(
        SSMProvider(boto3_client=ssm), "/churn/models", ttl=10, default_endpoint_name="e", logger=LOG
    )
    with pytest.raises(SettingsError, match="SSM parameter /churn/models: route 'default': backend"):
        source.table()
