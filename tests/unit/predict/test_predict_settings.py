import json
from typing import Any

import pytest
from predict_support import settings_document, settings_env

from mlgw.env import SettingsError
from mlgw.predict.settings import MAX_WORST_CASE_SECONDS, load_settings

TABLE = {"default": {"endpoint_name": "churn-prod"}}


def test_defaults_fit_the_gateway_budget() -> None:
    settings = load_settings(settings_env(models=TABLE))
    assert settings.model_budget.connect_timeout == 2.0
    assert settings.model_budget.read_timeout == 8.0
    assert settings.model_budget.max_attempts == 2
    # 2 attempts x (2 s + 8 s) + at most 1 s of backoff
    assert settings.worst_case_seconds() == 21.0
    assert settings.tracing is False
    assert settings.log_bodies is False
    assert settings.inline_routes is not None
    assert settings.inline_routes.get("default") is not None


def test_parameter_source_adds_its_own_budget() -> None:
    settings = load_settings(
        settings_env(models_parameter={"name": "/churn/models", "cache_ttl_seconds": 30})
    )
    assert settings.inline_routes is None
    assert (settings.models_parameter, settings.models_cache_ttl) == ("/churn/models", 30)
    assert settings.worst_case_seconds() == 21.0 + 5.0


@pytest.mark.parametrize(
    "fields", [{}, {"models": TABLE, "models_parameter": {"name": "/p", "cache_ttl_seconds": 60}}]
)
def test_exactly_one_table_source(fields: dict[str, Any]) -> None:
    with pytest.raises(
        SettingsError, match=r"exactly one of MLGW_SETTINGS\.models and MLGW_SETTINGS\.models_parameter"
    ):
        load_settings(settings_env(**fields))


def test_budget_over_the_gateway_limit_is_refused() -> None:
    # Given 3 attempts of 2 s + 8 s, plus up to 1 + 2 s of backoff: 33 s
    env = settings_env(models=TABLE, model_call={"max_attempts": 3})
    with pytest.raises(SettingsError, match=r"model_call allows 33\.0 s .* within 28 s"):
        load_settings(env)


def test_budget_exactly_at_the_limit_is_accepted() -> None:
    env = settings_env(models=TABLE, model_call={"connect_timeout_seconds": 1, "read_timeout_seconds": 12.5})
    assert load_settings(env).worst_case_seconds() == MAX_WORST_CASE_SECONDS


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("model_call.read_timeout_seconds", 0, "at least 0.1"),
        ("model_call.connect_timeout_seconds", "soon", "be a number"),
        ("model_call.max_attempts", 0, "at least 1"),
        ("models_parameter.cache_ttl_seconds", 0, "at least 1"),
        ("retry_after_seconds", 1.5, "whole number"),
        ("log_request_bodies", "yes", "true or false"),
    ],
)
def test_malformed_fields_are_named(field: str, value: Any, message: str) -> None:
    document = settings_document(models_parameter={"name": "/p", "cache_ttl_seconds": 60})
    section, _, key = field.rpartition(".")
    (document[section] if section else document)[key] = value
    with pytest.raises(SettingsError, match=f"MLGW_SETTINGS.{field} must.*{message}"):
        load_settings({"MLGW_SETTINGS": json.dumps(document)})


@pytest.mark.parametrize("field", ["retry_after_seconds", "model_call", "log_request_bodies", "models"])
def test_every_field_is_required(field: str) -> None:
    document = settings_document(models=TABLE)
    del document[field]
    with pytest.raises(SettingsError, match=f"^MLGW_SETTINGS.{field} is missing$"):
        load_settings({"MLGW_SETTINGS": json.dumps(document)})


@pytest.mark.parametrize(
    ("raw", "message"),
    [("", "must be set"), ("{oops", "must be valid JSON"), ("[]", "must be a JSON object")],
)
def test_the_document_itself_must_be_a_json_object(raw: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"MLGW_SETTINGS {message}"):
        load_settings({"MLGW_SETTINGS": raw})
