"""Settings of the batch prediction function: defaults, loop guards and refusals."""

from __future__ import annotations

import json

import pytest

from mlgw.batch.settings import FINISH_SECONDS, Columns, call_worst_case_seconds, load_settings
from mlgw.env import SettingsError

BASE = {
    "BATCH_BUCKET": "batch-bucket",
    "BATCH_INPUT_PREFIX": "batch/in",
    "MODELS_JSON": json.dumps({"default": {"endpoint_name": "churn-prod"}}),
}


def test_defaults_put_outputs_next_to_the_input_prefix_never_inside() -> None:
    settings = load_settings(BASE)
    assert (settings.input_prefix, settings.output_prefix, settings.error_prefix) == (
        "batch/in/",
        "batch/in-output/",
        "batch/in-errors/",
    )
    assert (settings.batch_size, settings.concurrency, settings.route.max_payload_bytes) == (500, 4, 6291456)
    assert settings.transform is None
    assert settings.prediction_columns == ("prediction",)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BATCH_OUTPUT_PREFIX", "batch/in/out/"),
        ("BATCH_ERROR_PREFIX", "batch/in/errors/"),
        ("BATCH_OUTPUT_PREFIX", "batch/"),
    ],
)
def test_prefixes_nested_with_the_input_prefix_are_refused(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"{name} .* must not be nested with BATCH_INPUT_PREFIX"):
        load_settings({**BASE, name: value})


def test_output_and_error_prefixes_must_not_be_nested() -> None:
    with pytest.raises(SettingsError, match="must not be nested"):
        load_settings({**BASE, "BATCH_OUTPUT_PREFIX": "out/", "BATCH_ERROR_PREFIX": "out/errors/"})


def test_the_route_must_exist_and_batch() -> None:
    with pytest.raises(SettingsError, match="BATCH_MODEL_ROUTE 'other'"):
        load_settings({**BASE, "BATCH_MODEL_ROUTE": "other"})
    legacy = {
        "default": {"backend": "amazon-ml", "model_id": "ml-1", "predict_endpoint": "https://ml.example"}
    }
    with pytest.raises(SettingsError, match="amazon-ml"):
        load_settings({**BASE, "MODELS_JSON": json.dumps(legacy)})


def test_records_must_fit_the_serverless_payload_limit() -> None:
    serverless = json.dumps({"default": {"endpoint_name": "e", "serverless": True}})
    with pytest.raises(SettingsError, match="BATCH_MAX_RECORD_BYTES must be at most 4194304"):
        load_settings({**BASE, "MODELS_JSON": serverless, "BATCH_MAX_RECORD_BYTES": str(5 * 1024 * 1024)})


def test_headerless_csv_columns_are_one_based_positions() -> None:
    settings = load_settings(
        {**BASE, "BATCH_CSV_HEADER": "false", "BATCH_FEATURE_COLUMNS": "2, 3", "BATCH_ID_COLUMN": "1"}
    )
    assert settings.csv_columns == Columns((1, 2), 0)
    assert settings.json_columns == Columns(("2", "3"), "1")
    with pytest.raises(SettingsError, match="BATCH_ID_COLUMN must name columns by 1-based position"):
        load_settings({**BASE, "BATCH_CSV_HEADER": "false", "BATCH_ID_COLUMN": "id"})


def test_transform_settings() -> None:
    settings = load_settings({**BASE, "BATCH_TRANSFORM_MODEL_NAME": "m"})
    assert settings.transform is not None
    assert (settings.transform.min_bytes, settings.transform.job_name_prefix) == (512 * 1024 * 1024, "batch")
    double = load_settings({**BASE, "BATCH_TRANSFORM_MODEL_NAME": "m", "BATCH_TRANSFORM_JOB_PREFIX": "a--b"})
    assert double.transform is not None
    assert double.transform.job_name_prefix == "a--b"
    for bad in ("Bad_Name", "ends-", "x" * 47):
        with pytest.raises(SettingsError, match="BATCH_TRANSFORM_JOB_PREFIX"):
            load_settings({**BASE, "BATCH_TRANSFORM_MODEL_NAME": "m", "BATCH_TRANSFORM_JOB_PREFIX": bad})
    with pytest.raises(SettingsError, match="BATCH_TRANSFORM_JOB_PREFIX"):
        load_settings({**BASE, "BATCH_TRANSFORM_MODEL_NAME": "m", "BATCH_TRANSFORM_JOB_PREFIX": "Bad_Name"})
    with pytest.raises(SettingsError, match="set BATCH_FEATURE_COLUMNS"):
        load_settings(
            {**BASE, "BATCH_TRANSFORM_MODEL_NAME": "m", "BATCH_CSV_HEADER": "false", "BATCH_ID_COLUMN": "1"}
        )


def test_duplicate_column_names_are_refused() -> None:
    with pytest.raises(SettingsError, match="BATCH_FEATURE_COLUMNS"):
        load_settings({**BASE, "BATCH_FEATURE_COLUMNS": "a,a"})


def test_the_default_margin_covers_the_worst_case_of_one_model_call_and_the_finish() -> None:
    settings = load_settings(BASE)
    # 3 attempts x (2 s connect + 70 s read), backoffs of at most 1 s and 2 s, each raised by up
    # to 5 s when the service sends Retry-After
    assert call_worst_case_seconds(settings.model_budget) == 3 * (2 + 70) + (1 + 2) + 2 * 5
    assert settings.time_margin == 229 + FINISH_SECONDS


def test_the_margin_follows_the_model_budget() -> None:
    quick = {**BASE, "MODEL_READ_TIMEOUT_SECONDS": "10", "MODEL_MAX_ATTEMPTS": "1"}
    assert load_settings(quick).time_margin == 12 + FINISH_SECONDS
    assert load_settings({**quick, "BATCH_TIME_MARGIN_SECONDS": "12"}).time_margin == 12


def test_a_margin_below_the_worst_case_of_one_call_is_refused_naming_both_numbers() -> None:
    with pytest.raises(SettingsError, match=r"BATCH_TIME_MARGIN_SECONDS \(30 s\) .* \(229 s"):
        load_settings({**BASE, "BATCH_TIME_MARGIN_SECONDS": "30"})
    with pytest.raises(SettingsError, match=r"\(11.9 s\) .* \(12 s"):
        load_settings(
            {
                **BASE,
                "MODEL_READ_TIMEOUT_SECONDS": "10",
                "MODEL_MAX_ATTEMPTS": "1",
                "BATCH_TIME_MARGIN_SECONDS": "11.9",
            }
        )
