"""API constraints from AWS's own service models, checked against planned values.

``api_model.toml`` maps each attribute of each resource type we use to the API parameter it
becomes (an operation and a member path in botocore's ``service-2.json``), or says why it
maps to none. Every known planned value is then checked against that parameter's shape as
AWS's request validation does: enum, pattern (matched against the whole value, as AWS's
"Member must satisfy regular expression pattern" errors do), length or count bounds and
numeric ranges. Nested shapes are followed: a list's members, a map's keys and values, and a
Terraform map sent as a list of name/value pairs (tags, dimensions).

What the provider does not send is not checked: an argument's zero value (``""``, ``0``, an
empty list or map), which the provider reads as unset, and the values a mapping lists as
``not_sent`` (``reserved_concurrent_executions = -1`` means "no reservation").
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import math
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import regex

from tfharness.conformance.core import UNKNOWN, Violation, walk

TABLE_PATH = Path(__file__).with_name("api_model.toml")
BOTOCORE_URL = (
    "https://github.com/boto/botocore/blob/develop/botocore/data/{service}/{version}/service-2.json"
)


@dataclass(frozen=True)
class Mapping:
    """One attribute path of a resource type and the API parameter it becomes."""

    type_name: str
    attribute: str
    service: str
    operation: str
    member: str
    not_sent: tuple[Any, ...] = ()

    @property
    def api(self) -> str:
        return f"{self.service}:{self.operation} {self.member}"


@dataclass(frozen=True)
class Table:
    mappings: dict[str, list[Mapping]]  # type -> mappings
    unmapped: dict[str, dict[str, str]]  # type -> attribute -> why it maps to no parameter


def _parse_target(type_name: str, default_operation: str | None, target: str) -> tuple[str, str, str]:
    if " " in target:
        operation, member = target.split(" ", 1)
    elif default_operation is None:
        raise ValueError(f"{type_name}: {target!r} names no operation and the type has no default one")
    else:
        operation, member = default_operation, target
    service, _, op_name = operation.partition(":")
    if not op_name:
        raise ValueError(f"{type_name}: operation {operation!r} must look like service:Operation")
    return service, op_name, member


def _mapping(type_name: str, default_operation: str | None, attribute: str, target: Any) -> Mapping:
    """A table entry: ``"Member.Path"``, ``"service:Operation Member.Path"``, or an inline table
    ``{ to = "...", not_sent = [values the provider treats as unset] }``."""
    not_sent: tuple[Any, ...] = ()
    if isinstance(target, dict):
        unknown_keys = set(target) - {"to", "not_sent"}
        if unknown_keys or "to" not in target:
            raise ValueError(f"{type_name}.{attribute}: an inline mapping takes `to` and `not_sent`")
        not_sent = tuple(target.get("not_sent", ()))
        target = target["to"]
    return Mapping(type_name, attribute, *_parse_target(type_name, default_operation, target), not_sent)


@functools.cache
def load_table(path: Path = TABLE_PATH) -> Table:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    mappings: dict[str, list[Mapping]] = {}
    unmapped: dict[str, dict[str, str]] = {}
    for type_name, entry in data.items():
        default_operation = entry.get("operation")
        mappings[type_name] = [
            _mapping(type_name, default_operation, attribute, target)
            for attribute, target in entry.get("map", {}).items()
        ]
        unmapped[type_name] = dict(entry.get("unmapped", {}))
    return Table(mappings, unmapped)


@functools.cache
def _session() -> Any:
    import botocore.session

    return botocore.session.get_session()


@functools.cache
def service_model(service: str) -> Any:
    return _session().get_service_model(service)


@functools.cache
def resolve(mapping: Mapping) -> Any:
    """The botocore shape of ``mapping``'s member, through structures, list members and map
    values."""
    model = service_model(mapping.service)
    shape = model.operation_model(mapping.operation).input_shape
    for part in mapping.member.split("."):
        while shape.type_name in ("list", "map"):
            shape = shape.member if shape.type_name == "list" else shape.value
        if shape.type_name != "structure" or part not in shape.members:
            raise KeyError(f"{mapping.api}: {shape.name} has no member {part!r}")
        shape = shape.members[part]
    return shape


# Java writes a character outside the Basic Multilingual Plane as a UTF-16 surrogate pair, so
# botocore's patterns (AWS's, in Java syntax) hold ranges such as \uD800\uDC00-\uDBFF\uDFFF.
_SURROGATE_PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})", re.IGNORECASE)


def _code_point(match: re.Match[str]) -> str:
    high, low = int(match[1], 16), int(match[2], 16)
    return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"


@functools.cache
def _compiled(pattern: str) -> Any:
    return regex.compile(_SURROGATE_PAIR.sub(_code_point, pattern))


@functools.cache
def _compiled_ascii(pattern: str) -> Any:
    return regex.compile(_SURROGATE_PAIR.sub(_code_point, pattern), regex.ASCII)


def _matches(pattern: str, value: str) -> bool:
    """Whether AWS's Java regex could accept ``value`` as a whole.

    Java matches ``\\w``, ``\\d`` and ``\\s`` as ASCII but ``\\p{L}`` as Unicode. Python
    matches both one way or the other, so a value counts as a mismatch only when it fails
    both ways: the check errs towards accepting.
    """
    return bool(_compiled(pattern).fullmatch(value) or _compiled_ascii(pattern).fullmatch(value))


def _pair_members(shape: Any) -> tuple[Any, Any] | None:
    """The key and value shapes of a list of name/value pairs (tags, dimensions), the form a
    Terraform map takes on the wire for many APIs."""
    if shape.type_name != "list" or shape.member.type_name != "structure":
        return None
    members = shape.member.members
    for key, value in (("Key", "Value"), ("TagKey", "TagValue"), ("Name", "Value")):
        if set(members) == {key, value}:
            return members[key], members[value]
    return None


@dataclass(frozen=True)
class Constraint:
    """What a value sent as one botocore shape must satisfy: the parts of the shape a check
    reads, small enough to cache on disk (so a provider process need not load botocore)."""

    kind: str  # botocore's type name: string, integer, list, map, structure, ...
    min: float | None = None
    max: float | None = None
    pattern: str | None = None
    enum: tuple[str, ...] = ()
    member: Constraint | None = None  # a list's elements
    key: Constraint | None = None  # a map's keys
    value: Constraint | None = None  # a map's values
    pair: tuple[Constraint, Constraint] | None = None  # a list of name/value structures

    @classmethod
    def of(cls, shape: Any) -> Constraint:
        meta = shape.metadata
        pair = _pair_members(shape)
        return cls(
            kind=shape.type_name,
            min=meta.get("min"),
            max=meta.get("max"),
            pattern=meta.get("pattern"),
            enum=tuple(getattr(shape, "enum", None) or ()) if shape.type_name == "string" else (),
            member=cls.of(shape.member) if shape.type_name == "list" else None,
            key=cls.of(shape.key) if shape.type_name == "map" else None,
            value=cls.of(shape.value) if shape.type_name == "map" else None,
            pair=(cls.of(pair[0]), cls.of(pair[1])) if pair else None,
        )

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        for name in ("min", "max", "pattern"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if self.enum:
            data["enum"] = list(self.enum)
        for name in ("member", "key", "value"):
            if (inner := getattr(self, name)) is not None:
                data[name] = inner.to_json()
        if self.pair:
            data["pair"] = [self.pair[0].to_json(), self.pair[1].to_json()]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Constraint:
        nested = {name: cls.from_json(data[name]) for name in ("member", "key", "value") if name in data}
        pair = (cls.from_json(data["pair"][0]), cls.from_json(data["pair"][1])) if "pair" in data else None
        return cls(
            kind=data["kind"],
            min=data.get("min"),
            max=data.get("max"),
            pattern=data.get("pattern"),
            enum=tuple(data.get("enum", ())),
            pair=pair,
            **nested,
        )


@functools.cache
def _cache() -> dict[str, Any]:
    """The constraint of every mapping in the committed table and each service's API version,
    cached in the temporary directory under a key of the table, this module and botocore's
    version. Provider processes start once per Terraform command; reading this file spares
    each of them importing botocore and parsing the service models."""
    digest = hashlib.sha256(TABLE_PATH.read_bytes() + Path(__file__).read_bytes())
    digest.update(importlib.metadata.version("botocore").encode())
    key = digest.hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"tfharness-api-model-{key}.json"
    with contextlib.suppress(OSError, ValueError):
        return json.loads(path.read_text(encoding="utf-8"))
    mappings = [m for ms in load_table().mappings.values() for m in ms]
    data = {
        "constraints": {m.api: Constraint.of(resolve(m)).to_json() for m in mappings},
        "versions": {m.service: service_model(m.service).api_version for m in mappings},
    }
    with contextlib.suppress(OSError):
        partial = path.with_name(f"{path.name}.{os.getpid()}")
        partial.write_text(json.dumps(data), encoding="utf-8")
        os.replace(partial, path)
    return data


@functools.cache
def constraint(mapping: Mapping) -> Constraint:
    """What a value of ``mapping``'s attribute must satisfy."""
    cached = _cache()["constraints"].get(mapping.api)
    return Constraint.from_json(cached) if cached is not None else Constraint.of(resolve(mapping))


