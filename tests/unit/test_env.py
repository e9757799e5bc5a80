import json

import pytest

from mlgw.env import Document, SettingsError, load_document


def test_missing_fields_are_named_with_their_path() -> None:
    document = Document({"model_call": {}})
    with pytest.raises(SettingsError, match=r"^MLGW_SETTINGS\.model_call\.max_attempts is missing$"):
        document.section("model_call").whole("max_attempts")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("5", "whole number"),
        (True, "whole number"),
        (1.5, "whole number"),
        (0, "at least 1"),
        (11, "at most 10"),
    ],
)
def test_whole_numbers_are_checked(raw: object, message: str) -> None:
    with pytest.raises(SettingsError, match=f"MLGW_SETTINGS.batch_size must .*{message}"):
        Document({"batch_size": raw}).whole("batch_size", minimum=1, maximum=10)


def test_whole_numbers_written_as_floats_are_accepted() -> None:
    assert Document({"n": 500.0}).whole("n") == 500


def test_null_is_only_accepted_where_optional() -> None:
    document = Document({"id_column": None})
    assert document.opt_text("id_column") is None
    with pytest.raises(SettingsError, match="must be a non-empty string"):
        document.text("id_column")


def test_prefixes_are_normalised() -> None:
    assert Document({"p": "/batch/in//"}).prefix("p") == "batch/in/"
    with pytest.raises(SettingsError, match="non-empty key prefix"):
        Document({"p": "/"}).prefix("p")


def test_choices_and_flags() -> None:
    assert Document({"c": "skip"}).choice("c", ("reject", "skip")) == "skip"
    with pytest.raises(SettingsError, match="must be one of reject, skip"):
        Document({"c": "drop"}).choice("c", ("reject", "skip"))
    with pytest.raises(SettingsError, match="true or false"):
        Document({"f": "true"}).flag("f")


def test_load_document_reads_the_variable() -> None:
    assert load_document({"MLGW_SETTINGS": json.dumps({"a": 1})}).whole("a") == 1
