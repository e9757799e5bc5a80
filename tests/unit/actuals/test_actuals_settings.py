import json
from typing import Any

import pytest
import settings_documents
from actuals_helpers import sibling_prefixes

from mlgw.actuals.settings import load_settings
from mlgw.env import SettingsError

SECRET = {"ACTUALS_TOKEN_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:111122223333:secret:t-AbCdEf"}
BASE: dict[str, Any] = {
    "bucket": "b",
    "prefix": "drop/upload_actuals/",
    **sibling_prefixes("drop/upload_actuals/"),
    "ground_truth_bucket": "b",
    "api_url": "https://app.datarobot.com/",
}


def env(**fields: Any) -> dict[str, str]:
    return {**SECRET, **settings_documents.environment(settings_documents.ACTUALS, **{**BASE, **fields})}


def test_the_modules_defaults_are_read_as_they_are() -> None:
    settings = load_settings(env())

    assert settings.prefix == "drop/upload_actuals/"
    assert settings.processed_prefix == "drop/upload_actuals-processed/"
    assert settings.api_url == "https://app.datarobot.com"
    assert settings.token_secret_arn == SECRET["ACTUALS_TOKEN_SECRET_ARN"]
    assert (settings.report_rows, settings.on_success, settings.skip_bad_rows) == (10_000, "delete", False)
    assert (settings.max_in_flight, settings.bad_rows_in_report, settings.max_attempts) == (8, 100, 3)
    assert (settings.connect_timeout, settings.read_timeout, settings.max_retries) == (5.0, 60.0, 6)
    assert (settings.backoff_base, settings.backoff_max) == (0.5, 30.0)
    assert (settings.poll_interval, settings.poll_max_interval, settings.time_margin) == (1.0, 10.0, 20.0)


@pytest.mark.parametrize(("raw", "message"), [(0, "at least 1"), (10001, "at most 10000"), ("x", "whole")])
def test_report_rows_outside_the_api_limit_is_refused(raw: Any, message: str) -> None:
    with pytest.raises(SettingsError, match=f"MLGW_SETTINGS.report_rows must be .*{message}"):
        load_settings(env(report_rows=raw))


@pytest.mark.parametrize("raw", [1, 10000])
def test_report_rows_at_the_limits_is_accepted(raw: int) -> None:
    assert load_settings(env(report_rows=raw)).report_rows == raw


@pytest.mark.parametrize("name", ["failed_prefix", "processed_prefix", "state_prefix"])
def test_output_prefix_inside_the_trigger_prefix_is_refused(name: str) -> None:
    with pytest.raises(
        SettingsError, match=f"MLGW_SETTINGS.{name} .* must not be nested with MLGW_SETTINGS.prefix"
    ):
        load_settings(env(**{name: "drop/upload_actuals/failed/"}))


def test_trigger_prefix_inside_an_output_prefix_is_refused() -> None:
    with pytest.raises(SettingsError, match="state_prefix"):
        load_settings(env(state_prefix="drop/"))


def test_output_prefixes_must_not_nest_in_each_other() -> None:
    with pytest.raises(
        SettingsError,
        match=r"state_prefix \('out/state/'\) must not be nested with MLGW_SETTINGS.failed_prefix",
    ):
        load_settings(env(failed_prefix="out/", state_prefix="out/state/"))


def test_ground_truth_prefix_is_checked_only_when_that_sink_writes_to_this_bucket() -> None:
    inside = {"ground_truth_prefix": "drop/upload_actuals/gt/"}
    load_settings(env(**inside))
    with pytest.raises(SettingsError, match="ground_truth_prefix"):
        load_settings(env(**inside, sinks=["datarobot", "model-monitor"]))
    load_settings(env(**inside, sinks=["model-monitor"], ground_truth_bucket="other"))


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
        load_settings(env(api_url=url))
    assert load_settings(env(api_url="http://127.0.0.1:8080")).api_url


def test_model_monitor_only_needs_no_token() -> None:
    model_monitor = settings_documents.environment(
        settings_documents.ACTUALS, **BASE, sinks=["model-monitor"]
    )

    settings = load_settings(model_monitor)

    assert settings.sinks == {"model-monitor"}
    assert settings.api_url is None
    assert settings.token_secret_arn is None
    both = settings_documents.environment(
        settings_documents.ACTUALS, **BASE, sinks=["model-monitor", "datarobot"]
    )
    with pytest.raises(SettingsError, match="ACTUALS_TOKEN_SECRET_ARN must be set"):
        load_settings(both)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("sinks", ["kafka"], "MLGW_SETTINGS.sinks must name"),
        ("deployment_id_pattern", "([a-z", "not a valid regular expression"),
        ("bad_rows", "ignore", "MLGW_SETTINGS.bad_rows must be one of"),
        ("on_success", "keep", "MLGW_SETTINGS.on_success must be one of"),
        ("max_in_flight", 0, "MLGW_SETTINGS.max_in_flight must be at least 1"),
        ("http", {"max_retries": -1}, r"MLGW_SETTINGS.http.max_retries must be at least 0"),
    ],
)
def test_malformed_settings_name_the_field(name: str, value: Any, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_settings(env(**{name: value}))


@pytest.mark.parametrize(
    "name", ["max_in_flight", "http", "status_poll", "deployment_id_pattern", "ground_truth_endpoint"]
)
def test_every_field_is_required(name: str) -> None:
    document = settings_documents.document(settings_documents.ACTUALS, **BASE)
    del document[name]
    with pytest.raises(SettingsError, match=f"^MLGW_SETTINGS.{name} is missing$"):
        load_settings({**SECRET, "MLGW_SETTINGS": json.dumps(document)})


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
    assert load_settings(env()).is_deployment_id(segment) is valid


def test_custom_pattern_still_refuses_url_unsafe_ids() -> None:
    settings = load_settings(env(deployment_id_pattern=".+"))

    assert settings.is_deployment_id("churn-prod")
    assert not settings.is_deployment_id("a?b")
    assert not settings.is_deployment_id("..")


def test_spool_limit_is_read_in_megabytes_and_zero_turns_the_spool_off() -> None:
    assert load_settings(env()).spool_limit_bytes == 256 * 2**20
    assert load_settings(env(spool_limit_mb=0)).spool_limit_bytes == 0
    with pytest.raises(SettingsError, match="spool_limit_mb"):
        load_settings(env(spool_limit_mb=-1))


def test_the_dataset_path_defaults_are_read_as_they_are() -> None:
    path = load_settings(env()).dataset_path

    assert (path.enabled, path.min_bytes, path.fetch, path.url_expiry_seconds) == (
        True,
        512 * 2**20,
        "url",
        3600,
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"url_expiry_seconds": 3601}, "url_expiry_seconds must be at most 3600"),
        ({"url_expiry_seconds": 59}, "url_expiry_seconds must be at least 60"),
        ({"min_bytes": 0}, "min_bytes must be at least 1"),
        ({"fetch": "s3"}, "fetch must be one of url, upload"),
        ({"enabled": "yes"}, "enabled must be true or false"),
    ],
)
def test_dataset_path_settings_outside_their_ranges_are_refused(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(SettingsError, match=f"MLGW_SETTINGS.dataset_path.{message}"):
        load_settings(env(dataset_path=fields))