def _describe(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _count(size: int, bounds: Constraint, noun: str) -> list[str]:
    if bounds.min is not None and size < bounds.min:
        return [f"has {size} {noun}, fewer than {bounds.min}"]
    if bounds.max is not None and size > bounds.max:
        return [f"has {size} {noun}, more than {bounds.max}"]
    return []


def check_value(value: Any, shape: Constraint | Any) -> list[str]:
    """Messages for each way ``value`` breaks ``shape``'s constraints (empty when it fits).
    ``shape`` is a ``Constraint`` or the botocore shape it is read from."""
    if not isinstance(shape, Constraint):
        shape = Constraint.of(shape)
    if value is None or value is UNKNOWN:
        return []
    kind = shape.kind
    if isinstance(value, list) and kind not in ("list", "map", "structure"):
        # A Terraform list or set whose every element becomes one such parameter.
        return [f"[{i}] {p}" for i, item in enumerate(value) for p in check_value(item, shape)]
    problems: list[str] = []
    if kind == "string":
        if not isinstance(value, str):
            return []
        if shape.enum and value not in shape.enum:
            problems.append(f"{_describe(value)} must be one of {', '.join(shape.enum)}")
        if shape.min is not None and len(value) < shape.min:
            problems.append(f"{_describe(value)} is shorter than {shape.min} characters")
        if shape.max is not None and len(value) > shape.max:
            problems.append(f"{_describe(value)} is longer than {shape.max} characters ({len(value)})")
        if shape.pattern is not None and not _matches(shape.pattern, value):
            problems.append(f"{_describe(value)} does not match the pattern {shape.pattern}")
    elif kind in ("integer", "long", "float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return []
        if kind in ("integer", "long") and not (isinstance(value, int) or float(value).is_integer()):
            problems.append(f"{value} must be a whole number")
        if shape.min is not None and value < shape.min:
            problems.append(f"{value} is below the minimum {shape.min}")
        if shape.max is not None and value > shape.max:
            problems.append(f"{value} is above the maximum {shape.max}")
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{value} is not a finite number")
    elif kind == "list" and isinstance(value, dict) and shape.pair:
        # A Terraform map the provider sends as a list of name/value pairs.
        problems.extend(_count(len(value), shape, "entries"))
        for key, item in value.items():
            problems.extend(f"key {p}" for p in check_value(key, shape.pair[0]))
            problems.extend(f"[{key!r}] {p}" for p in check_value(item, shape.pair[1]))
    elif kind == "list" and shape.member is not None:
        if not isinstance(value, list):
            return check_value(value, shape.member)  # one value the provider sends as a list
        problems.extend(_count(len(value), shape, "items"))
        for index, item in enumerate(value):
            problems.extend(f"[{index}] {p}" for p in check_value(item, shape.member))
    elif kind == "map" and shape.key is not None and shape.value is not None:
        if not isinstance(value, dict):
            return []
        problems.extend(_count(len(value), shape, "entries"))
        for key, item in value.items():
            problems.extend(f"key {p}" for p in check_value(key, shape.key))
            problems.extend(f"[{key!r}] {p}" for p in check_value(item, shape.value))
    return problems


def source_url(service: str) -> str:
    version = _cache()["versions"].get(service) or service_model(service).api_version
    return BOTOCORE_URL.format(service=service, version=version)


def _not_sent(value: Any, mapping: Mapping) -> bool:
    """Whether the provider sends nothing for this planned value.

    The provider reads optional arguments with ``GetOk``, which takes a zero value for unset.
    """
    if isinstance(value, bool):
        return False
    if value in ("", [], {}) or (isinstance(value, (int, float)) and value == 0):
        return True
    return any(value == unset and not isinstance(unset, bool) for unset in mapping.not_sent)


def check_resource(type_name: str, values: dict[str, Any], table: Table | None = None) -> list[Violation]:
    table = table or load_table()
    violations: list[Violation] = []
    for mapping in table.mappings.get(type_name, []):
        shape = constraint(mapping)
        for path, value in walk(values, mapping.attribute):
            if _not_sent(value, mapping):
                continue
            for problem in check_value(value, shape):
                violations.append(
                    Violation(
                        rule=f"api-model {mapping.api}",
                        resource=type_name,
                        attribute=path,
                        message=f"{problem}: AWS rejects it as {mapping.operation}'s {mapping.member}",
                        source=source_url(mapping.service),
                    )
                )
    return violations
