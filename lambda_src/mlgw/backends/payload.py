"""Request payloads: the bytes a caller hands to a backend, and the records inside them.

Clients and the batch pipeline send JSON (one record or ``{"instances": [...]}``) or CSV, while
each model reads one wire format. Parsing happens once, lazily, so a payload that already is in
the model's format is forwarded byte for byte and only converted when the formats differ.
Malformed input raises `InvalidInput`, whose message is written for the client.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeAlias

JSON = "application/json"
CSV = "text/csv"

Scalar: TypeAlias = str | int | float | bool | None
Row: TypeAlias = Mapping[str, Scalar] | Sequence[Scalar]

# The JSON number grammar: CSV fields that match it become numbers when a model reads JSON,
# while identifiers such as "007" or "1e" stay strings.
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")


class InvalidInput(ValueError):
    """The caller's input cannot be turned into a model request; `code` names the reason."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def media_type(content_type: str | None) -> str:
    """The bare media type, so `application/json; charset=utf-8` matches `application/json`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def is_json(media: str) -> bool:
    return media == JSON or media.endswith("+json")


@dataclass(frozen=True)
class Records:
    """Rows parsed from a payload; `batch` is true when the caller sent a list of records."""

    rows: tuple[Row, ...]
    batch: bool


@dataclass(frozen=True)
class Payload:
    """Bytes plus media type: the one input every backend accepts. `well_formed` marks a body this
    code wrote itself (the batch pipeline's CSV rows), which needs no parse to be forwarded as it is."""

    body: bytes
    content_type: str
    well_formed: bool = False

    @cached_property
    def records(self) -> Records:
        if not self.body.strip():
            raise InvalidInput("EmptyBody", "the request body is empty")
        if is_json(self.content_type):
            return _parse_json(self.body)
        if self.content_type == CSV:
            return _parse_csv(self.body)
        raise InvalidInput("UnsupportedContentType", f"content type {self.content_type!r} is not supported")


def csv_line_payload(data: str) -> Payload:
    """A payload of one CSV line from a query-string value such as ``1.2,3.4,5.6``."""
    if not data.strip():
        raise InvalidInput("InvalidDataParameter", "the data parameter is empty")
    if "\n" in data or "\r" in data:
        raise InvalidInput("InvalidDataParameter", "the data parameter must be a single line")
    rows = _csv_rows(data)
    if len(rows) != 1:
        raise InvalidInput("InvalidDataParameter", "the data parameter must be one CSV line")
    return Payload(data.encode("utf-8"), CSV)


def _reject_constant(name: str) -> Any:
    raise InvalidInput("MalformedJson", f"the request body is not valid JSON: {name} is not allowed")


def _parse_json(body: bytes) -> Records:
    try:
        document = json.loads(body, parse_constant=_reject_constant)
    except InvalidInput:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 text"
        raise InvalidInput("MalformedJson", f"the request body is not valid JSON: {reason}") from None
    except RecursionError:
        # The decoder recurses once per nesting level and stops at the interpreter's recursion
        # limit (https://docs.python.org/3/library/json.html#json.loads); no record nests at all.
        raise InvalidInput("MalformedJson", "the request body is nested too deeply") from None
    except ValueError:
        # An integer longer than sys.get_int_max_str_digits() (4300 digits by default):
        # https://docs.python.org/3/library/stdtypes.html#int-max-str-digits
        raise InvalidInput("MalformedJson", "the request body holds a number with too many digits") from None
    if not isinstance(document, dict):
        raise InvalidInput("InvalidRecord", 'send one JSON object, or {"instances": [...]}')
    if "instances" not in document:
        return Records((_checked_row(document, "the record"),), batch=False)
    if len(document) != 1:
        raise InvalidInput("InvalidRecord", '"instances" must be the only key of a batch request')
    instances = document["instances"]
    if not isinstance(instances, list) or not instances:
        raise InvalidInput("InvalidRecord", '"instances" must be a non-empty list')
    rows = tuple(
        _checked_row(item if isinstance(item, dict | list) else [item], f"instance {index}")
        for index, item in enumerate(instances)
    )
    return Records(rows, batch=True)


def _checked_row(row: dict[str, Any] | list[Any], where: str) -> Row:
    values = row.values() if isinstance(row, dict) else row
    for value in values:
        if isinstance(value, dict | list):
            raise InvalidInput(
                "InvalidRecord",
                f"{where} holds a nested value; every value must be a string, number, boolean or null",
            )
    if not row:
        raise InvalidInput("InvalidRecord", f"{where} is empty")
    return row


def _parse_csv(body: bytes) -> Records:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("InvalidCsv", "the request body is not UTF-8 text") from None
    rows = _csv_rows(text)
    if not rows:
        raise InvalidInput("EmptyBody", "the request body is empty")
    return Records(tuple(rows), batch=len(rows) > 1)


def _csv_rows(text: str) -> list[list[str]]:
    try:
        return [row for row in csv.reader(io.StringIO(text), strict=True) if row]
    except csv.Error as exc:
        raise InvalidInput("InvalidCsv", f"the CSV input is malformed: {exc}") from None


def _field(value: Scalar) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value)


