"""The provider's argument rules: ConflictsWith, ExactlyOneOf, AtLeastOneOf, RequiredWith.

The real provider declares them in each resource's Go schema and Terraform reports them at
validate time. ``arguments.toml`` lists the ones of the resource types we use, each with the
provider source file it comes from; this module applies them to planned values.

Table entries (an array of tables per resource type):

- ``rule``: ``conflicts_with`` (at most one of ``attributes`` set), ``exactly_one_of``,
  ``at_least_one_of``, or ``required_with`` (``attributes`` set -> every one of ``requires``
  set too);
- ``block``: optional nested block path the attributes are relative to, checked per element;
- ``source``: the provider file (or documentation page) that declares the rule.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfharness.conformance.core import UNKNOWN, Violation, blocks

TABLE_PATH = Path(__file__).with_name("arguments.toml")
KINDS = ("conflicts_with", "exactly_one_of", "at_least_one_of", "required_with")


@dataclass(frozen=True)
class ArgumentRule:
    type_name: str
    rule: str
    attributes: tuple[str, ...]
    source: str
    block: str = ""
    requires: tuple[str, ...] = field(default=())


@functools.cache
def load_rules(path: Path = TABLE_PATH) -> dict[str, list[ArgumentRule]]:
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    rules: dict[str, list[ArgumentRule]] = {}
    for type_name, entries in data.items():
        for entry in entries:
            if entry["rule"] not in KINDS:
                raise ValueError(f"{type_name}: unknown argument rule {entry['rule']!r}")
            if not str(entry.get("source", "")).startswith("https://"):
                raise ValueError(f"{type_name}: argument rule {entry['rule']} needs a source URL")
            rules.setdefault(type_name, []).append(
                ArgumentRule(
                    type_name=type_name,
                    rule=entry["rule"],
                    attributes=tuple(entry["attributes"]),
                    source=entry["source"],
                    block=entry.get("block", ""),
                    requires=tuple(entry.get("requires", ())),
                )
            )
    return rules


def _state(values: dict[str, Any], name: str, from_state: bool) -> bool | None:
    """Whether an argument is set: True, False, or None when the plan does not know yet.

    The provider decides on the configuration: an argument is set when it is written there,
    whatever its value, and an absent nested block plans as an empty list. That is what the
    stand-in sees. A real plan's values also carry what the provider read back into state for
    arguments the configuration never set (``name_prefix = ""``, ``sqs_managed_sse_enabled =
    false``), so ``from_state`` also counts empty strings and false as unset, leaning towards
    accepting; numbers always count, since 0 is a value users write (a throttle of 0).
    """
    value = values.get(name)
    if value is UNKNOWN:
        return None
    if value is None or (isinstance(value, (list, dict)) and not value):
        return False
    return not (from_state and (value is False or value == ""))


def _check_one(rule: ArgumentRule, values: dict[str, Any], prefix: str, from_state: bool) -> list[Violation]:
    states = {name: _state(values, name, from_state) for name in (*rule.attributes, *rule.requires)}
    if None in states.values():
        return []
    present = [name for name in rule.attributes if states[name]]
    listed = ", ".join(rule.attributes)
    problem = ""
    if rule.rule == "conflicts_with" and len(present) > 1:
        problem = f"{' and '.join(present)} conflict: set at most one of {listed}"
    elif rule.rule == "exactly_one_of" and len(present) != 1:
        problem = f"exactly one of {listed} must be set, found {len(present)}"
    elif rule.rule == "at_least_one_of" and not present:
        problem = f"at least one of {listed} must be set"
    elif rule.rule == "required_with" and present:
        missing = [name for name in rule.requires if not states[name]]
        if missing:
            problem = f"{' and '.join(present)} need(s) {', '.join(missing)} set as well"
    if not problem:
        return []
    return [
        Violation(
            rule=f"provider-arguments {rule.rule}",
            resource=rule.type_name,
            attribute=prefix,
            message=problem,
            source=rule.source,
        )
    ]


def check_resource(type_name: str, values: dict[str, Any], from_state: bool = False) -> list[Violation]:
    """Violations of the argument rules; ``from_state`` for a real plan's values (see _state)."""
    violations: list[Violation] = []
    for rule in load_rules().get(type_name, []):
        # Each element of the nested block the rule is declared in, or the resource itself.
        scopes = blocks(values, rule.block) if rule.block else iter([("", values)])
        for prefix, scope in scopes:
            violations.extend(_check_one(rule, scope, prefix, from_state))
    return violations
