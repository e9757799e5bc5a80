"""IAM roles: the provider's name-prefix limit, account-wide name uniqueness across a plan, and
what a permissions boundary must be."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from tfharness.conformance.core import Context, Finding, Json, PlanFinding, plan_rule, resource_rule
from tfharness.conformance.plan import PlannedResource, PlanView

# roleNameMaxLen (64) minus the 26 characters of the unique suffix the provider appends.
ROLE_NAME_PREFIX_MAX = 38
_ROLE_NAME_CHARACTERS = re.compile(r"^[\w+=,.@-]+$")
_MANAGED_POLICY_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}|aws):policy/.+$")


@resource_rule(
    "iam.role-name-prefix-length",
    "aws_iam_role",
    source="https://github.com/hashicorp/terraform-provider-aws/blob/v6.47.0/internal/service/iam/role.go",
    evidence="roleNamePrefixMaxLen = roleNameMaxLen - id.UniqueIDSuffixLength (64 - 26)",
)
def role_name_prefix_length(values: Json, ctx: Context) -> Iterator[Finding]:
    prefix = values.get("name_prefix")
    if not isinstance(prefix, str) or not prefix:
        return
    if len(prefix) > ROLE_NAME_PREFIX_MAX:
        yield (
            "name_prefix",
            f"name_prefix is {len(prefix)} characters: at most {ROLE_NAME_PREFIX_MAX}, as the provider "
            "appends a 26-character unique suffix within IAM's 64",
        )
    if not _ROLE_NAME_CHARACTERS.match(prefix):
        yield (
            "name_prefix",
            "name_prefix may hold only letters, digits and _+=,.@- (IAM's role name characters)",
        )


@resource_rule(
    "iam.permissions-boundary-policy-arn",
    "aws_iam_role",
    source="https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html",
    evidence=(
        "PermissionsBoundary: The ARN of the managed policy that is used to set the permissions "
        "boundary for the role."
    ),
)
def permissions_boundary_policy_arn(values: Json, ctx: Context) -> Iterator[Finding]:
    boundary = values.get("permissions_boundary")
    if isinstance(boundary, str) and boundary and not _MANAGED_POLICY_ARN.match(boundary):
        yield (
            "permissions_boundary",
            f"{boundary} is not a managed policy ARN (arn:aws:iam::<account or aws>:policy/<name>): "
            "a permissions boundary is a managed policy",
        )


def _credentials(plan: PlanView, resource: PlannedResource) -> Any:
    """What decides the account a resource lands in: its provider configuration without the
    region and alias. Two configurations that differ only there use the same credentials."""
    key = resource.config.get("provider_config_key", "")
    provider = plan.raw.get("configuration", {}).get("provider_config", {}).get(key, {})
    expressions = {k: v for k, v in provider.get("expressions", {}).items() if k != "region"}
    return repr(sorted(expressions.items()))


@plan_rule(
    "iam.role-name-unique",
    source="https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html",
    evidence=(
        "IAM user, group, role, and policy names must be unique within the account. "
        "Names are not distinguished by case."
    ),
)
def role_name_unique(plan: PlanView, ctx: Context) -> Iterator[PlanFinding]:
    # IAM is global: the same role name planned twice for one account collides even when the
    # two roles come from providers of different regions (EntityAlreadyExists on the second).
    # Providers that differ in anything but the region may be other accounts: not compared.
    seen: dict[tuple[Any, str], list[PlannedResource]] = defaultdict(list)
    for role in plan.by_type("aws_iam_role"):
        if "create" not in role.actions:
            continue
        name = role.values.get("name")
        if isinstance(name, str) and name:
            seen[(_credentials(plan, role), name.lower())].append(role)
    for roles in seen.values():
        for role in roles[1:]:
            yield (
                role.address,
                "name",
                f"role name {role.values['name']!r} is also planned by {roles[0].address} in the same "
                "account: IAM role names are unique per account, whatever the region or letter case",
            )
