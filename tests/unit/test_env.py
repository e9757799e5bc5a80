import pytest

from mlgw.env import (
    SettingsError,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_json,
    env_prefix,
    env_str,
)


def test_env_str_missing_names_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"^MODEL_URL must be set$"):
        env_str({}, "MODEL_URL")


def test_env_str_default_applies_to_blank() -> None:
    assert env_str({"X": "  "}, "X", "fallback") == "fallback"


@pytest.mark.parametrize(
    ("raw", "message"), [("abc", "whole number"), ("0", "at least 1"), ("11", "at most 10")]
)
def test_env_int_rejects_bad_values(raw: str, message: str) -> None:
    with pytest.raises(SettingsError, match=f"BATCH_SIZE must be .*{message}"):
        env_int({"BATCH_SIZE": raw}, "BATCH_SIZE", minimum=1, maximum=10)


def test_env_int_and_float_parse() -> None:
    assert env_int({"N": " 7 "}, "N", minimum=1) == 7
    assert env_float({"T": "2.5"}, "T", minimum=0.1, maximum=29) == 2.5
    with pytest.raises(SettingsError, match="T must be at most 29"):
        env_float({"T": "30"}, "T", maximum=29)


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("0", False), ("", True)])
def test_env_bool(raw: str, expected: bool) -> None:
    assert env_bool({"B": raw}, "B", default=True) is expected


def test_env_bool_rejects_other_words() -> None:
    with pytest.raises(SettingsError, match="B must be true or false"):
        env_bool({"B": "maybe"}, "B", default=False)


def test_env_choice() -> None:
    assert env_choice({"M": "archive"}, "M", ("delete", "archive")) == "archive"
    with pytest.raises(SettingsError, match="M must be one of delete, archive"):
        env_choice({"M": "keep"}, "M", ("delete", "archive"))


def test_env_json_reports_position() -> None:
    assert env_json({"J": '{"a": 1}'}, "J") == {"a": 1}
    with pytest.raises(SettingsError, match="J must be valid JSON"):
        env_json({"J": "{oops"}, "J")


def test_env_prefix_normalises_slashes() -> None:
    assert env_prefix({"P": "/batch/in"}, "P") == "batch/in/"
    assert env_prefix({"P": "batch/in//"}, "P") == "batch/in/"
    with pytest.raises(SettingsError, match="P must be a non-empty key prefix"):
        env_prefix({"P": "/"}, "P")
