"""The AWS conformance layer: what AWS or the real provider would reject, checked offline.

Three families of checks, each with its source:

- ``api_model``: every attribute of the resource types we use, mapped to its API parameter
  (``api_model.toml``), checked against botocore's service models (enums, patterns, lengths,
  ranges);
- ``arguments``: the provider's ConflictsWith / ExactlyOneOf / AtLeastOneOf / RequiredWith
  (``arguments.toml``);
- ``rules``: a catalogue of service behaviours, each a small function with its source URL and
  one line of evidence beside it.

The offline aws stand-in runs the resource checks on every resource it validates and plans;
the harness runs the plan rules (which span resources) on every plan, and the resource checks
too when the real toolchain planned (``MLGW_TF_REAL=1``), so both paths check the same.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from tfharness.conformance import api_model, arguments, rules
from tfharness.conformance.core import RULES, UNKNOWN, Context, Rule, Violation, known, rules_for
from tfharness.conformance.plan import PlannedResource, PlanView

__all__ = [
    "RULES",
    "UNKNOWN",
    "Context",
    "PlanView",
    "PlannedResource",
    "Rule",
    "Violation",
    "check_plan",
    "check_resource",
    "known",
    "rules",
]


def check_resource(
    type_name: str, values: dict[str, Any], ctx: Context, from_state: bool = False
) -> list[Violation]:
    """Every violation of one resource's values: API model, provider arguments, resource rules.

    ``from_state``: the values come from a real plan, where the provider has also filled in
    what it read back into state (the stand-in sees the configuration)."""
    found = api_model.check_resource(type_name, values)
    found.extend(arguments.check_resource(type_name, values, from_state))
    for rule in rules_for(type_name):
        for attribute, message in rule.check(values, ctx):
            found.append(Violation(rule.id, type_name, attribute, message, rule.source))
    return found


def check_plan(plan: dict[str, Any], ctx: Context, resource_checks: bool = False) -> list[Violation]:
    """Violations of the plan rules over a whole plan, plus (``resource_checks``) those of every
    planned resource, addressed by the resource's full address."""
    view = PlanView(plan)
    # The region comes from the plan itself when it shows it, as the stand-in provider takes it
    # from its configuration: a plan for GovCloud is checked as GovCloud.
    ctx = replace(ctx, region=view.region or ctx.region)
    found: list[Violation] = []
    if resource_checks:
        for resource in view.resources:
            own = replace(ctx, region=view.region_of(resource) or ctx.region)
            for v in check_resource(resource.type, resource.values, own, from_state=True):
                found.append(Violation(v.rule, resource.address, v.attribute, v.message, v.source))
    for rule in RULES.values():
        if rule.kind == "plan":
            for address, attribute, message in rule.check(view, ctx):
                found.append(Violation(rule.id, address, attribute, message, rule.source))
    return found
