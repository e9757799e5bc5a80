"""The conformance layer itself: every rule is sourced and tested, every table entry resolves."""

from __future__ import annotations

from pathlib import Path

import pytest

from tfharness.conformance import RULES, api_model, arguments

TESTS = Path(__file__).resolve().parent


def _test_sources() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(TESTS.glob("test_*.py")))


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_every_rule_has_a_test_naming_it(rule_id: str) -> None:
    # A rule's test plans a configuration that breaks it and asserts the rule id in the error,
    # so removing the rule fails that test.
    assert f'"{rule_id}"' in _test_sources(), f"no test under tests/conformance names {rule_id}"


@pytest.mark.parametrize("rule_id", sorted(RULES))
def test_every_rule_cites_a_source_and_its_evidence(rule_id: str) -> None:
    rule = RULES[rule_id]
    assert rule.source.startswith("https://")
    assert len(rule.evidence.split()) >= 5


def test_every_api_model_mapping_resolves_to_a_botocore_shape_with_compilable_patterns() -> None:
    table = api_model.load_table()
    unresolved, bad_patterns = [], []
    for mappings in table.mappings.values():
        for mapping in mappings:
            try:
                shape = api_model.resolve(mapping)
            except KeyError as exc:
                unresolved.append(str(exc))
                continue
            for nested in (shape, getattr(shape, "member", None), getattr(shape, "value", None)):
                pattern = getattr(nested, "metadata", {}).get("pattern") if nested is not None else None
                if pattern:
                    try:
                        api_model._compiled(pattern)
                    except Exception as exc:
                        bad_patterns.append(f"{mapping.api}: {pattern!r}: {exc}")
    assert not unresolved, "\n".join(unresolved)
    assert not bad_patterns, "\n".join(bad_patterns)


def test_every_argument_rule_is_of_a_known_kind_and_sourced() -> None:
    for rules in arguments.load_rules().values():
        for rule in rules:
            assert rule.rule in arguments.KINDS
            assert rule.source.startswith("https://")
            if rule.rule == "required_with":
                assert rule.requires
