"""Settings of the batch prediction function: the module's document, loop guards and refusals."""

from __future__ import annotations

import json
from typing import Any

import pytest
import settings_documents
from batch_helpers import batch_fields

from mlgw.batch.settings import Columns, call_worst_case_seconds, load_settings
from mlgw.env import SettingsError

ROUTE = {"backend": "sagemaker", "endpoint_name": "churn-prod"}


def load(**fields: Any) -> Any:
    return load_settings(settings_documents.environment(batch_fields(**{"route": ROUTE, **fields})))


def test_the_modules_defaults_are_read_as_they_are() -> None:
    settings = load()
    assert (settings.input_prefix, settings.output_prefix, settings.error_prefix) == (
        "batch/in/",
        "batch/out/",
        "batch/errors/",
    )
    assert (settings.batch_size, settings.concurrency, settings.route.max_payload_bytes) == (5000, 4, 6291456)
    assert (settings.retry_attempts, settings.backoff_base, settings.backoff_max) == (6, 0.5, 20.0)
    assert (settings.isolation_calls, settings.part_bytes, settings.max_record_bytes) == (
        100,
        5 * 2**20,
        2**20,
    )
    assert settings.transform is None
    assert settings.prediction_columns == ("prediction",)


@pytest.mark.parametrize(
    ("name", "value"),
    [("output_prefix", "batch/in/out/"), ("error_prefix", "batch/in/errors/"), ("output_prefix", "batch/")],
)
def test_prefixes_nested_with_the_input_prefix_are_refused(name: str, value: str) -> None:
    with pytest.raises(
        SettingsError, match=rf"MLGW_SETTINGS\.{name} .* must not be nested with MLGW_SETTINGS\.input_prefix"
    ):
        load(**{name: value})


def test_output_and_error_prefixes_must_not_be_nested() -> None:
    with pytest.raises(SettingsError, match="must not be nested"):
        load(output_prefix="out/", error_prefix="out/errors/")


def test_the_route_must_batch() -> None:
    legacy = {"backend": "amazon-ml", "model_id": "ml-1", "predict_endpoint": "https://ml.example"}
    with pytest.raises(SettingsError, match=r"MLGW_SETTINGS\.model_route 'default' is an amazon-ml route"):
        load(route=legacy)


def test_records_must_fit_the_serverless_payload_limit() -> None:
    serverless = {"endpoint_name": "e", "serverless": True}
    with pytest.raises(SettingsError, match=r"MLGW_SETTINGS\.max_record_bytes must be at most 4194304"):
        load(route=serverless, max_record_bytes=5 * 1024 * 1024)


def test_headerless_csv_columns_are_one_based_positions() -> None:
    settings = load(csv_header=False, feature_columns=["2", "3"], id_column="1")
    assert settings.csv_columns == Columns((1, 2), 0)
    assert settings.json_columns == Columns(("2", "3"), "1")
    with pytest.raises(
        SettingsError, match=r"MLGW_SETTINGS\.id_column must name columns by 1-based position"
    ):
        load(csv_header=False, id_column="id")


def test_transform_settings() -> None:
    settings = load(transform={"model_name": "m"})
    assert settings.transform is not None
    assert (settings.transform.min_bytes, settings.transform.job_name_prefix) == (
        512 * 1024 * 1024,
        "churn-batch",
    )
    assert (settings.transform.max_payload_mb, settings.transform.kms_key_id) == (6, None)
    double = load(transform={"model_name": "m", "job_name_prefix": "a--b"})
    assert double.transform is not None
    assert double.transform.job_name_prefix == "a--b"
    for bad in ("Bad_Name", "ends-", "x" * 47):
        with pytest.raises(SettingsError, match=r"MLGW_SETTINGS\.transform\.job_name_prefix"):
            load(transform={"model_name": "m", "job_name_prefix": bad})
    with pytest.raises(SettingsError, match=r"set MLGW_SETTINGS\.feature_columns"):
        load(transform={"model_name": "m"}, csv_header=False, id_column="1")


def test_duplicate_column_names_are_refused() -> None:
    with pytest.raises(SettingsError, match=r"MLGW_SETTINGS\.feature_columns"):
        load(feature_columns=["a", "a"])


def test_the_default_margin_covers_the_worst_case_of_one_model_call_and_the_finish() -> None:
    settings = load()
    # 3 attempts x (2 s connect + 70 s read), backoffs of at most 1 s and 2 s, each raised by up
    # to 5 s when the service sends Retry-After
    assert call_worst_case_seconds(settings.model_budget) == 3 * (2 + 70) + (1 + 2) + 2 * 5
    assert settings.time_margin == 229 + 30 == settings_documents.BATCH["time_margin_seconds"]


def test_a_margin_below_the_worst_case_of_one_call_is_refused_naming_both_numbers() -> None:
    with pytest.raises(SettingsError, match=r"MLGW_SETTINGS\.time_margin_seconds \(30 s\) .* \(229 s"):
        load(time_margin_seconds=30)
    with pytest.raises(SettingsError, match=r"\(11.9 s\) .* \(12 s"):
        load(model_call={"read_timeout_seconds": 10, "max_attempts": 1}, time_margin_seconds=11.9)
    assert (
        load(model_call={"read_timeout_seconds": 10, "max_attempts": 1}, time_margin_seconds=12).time_margin
        == 12
    )


@pytest.mark.parametrize("name", ["batch_retry", "isolation_calls", "part_size_mb", "transform", "route"])
def test_every_field_is_required(name: str) -> None:
    document = batch_fields(route=ROUTE)
    del document[name]
    with pytest.raises(SettingsError, match=rf"^MLGW_SETTINGS\.{name} is missing$"):
        load_settings({"MLGW_SETTINGS": json.dumps(document)})
