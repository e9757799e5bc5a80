"""API constraints from AWS's own service models, checked against planned values.

``api_model.toml`` maps each attribute of each resource type we use to the API parameter it
becomes (an operation and a member path in botocore's ``service-2.json``), or says why it
maps to none. Every known planned value is then checked against that parameter's shape as
AWS's request validation does: enum, pattern (matched against the whole value, as AWS's
"Member must satisfy regular expression pattern" errors do), length or count bounds and
numeric ranges. Nested shapes are followed: a list's members, a map's keys and values.
"""

from __future__ import annotations

import functools
import math
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


@functools.cache
def load_table(path: Path = TABLE_PATH) -> Table:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    mappings: dict[str, list[Mapping]] = {}
    unmapped: dict[str, dict[str, str]] = {}
    for type_name, entry in data.items():
        default_operation = entry.get("operation")
        mappings[type_name] = [
            Mapping(type_name, attribute, *_parse_target(type_name, default_operation, target))
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


def resolve(mapping: Mapping) -> Any:
    """The botocore shape of ``mapping``'s member, through structures and list members."""
    model = service_model(mapping.service)
    shape = model.operation_model(mapping.operation).input_shape
    for part in mapping.member.split("."):
        while shape.type_name == "list":
            shape = shape.member
        if shape.type_name != "structure" or part not in shape.members:
            raise KeyError(f"{mapping.api}: {shape.name} has no member {part!r}")
        shape = shape.members[part]
    return shape


@functools.cache
def _compiled(pattern: str) -> Any:
    return regex.compile(pattern)


def _describe(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_value(value: Any, shape: Any) -> list[str]:
    """Messages for each way ``value`` breaks ``shape``'s constraints (empty when it fits)."""
    if value is None or value is UNKNOWN:
        return []
    meta = shape.metadata
    kind = shape.type_name
    if isinstance(value, list) and kind not in ("list", "map", "structure"):
        # A Terraform list or set whose every element becomes one such parameter.
        return [f"[{i}] {p}" for i, item in enumerate(value) for p in check_value(item, shape)]
    problems: list[str] = []
    if kind == "string":
        if not isinstance(value, str):
            return []
        if shape.enum and value not in shape.enum:
            problems.append(f"{_describe(value)} must be one of {', '.join(shape.enum)}")
        if "min" in meta and len(value) < meta["min"]:
            problems.append(f"{_describe(value)} is shorter than {meta['min']} characters")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{_describe(value)} is longer than {meta['max']} characters ({len(value)})")
        if "pattern" in meta and not _compiled(meta["pattern"]).fullmatch(value):
            problems.append(f"{_describe(value)} does not match the pattern {meta['pattern']}")
    elif kind in ("integer", "long", "float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return []
        if kind in ("integer", "long") and not (isinstance(value, int) or float(value).is_integer()):
            problems.append(f"{value} must be a whole number")
        if "min" in meta and value < meta["min"]:
            problems.append(f"{value} is below the minimum {meta['min']}")
        if "max" in meta and value > meta["max"]:
            problems.append(f"{value} is above the maximum {meta['max']}")
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(f"{value} is not a finite number")
    elif kind == "list":
        if not isinstance(value, list):
            return check_value(value, shape.member)  # one value the provider sends as a list
        if "min" in meta and len(value) < meta["min"]:
            problems.append(f"has {len(value)} items, fewer than {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"has {len(value)} items, more than {meta['max']}")
        for index, item in enumerate(value):
            problems.extend(f"[{index}] {p}" for p in check_value(item, shape.member))
    elif kind == "map":
        if not isinstance(value, dict):
            return []
        if "min" in meta and len(value) < meta["min"]:
            problems.append(f"has {len(value)} entries, fewer than {meta['min']}")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"has {len(value)} entries, more than {meta['max']}")
        for key, item in value.items():
            problems.extend(f"key {p}" for p in check_value(key, shape.key))
            problems.extend(f"[{key!r}] {p}" for p in check_value(item, shape.value))
    return problems


def source_url(service: str) -> str:
    model = service_model(service)
    return BOTOCORE_URL.format(service=service, version=model.api_version)


def check_resource(type_name: str, values: dict[str, Any], table: Table | None = None) -> list[Violation]:
    table = table or load_table()
    violations: list[Violation] = []
    for mapping in table.mappings.get(type_name, []):
        shape = resolve(mapping)
        for path, value in walk(values, mapping.attribute):
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
