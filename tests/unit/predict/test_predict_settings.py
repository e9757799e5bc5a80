import pytest

from mlgw.env import SettingsError
from mlgw.predict.settings import MAX_WORST_CASE_SECONDS, load_settings

TABLE = '{"default": {"endpoint_name": "churn-prod"}}'


def test_defaults_fit_the_gateway_budget() -> None:
    settings = load_settings({"MODELS_JSON": TABLE})
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
    settings = load_settings({"MODELS_PARAMETER_NAME": "/churn/models"})
    assert settings.inline_routes is None
    assert settings.worst_case_seconds() == 21.0 + 5.0


@pytest.mark.parametrize("env", [{}, {"MODELS_JSON": TABLE, "MODELS_PARAMETER_NAME": "/p"}])
def test_exactly_one_table_source(env: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="exactly one of MODELS_JSON and MODELS_PARAMETER_NAME"):
        load_settings(env)


def test_budget_over_the_gateway_limit_is_refused() -> None:
    # Given 3 attempts of 2 s + 8 s, plus up to 1 + 2 s of backoff: 33 s
    env = {"MODELS_JSON": TABLE, "MODEL_MAX_ATTEMPTS": "3"}
    with pytest.raises(SettingsError, match=r"allow 33\.0 s .* within 28 s"):
        load_settings(env)


def test_budget_exactly_at_the_limit_is_accepted() -> None:
    env = {"MODELS_JSON": TABLE, "MODEL_CONNECT_TIMEOUT_SECONDS": "1", "MODEL_READ_TIMEOUT_SECONDS": "12.5"}
    assert load_settings(env).worst_case_seconds() == MAX_WORST_CASE_SECONDS


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("MODEL_READ_TIMEOUT_SECONDS", "0", "at least 0.1"),
        ("MODEL_CONNECT_TIMEOUT_SECONDS", "soon", "be a number"),
        ("MODEL_MAX_ATTEMPTS", "0", "at least 1"),
        ("MODELS_CACHE_TTL_SECONDS", "0", "at least 1"),
        ("RETRY_AFTER_SECONDS", "1.5", "whole number"),
        ("TRACING_ENABLED", "maybe", "true or false"),
        ("MODELS_JSON", "{oops", "valid JSON"),
    ],
)
def test_malformed_variables_are_named(name: str, value: str, message: str) -> None:
    env = {"MODELS_JSON": TABLE, name: value}
    with pytest.raises(SettingsError, match=f"{name} must.*{message}"):
        load_settings(env)
