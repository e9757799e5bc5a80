"""Secrets Manager: the recovery window, and names that Secrets Manager still holds."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tfharness.conformance.core import Context, Finding, Json, PlanFinding, plan_rule, resource_rule
from tfharness.conformance.plan import PlanView

_SECRET = "aws_secretsmanager_secret"


@resource_rule(
    "secretsmanager.recovery-window",
    _SECRET,
    source="https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html",
    evidence=(
        "RecoveryWindowInDays: The number of days from 7 to 30 that Secrets Manager waits before "
        "permanently deleting the secret."
    ),
)
def recovery_window(values: Json, ctx: Context) -> Iterator[Finding]:
    # The provider sends 0 as ForceDeleteWithoutRecovery and accepts nothing else outside 7-30:
    # validation.Any(validation.IntBetween(7, 30), validation.IntInSlice([]int{0})) in
    # https://github.com/hashicorp/terraform-provider-aws/blob/v6.47.0/internal/service/secretsmanager/secret.go
    days = values.get("recovery_window_in_days")
    if isinstance(days, int | float) and not isinstance(days, bool) and days != 0 and not 7 <= days <= 30:
        yield (
            "recovery_window_in_days",
            f"recovery_window_in_days {days} must be 0 (delete at once) or 7 to 30 days",
        )


def _same_region(a: Any, b: Any) -> bool:
    """Secrets are regional. A region not known at plan is the provider's: it is taken to match,
    and only two known, different regions tell secrets apart."""
    return not (isinstance(a, str) and isinstance(b, str) and a != b)


@plan_rule(
    "secretsmanager.name-unique",
    source="https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html",
    evidence="ResourceExistsException: A resource with the ID you requested already exists.",
)
def name_unique(plan: PlanView, ctx: Context) -> Iterator[PlanFinding]:
    created = [
        s for s in plan.by_type(_SECRET) if "create" in s.actions and isinstance(s.values.get("name"), str)
    ]
    for index, secret in enumerate(created):
        for earlier in created[:index]:
            provider = secret.config.get("provider_config_key")
            same_provider = provider == earlier.config.get("provider_config_key")
            if (
                same_provider
                and secret.values["name"] == earlier.values["name"]
                and _same_region(secret.values.get("region"), earlier.values.get("region"))
            ):
                yield (
                    secret.address,
                    "name",
                    f"secret name {secret.values['name']!r} is also created by {earlier.address} in the same "
                    "region: Secrets Manager names are unique per region",
                )
                break


@plan_rule(
    "secretsmanager.name-scheduled-for-deletion",
    source="https://github.com/hashicorp/terraform-provider-aws/blob/v6.47.0/internal/service/secretsmanager/secret.go",
    evidence=(
        "InvalidRequestException: You can't create this secret because a secret with this name "
        "is already scheduled for deletion."
    ),
)
def name_scheduled_for_deletion(plan: PlanView, ctx: Context) -> Iterator[PlanFinding]:
    # A secret deleted with a recovery window keeps its name for that many days; the provider
    # retries the create only for its short propagation timeout. So a plan that deletes such a
    # secret (a removal or a replacement) and creates one under the same name fails at apply.
    scheduled: list[tuple[str, Any, str]] = []
    for change in plan.raw.get("resource_changes", []):
        body = change.get("change") or {}
        before = body.get("before") or {}
        days = before.get("recovery_window_in_days")
        name = before.get("name")
        if change.get("type") != _SECRET or "delete" not in body.get("actions", []):
            continue
        if isinstance(days, int) and days > 0 and isinstance(name, str) and name:
            scheduled.append((name, before.get("region"), change.get("address", "")))
    for secret in plan.by_type(_SECRET):
        name = secret.values.get("name")
        if "create" not in secret.actions or not isinstance(name, str):
            continue
        for held, region, address in scheduled:
            if held == name and _same_region(region, secret.values.get("region")):
                yield (
                    secret.address,
                    "name",
                    f"secret name {name!r} is still held by {address}, which this plan deletes with a "
                    "recovery window: Secrets Manager refuses a name scheduled for deletion until the "
                    "window ends; set recovery_window_in_days = 0 on it and apply before this change",
                )
