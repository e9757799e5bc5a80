"""A whole plan (``terraform show -json`` of a plan) as plan rules read it.

Planned values come from ``resource_changes`` with ``after_unknown`` folded in as
``UNKNOWN``; what a value will be wired to comes from ``configuration``: the references of
each expression and ``depends_on``, resolved within the resource's own module instance.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tfharness.conformance.core import UNKNOWN, Json

_MODULE_STEP = re.compile(r"module\.([^.\[]+)(\[[^\]]*\])?")
_RESOURCE_REF = re.compile(r"^((?:data\.)?aws_[a-z0-9_]+\.[A-Za-z0-9_-]+)(\[[^\]]*\])?")


def merge_unknown(after: Any, unknown: Any) -> Any:
    """``after`` with every leaf that ``after_unknown`` marks replaced by ``UNKNOWN``."""
    if unknown is True:
        return UNKNOWN
    if isinstance(unknown, dict):
        base = dict(after) if isinstance(after, dict) else {}
        for key, mark in unknown.items():
            base[key] = merge_unknown(base.get(key), mark)
        return base
    if isinstance(unknown, list):
        base_list = list(after) if isinstance(after, list) else []
        for index, mark in enumerate(unknown):
            if index < len(base_list):
                base_list[index] = merge_unknown(base_list[index], mark)
            elif mark is True:
                base_list.append(UNKNOWN)
        return base_list
    return after


@dataclass
class PlannedResource:
    address: str
    type: str
    name: str
    module_address: str  # "" for the root module
    values: Json
    actions: tuple[str, ...]
    config: Json = field(default_factory=dict, repr=False)

    @property
    def local_address(self) -> str:
        """The address inside its module, without instance keys: ``aws_iam_role.sagemaker``."""
        return f"{self.type}.{self.name}"


def _config_module(configuration: Json, module_address: str) -> Json:
    module = configuration.get("root_module", {})
    for call, _ in _MODULE_STEP.findall(module_address):
        module = module.get("module_calls", {}).get(call, {}).get("module", {})
    return module


def references(expression: Any) -> Iterator[str]:
    """Every reference an expression of the plan's configuration makes (``references`` lists)."""
    if isinstance(expression, dict):
        for key, value in expression.items():
            if key == "references" and isinstance(value, list):
                yield from (v for v in value if isinstance(v, str))
            else:
                yield from references(value)
    elif isinstance(expression, list):
        for item in expression:
            yield from references(item)


class PlanView:
    """Managed resources a plan creates or updates, with their configuration."""

    def __init__(self, plan: Json) -> None:
        self.raw = plan
        configuration = plan.get("configuration", {})
        self.resources: list[PlannedResource] = []
        for change in plan.get("resource_changes", []):
            if change.get("mode") != "managed":
                continue
            body = change.get("change", {})
            actions = tuple(body.get("actions", ()))
            if actions in (("delete",), ("no-op",)) and body.get("after") is None:
                continue
            module_address = change.get("module_address", "")
            module_config = _config_module(configuration, module_address)
            config = next(
                (
                    r
                    for r in module_config.get("resources", [])
                    if r.get("mode") == "managed"
                    and r.get("type") == change["type"]
                    and r.get("name") == change["name"]
                ),
                {},
            )
            self.resources.append(
                PlannedResource(
                    address=change["address"],
                    type=change["type"],
                    name=change["name"],
                    module_address=module_address,
                    values=merge_unknown(body.get("after") or {}, body.get("after_unknown") or {}),
                    actions=actions,
                    config=config,
                )
            )

    def region_of(self, resource: PlannedResource) -> str | None:
        """The region a resource is planned in: its own ``region`` argument (hashicorp/aws 6),
        else its provider configuration's ``region`` when the plan shows it (a constant, or a
        root variable); None when the plan does not say."""
        own = resource.values.get("region")
        if isinstance(own, str) and own:
            return own
        key = resource.config.get("provider_config_key", "")
        return self._provider_region(key)

    def _provider_region(self, key: str) -> str | None:
        providers = self.raw.get("configuration", {}).get("provider_config", {})
        provider = providers.get(key) or {}
        # A provider passed down to a module is configured at the root under its own key.
        while not provider.get("expressions") and provider.get("parent_key"):
            provider = providers.get(provider["parent_key"]) or {}
        region = provider.get("expressions", {}).get("region", {})
        if isinstance(region.get("constant_value"), str):
            return str(region["constant_value"])
        references = region.get("references") or []
        if len(references) == 1 and references[0].startswith("var."):
            value = self.raw.get("variables", {}).get(references[0][4:], {}).get("value")
            return value if isinstance(value, str) else None
        return None

    @property
    def region(self) -> str | None:
        """The region of the plan's root aws provider, when the plan shows it."""
        return self._provider_region("aws")

    def by_type(self, *types: str) -> list[PlannedResource]:
        return [r for r in self.resources if r.type in types]

    def referenced(self, resource: PlannedResource, attribute: str | None = None) -> list[PlannedResource]:
        """Resources of the same module instance that an attribute's expression (or, with no
        attribute, any expression or ``depends_on``) refers to."""
        expressions = resource.config.get("expressions", {})
        refs = list(references(expressions.get(attribute) if attribute else expressions))
        if attribute is None:
            refs.extend(resource.config.get("depends_on", []))
        targets: set[str] = set()
        for ref in refs:
            match = _RESOURCE_REF.match(ref)
            if match:
                targets.add(match.group(1))
        return [
            r
            for r in self.resources
            if r.module_address == resource.module_address and r.local_address in targets
        ]
