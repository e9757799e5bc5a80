"""The rule machinery: findings, the rule registry, the account context and value walking.

A rule is a small function with its source beside it. Resource rules see one resource's
values (as the stand-in provider plans it, or as a plan's ``resource_changes`` show it);
plan rules see the whole plan, for what spans resources. Values a plan does not know yet
are ``UNKNOWN``: rules skip them, since AWS only ever sees known values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tfharness.conformance.plan import PlanView

Json = dict[str, Any]


class _Unknown:
    """cty's unknown value: a computed attribute whose value is known only after apply."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()


def known(value: object) -> bool:
    """True when the value, and everything inside it, is known at plan time."""
    if value is UNKNOWN:
        return False
    if isinstance(value, dict):
        return all(known(v) for v in value.values())
    if isinstance(value, list):
        return all(known(v) for v in value)
    return True


@dataclass(frozen=True)
class Violation:
    """What AWS or the provider would reject, with the rule that says so and its source."""

    rule: str
    resource: str  # a resource address (plan) or type (stand-in: Terraform adds the address)
    attribute: str  # dotted path with indexes, e.g. "settings[0].logging_level"; "" = the resource
    message: str
    source: str

    def render(self) -> str:
        where = f"{self.resource}.{self.attribute}" if self.attribute else self.resource
        return f"[{self.rule}] {where}: {self.message} (source: {self.source})"


@dataclass(frozen=True)
class Context:
    """What the checks know of the account and region the plan targets.

    The stand-in models a fresh account: nothing set up at account level. Tests (and users of
    the real toolchain) say otherwise through the environment.
    """

    region: str | None = None  # None while Terraform validates, before the provider is configured
    account_id: str = "123456789012"
    # The account-level API Gateway setting (aws_api_gateway_account.cloudwatch_role_arn) is
    # already set in this region by something outside the plan.
    apigateway_cloudwatch_role_set: bool = False
    # Usage plans managed outside the plan (another stack) cover the REST API stages it creates.
    apigateway_usage_plans_elsewhere: bool = False

    @property
    def partition(self) -> str | None:
        if self.region is None:
            return None
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        if self.region.startswith("cn-"):
            return "aws-cn"
        return "aws"

    @classmethod
    def from_env(cls, region: str | None) -> Context:
        """The context of a plan in ``region`` (None: not known yet), account facts from the
        environment."""
        return cls(
            region=region,
            account_id=os.environ.get("STANDIN_ACCOUNT_ID", "123456789012"),
            apigateway_cloudwatch_role_set=_flag("MLGW_ACCOUNT_APIGATEWAY_CLOUDWATCH_ROLE"),
            apigateway_usage_plans_elsewhere=_flag("MLGW_ACCOUNT_APIGATEWAY_USAGE_PLANS_ELSEWHERE"),
        )


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}


# A finding of a resource rule: (attribute path, message). A plan rule adds the address.
Finding = tuple[str, str]
PlanFinding = tuple[str, str, str]


@dataclass(frozen=True)
class Rule:
    id: str
    source: str  # a URL: AWS documentation, provider source or docs, or an issue
    evidence: str  # one line of what that source says
    kind: str  # "resource" or "plan"
    types: tuple[str, ...] = ()
    check: Callable[..., Iterable[Any]] = field(repr=False, default=lambda *_: ())


RULES: dict[str, Rule] = {}
_ID = re.compile(r"^[a-z0-9]+(\.[a-z0-9-]+)+$")


def _register(rule: Rule) -> None:
    if not _ID.match(rule.id):
        raise ValueError(f"rule id {rule.id!r} must look like service.what-it-checks")
    if rule.id in RULES:
        raise ValueError(f"rule id {rule.id!r} is registered twice")
    if not rule.source.startswith("https://"):
        raise ValueError(f"rule {rule.id} needs a source URL, got {rule.source!r}")
    if not rule.evidence.strip():
        raise ValueError(f"rule {rule.id} needs one line of evidence from its source")
    RULES[rule.id] = rule


def resource_rule(
    rule_id: str, *types: str, source: str, evidence: str
) -> Callable[[Callable[[Json, Context], Iterable[Finding]]], Callable[[Json, Context], Iterable[Finding]]]:
    """Register ``fn(values, ctx) -> [(attribute, message)]`` for resources of ``types``."""

    def wrap(
        fn: Callable[[Json, Context], Iterable[Finding]],
    ) -> Callable[[Json, Context], Iterable[Finding]]:
        _register(Rule(rule_id, source, evidence, "resource", tuple(types), fn))
        return fn

    return wrap


def plan_rule(
    rule_id: str, *, source: str, evidence: str
) -> Callable[
    [Callable[[PlanView, Context], Iterable[PlanFinding]]],
    Callable[[PlanView, Context], Iterable[PlanFinding]],
]:
    """Register ``fn(plan, ctx) -> [(address, attribute, message)]`` over a whole plan."""

    def wrap(
        fn: Callable[[PlanView, Context], Iterable[PlanFinding]],
    ) -> Callable[[PlanView, Context], Iterable[PlanFinding]]:
        _register(Rule(rule_id, source, evidence, "plan", (), fn))
        return fn

    return wrap


def rules_for(type_name: str) -> list[Rule]:
    return [r for r in RULES.values() if r.kind == "resource" and type_name in r.types]


# --------------------------------------------------------------------- value walking


def walk(values: Any, path: str) -> Iterator[tuple[str, Any]]:
    """Every value at a dotted attribute path, through nested blocks (lists) and maps' values.

    ``walk(v, "settings.logging_level")`` yields ``("settings[0].logging_level", "ERROR")``
    for each element of the ``settings`` block that has the attribute set (not null).
    """
    parts = path.split(".") if path else []
    yield from _walk(values, parts, "")


def _walk(value: Any, parts: list[str], prefix: str) -> Iterator[tuple[str, Any]]:
    if value is None:
        return
    if not parts:
        yield prefix, value
        return
    if value is UNKNOWN:
        yield prefix, UNKNOWN
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, parts, f"{prefix}[{index}]")
        return
    if isinstance(value, dict):
        head, rest = parts[0], parts[1:]
        if head == "*":
            for key, item in value.items():
                yield from _walk(item, rest, f"{prefix}[{key!r}]")
            return
        if head in value:
            yield from _walk(value[head], rest, f"{prefix}.{head}" if prefix else head)


def first(values: Json, path: str) -> Any:
    """The first value at ``path`` (None when absent); UNKNOWN when it is not known yet."""
    for _, value in walk(values, path):
        return value
    return None


def blocks(values: Any, path: str) -> Iterator[tuple[str, Json]]:
    """Each element of the nested block(s) at ``path``: ``("settings[0]", {...})``."""
    for prefix, value in walk(values, path):
        items = value if isinstance(value, list) else [value]
        for index, item in enumerate(items):
            if isinstance(item, dict):
                yield (f"{prefix}[{index}]" if isinstance(value, list) else prefix), item
