import pytest

from mlgw.actuals.settings import load_settings
from mlgw.env import SettingsError

BASE = {
    "ACTUALS_BUCKET": "b",
    "ACTUALS_PREFIX": "drop/upload_actuals",
    "ACTUALS_API_URL": "https://app.datarobot.com/",
    "ACTUALS_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:t-AbCdEf",
}


def test_defaults_are_siblings_of_the_trigger_prefix() -> None:
    settings = load_settings(BASE)

    assert settings.prefix == "drop/upload_actuals/"
    assert settings.processed_prefix == "drop/upload_actuals-processed/"
    assert settings.failed_prefix == "drop/upload_actuals-failed/"
    assert settings.state_prefix == "drop/upload_actuals-state/"
    assert settings.ground_truth_prefix == "drop/upload_actuals-ground-truth/"
    assert settings.api_url == "https://app.datarobot.com"
    assert settings.report_rows == 10_000
    assert settings.on_success == "delete"
    assert not settings.skip_bad_rows


@pytest.mark.parametrize(
    ("raw", "message"), [("0", "at least 1"), ("10001", "at most 10000"), ("x", "whole")]
)
def test_report_rows_outside_the_api_limit_is_refused(raw: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"ACTUALS_REPORT_ROWS must be .*{message}"):
        load_settings({**BASE, "ACTUALS_REPORT_ROWS": raw})


@pytest.mark.parametrize("raw", ["1", "10000"])
def test_report_rows_at_the_limits_is_accepted(raw: str) -> None:
    assert load_settings({**BASE, "ACTUALS_REPORT_ROWS": raw}).report_rows == int(raw)


@pytest.mark.parametrize(
    "name", ["ACTUALS_FAILED_PREFIX", "ACTUALS_PROCESSED_PREFIX", "ACTUALS_STATE_PREFIX"]
)
def test_output_prefix_inside_the_trigger_prefix_is_refused(name: str) -> None:
    with pytest.raises(SettingsError, match=f"{name} .* must not be nested with ACTUALS_PREFIX"):
        load_settings({**BASE, name: "drop/upload_actuals/failed/"})


def test_trigger_prefix_inside_an_output_prefix_is_refused() -> None:
    with pytest.raises(SettingsError, match="ACTUALS_STATE_PREFIX"):
        load_settings({**BASE, "ACTUALS_STATE_PREFIX": "drop/"})


def test_output_prefixes_must_not_nest_in_each_other() -> None:
    with pytest.raises(SettingsError, match=r"ACTUALS_STATE_PREFIX .* ACTUALS_FAILED_PREFIX"):
        load_settings({**BASE, "ACTUALS_FAILED_PREFIX": "out/", "ACTUALS_STATE_PREFIX": "out/state/"})


def test_ground_truth_prefix_is_checked_only_when_that_sink_writes_to_this_bucket() -> None:
    inside = {**BASE, "ACTUALS_GROUND_TRUTH_PREFIX": "drop/upload_actuals/gt/"}
    load_settings(inside)
    with pytest.raises(SettingsError, match="ACTUALS_GROUND_TRUTH_PREFIX"):
        load_settings({**inside, "ACTUALS_SINKS": "datarobot,model-monitor"})
    load_settings({**inside, "ACTUALS_SINKS": "model-monitor", "ACTUALS_GROUND_TRUTH_BUCKET": "other"})


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://app.datarobot.com", "must use https"),
        ("ftp://x", "https:// URL"),
        ("https://x/?a=1", "without query"),
    ],
)
def test_api_url_must_be_https_outside_loopback(url: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({**BASE, "ACTUALS_API_URL": url})
    assert load_settings({**BASE, "ACTUALS_API_URL": "http://127.0.0.1:8080"}).api_url


def test_model_monitor_only_needs_no_api_settings() -> None:
    env = {"ACTUALS_BUCKET": "b", "ACTUALS_PREFIX": "p/", "ACTUALS_SINKS": "model-monitor"}

    settings = load_settings(env)

    assert settings.sinks == {"model-monitor"}
    assert settings.api_url is None
    assert settings.token_secret_arn is None
    with pytest.raises(SettingsError, match="ACTUALS_API_URL must be set"):
        load_settings({**env, "ACTUALS_SINKS": "model-monitor, datarobot"})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ACTUALS_SINKS", "kafka", "ACTUALS_SINKS must be"),
        ("ACTUALS_DEPLOYMENT_ID_PATTERN", "([a-z", "not a valid regular expression"),
        ("ACTUALS_BAD_ROWS", "ignore", "ACTUALS_BAD_ROWS must be one of"),
        ("ACTUALS_ON_SUCCESS", "keep", "ACTUALS_ON_SUCCESS must be one of"),
        ("ACTUALS_MAX_IN_FLIGHT", "0", "ACTUALS_MAX_IN_FLIGHT must be at least 1"),
    ],
)
def test_malformed_settings_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings({**BASE, name: value})


@pytest.mark.parametrize(
    ("segment", "valid"),
    [
        ("5f0c1f2e3d4c5b6a79881234", True),
        ("5F0C1F2E3D4C5B6A79881234", False),
        ("5f0c1f2e3d4c5b6a7988123", False),
        ("failed", False),
        ("..", False),
    ],
)
def test_deployment_id_validation(segment: str, valid: bool) -> None:
    assert load_settings(BASE).is_deployment_id(segment) is valid


def test_custom_pattern_still_refuses_url_unsafe_ids() -> None:
    settings = load_settings({**BASE, "ACTUALS_DEPLOYMENT_ID_PATTERN": ".+"})

    assert settings.is_deployment_id("churn-prod")
    assert not settings.is_deployment_id("a?b")
    assert not settings.is_deployment_id("..")


def test_spool_limit_is_read_in_megabytes_and_zero_turns_the_spool_off() -> None:
    assert load_settings(BASE).spool_limit_bytes == 256 * 2**20
    assert load_settings({**BASE, "ACTUALS_SPOOL_LIMIT_MB": "0"}).spool_limit_bytes == 0
    with pytest.raises(SettingsError, match="ACTUALS_SPOOL_LIMIT_MB"):
        load_settings({**BASE, "ACTUALS_SPOOL_LIMIT_MB": "-1"})