def _typed(value: str) -> Scalar:
    if not _JSON_NUMBER.fullmatch(value):
        return value
    try:
        return json.loads(value)
    except ValueError:
        # An integer longer than sys.get_int_max_str_digits() (4300 digits by default) has no
        # Python value: https://docs.python.org/3/library/stdtypes.html#int-max-str-digits
        raise InvalidInput(
            "InvalidRecord", f"a number of {len(value)} characters is too long to send as a JSON number"
        ) from None


def positional(row: Row, feature_names: Sequence[str] | None) -> list[Scalar]:
    """Row values in model column order; named rows follow `feature_names` when it is set,
    so clients need not send keys in the order the model was trained on."""
    if not isinstance(row, Mapping):
        return list(row)
    if not feature_names:
        return list(row.values())
    unknown = sorted(set(row) - set(feature_names))
    if unknown:
        raise InvalidInput("InvalidRecord", f"unknown feature(s): {', '.join(unknown)}")
    return [row.get(name) for name in feature_names]


def named(row: Row, feature_names: Sequence[str] | None) -> dict[str, Scalar]:
    """Row as a name -> value mapping, for models that address features by name."""
    if isinstance(row, Mapping):
        return dict(row)
    if not feature_names:
        raise InvalidInput("InvalidRecord", "this model needs named features: send JSON objects")
    if len(row) != len(feature_names):
        raise InvalidInput(
            "InvalidRecord", f"expected {len(feature_names)} values in feature order, got {len(row)}"
        )
    return dict(zip(feature_names, row, strict=True))


def json_value(row: Row) -> dict[str, Scalar] | list[Scalar]:
    """A row for a JSON document; CSV strings that are numbers become numbers."""
    if isinstance(row, Mapping):
        return dict(row)
    return [_typed(value) if isinstance(value, str) else value for value in row]


def to_csv(records: Records, feature_names: Sequence[str] | None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in records.rows:
        writer.writerow([_field(value) for value in positional(row, feature_names)])
    return out.getvalue().encode("utf-8")


def to_json_instances(records: Records) -> bytes:
    return json.dumps({"instances": [json_value(row) for row in records.rows]}).encode("utf-8")


def encode(payload: Payload, target: str, feature_names: Sequence[str] | None) -> bytes:
    """The payload in the model's media type (CSV or JSON), forwarded unchanged when it already
    is in that format: validation still parses it, unless the payload is known to be well formed,
    but a model never sees re-serialised input it did not need."""
    same = payload.content_type == CSV if target == CSV else is_json(payload.content_type)
    if same and payload.well_formed:
        return payload.body
    records = payload.records
    if target == CSV:
        return payload.body if payload.content_type == CSV else to_csv(records, feature_names)
    if is_json(payload.content_type):
        return payload.body
    return to_json_instances(records)
