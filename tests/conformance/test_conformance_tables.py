"""The API-model table stays complete and true to the schemas: every configurable argument of
every managed resource type we use is either mapped to an API parameter or listed as mapping to
none with a reason; no entry names an argument the schema lacks; each mapping sends the
argument as a parameter of a fitting kind. (Resolution and pattern compilation of each mapping
are checked in test_catalogue.py.)"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import pytest

from tfharness.conformance import api_model
from tfharness.providers.plugin import SCHEMA_DIR

Block = dict[str, Any]


@cache
def _schemas() -> dict[str, Block]:
    data = json.loads((SCHEMA_DIR / "aws.json").read_text(encoding="utf-8"))
    return data["resource_schemas"]


def _used_types() -> list[str]:
    lines = (SCHEMA_DIR / "types.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith(("#", "data."))]


def _arguments(block: Block, prefix: str = "") -> dict[str, Any]:
    """Every configurable (required or optional) argument of a schema block, as dotted paths
    through nested blocks and nested attributes, with its Terraform type."""
    found: dict[str, Any] = {}
    for name, attribute in block.get("attributes", {}).items():
        if attribute.get("required") or attribute.get("optional"):
            found[prefix + name] = attribute.get("type", "nested")
        if "nested_type" in attribute:
            found.update(_arguments(attribute["nested_type"], f"{prefix}{name}."))
    for name, nested in block.get("block_types", {}).items():
        found.update(_arguments(nested["block"], f"{prefix}{name}."))
    return found


def _configurable(type_name: str) -> dict[str, Any]:
    return _arguments(_schemas()[type_name]["block"])


def _entries(type_name: str) -> tuple[set[str], set[str]]:
    table = api_model.load_table()
    mapped = {m.attribute for m in table.mappings.get(type_name, [])}
    return mapped, set(table.unmapped.get(type_name, {}))


def test_every_used_type_has_a_schema() -> None:
    missing = [t for t in _used_types() if t not in _schemas()]
    assert not missing, f"types.txt lists types aws.json lacks (run `make schemas`): {missing}"


@pytest.mark.parametrize("type_name", _used_types())
def test_every_configurable_argument_is_mapped_or_says_why_not(type_name: str) -> None:
    mapped, unmapped = _entries(type_name)
    missing = sorted(set(_configurable(type_name)) - mapped - unmapped)
    assert not missing, (
        f"api_model.toml: add each of these {type_name} arguments to [{type_name}.map] (its API "
        f"parameter) or [{type_name}.unmapped] (why none): {missing}"
    )


@pytest.mark.parametrize("type_name", _used_types())
def test_no_argument_is_both_mapped_and_unmapped(type_name: str) -> None:
    mapped, unmapped = _entries(type_name)
    assert not mapped & unmapped, f"{type_name}: listed in both sections: {sorted(mapped & unmapped)}"


def test_every_table_entry_names_a_configurable_argument_of_a_used_type() -> None:
    table = api_model.load_table()
    used = set(_used_types())
    unknown_types = sorted((set(table.mappings) | set(table.unmapped)) - used)
    assert not unknown_types, f"api_model.toml has sections for types not in types.txt: {unknown_types}"
    stray = []
    for type_name in used:
        mapped, unmapped = _entries(type_name)
        stray += [f"{type_name}.{a}" for a in sorted((mapped | unmapped) - set(_configurable(type_name)))]
    assert not stray, f"api_model.toml names arguments the schema does not have (or only computes): {stray}"


def test_every_unmapped_argument_gives_its_reason() -> None:
    short = [
        f"{type_name}.{attribute}"
        for type_name, entries in api_model.load_table().unmapped.items()
        for attribute, why in entries.items()
        if len(why.split()) < 4
    ]
    assert not short, f"say in a few words why these map to no API parameter: {short}"


# What each Terraform type may become on the wire without a conversion that would make the
# check inexact. A list or set may also be sent one element per parameter (a per-element
# check), and a map as a list of name/value pairs.
_FITS = {
    "string": {"string", "blob"},
    "number": {"integer", "long", "float", "double"},
    "bool": {"boolean"},
}


def _fits(tf_type: Any, shape: Any) -> bool:
    if isinstance(tf_type, str):
        return shape.type_name in _FITS.get(tf_type, set())
    kind, element = tf_type
    if kind in ("list", "set"):
        inner = shape.member if shape.type_name == "list" else shape
        return _fits(element, inner)
    if kind == "map":
        if shape.type_name == "map":
            return _fits(element, shape.value)
        pair = api_model._pair_members(shape)
        return pair is not None and _fits(element, pair[1])
    return False


def test_every_mapping_sends_the_argument_as_a_parameter_of_its_kind() -> None:
    # A string mapped to an integer parameter, say, is silently never checked: such an argument
    # belongs in the unmapped section with the conversion as its reason.
    misfits = []
    for type_name, mappings in api_model.load_table().mappings.items():
        arguments = _configurable(type_name)
        for mapping in mappings:
            shape = api_model.resolve(mapping)
            if not _fits(arguments[mapping.attribute], shape):
                tf_type = arguments[mapping.attribute]
                misfits.append(
                    f"{type_name}.{mapping.attribute} ({tf_type}) -> {mapping.api} ({shape.type_name})"
                )
    assert not misfits, "\n".join(misfits)
