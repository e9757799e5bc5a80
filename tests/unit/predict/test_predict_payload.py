import json

import pytest

from mlgw.backends.payload import (
    CSV,
    JSON,
    InvalidInput,
    Payload,
    csv_line_payload,
    encode,
    media_type,
)


def records(body: bytes | str, content_type: str = JSON) -> tuple:
    raw = body.encode() if isinstance(body, str) else body
    parsed = Payload(raw, content_type).records
    return parsed.rows, parsed.batch


def invalid(body: bytes | str, content_type: str = JSON) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        records(body, content_type)
    return caught.value


def test_single_json_record_is_one_row() -> None:
    assert records('{"var1": "1.2", "var2": 3.4}') == (({"var1": "1.2", "var2": 3.4},), False)


def test_instances_are_a_batch_of_rows() -> None:
    rows, batch = records('{"instances": [{"a": 1}, [1, 2], "free text"]}')
    assert rows == ({"a": 1}, [1, 2], ["free text"])
    assert batch is True


def test_csv_lines_become_string_rows_and_blank_lines_are_skipped() -> None:
    assert records("1.2,3.4\n\n5.6,7.8\n", CSV) == ((["1.2", "3.4"], ["5.6", "7.8"]), True)


@pytest.mark.parametrize("body", ["{oops", '{"a": NaN}', '{"a": Infinity}', b"\xff\xfe{}"])
def test_malformed_json_is_refused(body: str | bytes) -> None:
    assert invalid(body).code == "MalformedJson"


@pytest.mark.parametrize("body", ["", "  \n"])
def test_empty_body_is_refused(body: str) -> None:
    assert invalid(body).code == "EmptyBody"


def test_empty_csv_is_refused() -> None:
    assert invalid("\n\n", CSV).code == "EmptyBody"


@pytest.mark.parametrize(
    "body",
    [
        '{"a": {"nested": 1}}',
        '{"a": [1, 2]}',
        '{"instances": [{"a": [1]}]}',
        '{"instances": [[1, [2]]]}',
    ],
)
def test_non_scalar_values_are_refused(body: str) -> None:
    error = invalid(body)
    assert error.code == "InvalidRecord"
    assert "nested value" in str(error)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("[1, 2]", "one JSON object"),
        ('"text"', "one JSON object"),
        ("{}", "empty"),
        ('{"instances": []}', "non-empty list"),
        ('{"instances": {"a": 1}}', "non-empty list"),
        ('{"instances": [{"a": 1}], "parameters": {}}', "only key"),
    ],
)
def test_records_of_the_wrong_shape_are_refused(body: str, reason: str) -> None:
    error = invalid(body)
    assert error.code == "InvalidRecord"
    assert reason in str(error)


def test_unsupported_media_type_is_refused() -> None:
    assert invalid("a=1", "application/x-www-form-urlencoded").code == "UnsupportedContentType"


def test_non_utf8_csv_is_refused() -> None:
    assert invalid(b"\xff,1\n", CSV).code == "InvalidCsv"


def test_media_type_drops_parameters_and_case() -> None:
    assert media_type("Application/JSON; charset=UTF-8") == JSON
    assert media_type(None) == ""


def test_data_parameter_is_one_csv_line() -> None:
    payload = csv_line_payload("1.2,3.4,5.6")
    assert (payload.body, payload.content_type) == (b"1.2,3.4,5.6", CSV)


@pytest.mark.parametrize("data", ["", "  ", "1,2\n3,4", "1,2\r"])
def test_bad_data_parameter_is_refused(data: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        csv_line_payload(data)
    assert caught.value.code == "InvalidDataParameter"


def test_json_to_a_json_model_is_forwarded_byte_for_byte() -> None:
    body = b'{ "var1" : "1.2" }'
    assert encode(Payload(body, JSON), JSON, None) is body


def test_csv_to_a_csv_model_is_forwarded_byte_for_byte() -> None:
    body = b"1,2\r\n3,4\r\n"
    assert encode(Payload(body, CSV), CSV, ("a", "b")) is body


def test_well_formed_csv_to_a_csv_model_is_forwarded_without_a_parse() -> None:
    # Given CSV the batch pipeline wrote itself, and the same bytes from a client
    body = b"1,2\n3,4\n"
    written, received = Payload(body, CSV, well_formed=True), Payload(body, CSV)
    # When both go to a CSV model
    assert encode(written, CSV, None) is body
    assert encode(received, CSV, None) is body
    # Then only the client's bytes were parsed to be checked
    assert "records" not in vars(written)
    assert "records" in vars(received)


def test_well_formed_csv_to_a_json_model_is_still_converted() -> None:
    body = encode(Payload(b"1.5,a\n", CSV, well_formed=True), JSON, None)
    assert json.loads(body) == {"instances": [[1.5, "a"]]}


def test_json_records_to_a_csv_model_follow_feature_order() -> None:
    # Given a client that sends keys in another order than the model's columns
    payload = Payload(b'{"instances": [{"b": 2, "a": "x,y"}, {"a": true, "b": null}]}', JSON)
    # When the route names its features
    body = encode(payload, CSV, ("a", "b"))
    # Then each line follows the feature order, quoting and blanking as CSV needs
    assert body == b'"x,y",2\ntrue,\n'


def test_json_records_to_a_csv_model_refuse_unknown_features() -> None:
    with pytest.raises(InvalidInput, match="unknown feature"):
        encode(Payload(b'{"a": 1, "zzz": 2}', JSON), CSV, ("a", "b"))


def test_csv_to_a_json_model_becomes_typed_instances() -> None:
    body = encode(Payload(b"1.2,007,abc,-3e2\n", CSV), JSON, None)
    assert json.loads(body) == {"instances": [[1.2, "007", "abc", -300.0]]}
