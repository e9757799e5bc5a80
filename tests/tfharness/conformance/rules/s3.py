"""Amazon S3: bucket names and event notifications, the rules the API model cannot express."""

from __future__ import annotations

import re
from collections.abc import Iterator

from tfharness.conformance.core import (
    UNKNOWN,
    Context,
    Finding,
    Json,
    PlanFinding,
    known,
    plan_rule,
    resource_rule,
)
from tfharness.conformance.plan import PlannedResource, PlanView

# General purpose bucket names (S3 User Guide, "General purpose bucket naming rules").
_BUCKET_CHARS = re.compile(r"^[a-z0-9.-]+$")
_IP_ADDRESS = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")

# The three destination kinds of one notification configuration and their target attribute.
_DESTINATIONS = {"lambda_function": "lambda_function_arn", "queue": "queue_arn", "topic": "topic_arn"}


def bucket_name_problems(name: str) -> list[str]:
    """Every general purpose bucket naming rule ``name`` breaks (empty: a valid name)."""
    problems = []
    if not 3 <= len(name) <= 63:
        problems.append(f"it is {len(name)} characters long, not 3 to 63")
    if not _BUCKET_CHARS.match(name):
        problems.append("it may hold only lower-case letters, digits, dots and hyphens")
    if name and not (name[0].isalnum() and name[-1].isalnum()):
        problems.append("it must begin and end with a letter or digit")
    if ".." in name:
        problems.append("it must not hold two adjacent dots")
    if _IP_ADDRESS.match(name):
        problems.append("it must not look like an IP address")
    problems.extend(f"the prefix {p!r} is reserved" for p in _RESERVED_PREFIXES if name.startswith(p))
    problems.extend(f"the suffix {s!r} is reserved" for s in _RESERVED_SUFFIXES if name.endswith(s))
    return problems


@resource_rule(
    "s3.bucket-name",
    "aws_s3_bucket",
    source="https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html",
    evidence=(
        "Bucket names must be between 3 (min) and 63 (max) characters long; lowercase letters, "
        "numbers, periods and hyphens; must not start with xn-- or end with -s3alias"
    ),
)
def bucket_name(values: Json, ctx: Context) -> Iterator[Finding]:
    name = values.get("bucket")
    if not isinstance(name, str):
        return
    problems = bucket_name_problems(name)
    if problems:
        yield "bucket", f"bucket name {name!r} breaks S3's naming rules: " + "; ".join(problems)


def _event_overlap(a: str, b: str) -> bool:
    """``s3:ObjectCreated:*`` covers every ``s3:ObjectCreated:...`` event."""
    if a == b:
        return True
    return (a.endswith("*") and b.startswith(a[:-1])) or (b.endswith("*") and a.startswith(b[:-1]))


def _rules(values: Json) -> list[tuple[str, list[str], str, str]]:
    """(path, events, prefix, suffix) of every destination whose filter is known."""
    found = []
    for kind in _DESTINATIONS:
        entries = values.get(kind)
        if not isinstance(entries, list):
            continue
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            events, prefix, suffix = (
                entry.get("events"),
                entry.get("filter_prefix"),
                entry.get("filter_suffix"),
            )
            if not known(events) or prefix is UNKNOWN or suffix is UNKNOWN or not isinstance(events, list):
                continue
            found.append((f"{kind}[{index}]", [str(e) for e in events], prefix or "", suffix or ""))
    return found


@resource_rule(
    "s3.notification-overlap",
    "aws_s3_bucket_notification",
    source="https://repost.aws/knowledge-center/lambda-s3-event-configuration-error",
    evidence=(
        "Configuration is ambiguously defined. Cannot have overlapping suffixes in two rules if "
        "the prefixes are overlapping for the same event type."
    ),
)
def notification_overlap(values: Json, ctx: Context) -> Iterator[Finding]:
    # Two destinations may share events when their prefixes or their suffixes do not overlap,
    # and may share prefix and suffix when their events differ: only all three together clash.
    rules = _rules(values)
    for i, (path_a, events_a, prefix_a, suffix_a) in enumerate(rules):
        for path_b, events_b, prefix_b, suffix_b in rules[i + 1 :]:
            shared = sorted({a for a in events_a for b in events_b if _event_overlap(a, b)})
            prefixes = prefix_a.startswith(prefix_b) or prefix_b.startswith(prefix_a)
            suffixes = suffix_a.endswith(suffix_b) or suffix_b.endswith(suffix_a)
            if shared and prefixes and suffixes:
                yield (
                    path_b,
                    f"{path_b} overlaps {path_a} for {', '.join(shared)}: prefixes {prefix_a!r} and "
                    f"{prefix_b!r} overlap and so do suffixes {suffix_a!r} and {suffix_b!r}; S3 "
                    "refuses the configuration as ambiguously defined. Give them disjoint prefixes "
                    "or suffixes.",
                )


def _bucket_key(plan: PlanView, resource: PlannedResource) -> tuple[str, ...] | None:
    """What identifies the bucket of a notification: its name, or, while the name is unknown,
    the bucket resource its ``bucket`` expression refers to."""
    bucket = resource.values.get("bucket")
    if isinstance(bucket, str):
        return ("name", bucket)
    refs = [r for r in plan.referenced(resource, "bucket") if r.type == "aws_s3_bucket"]
    if len(refs) == 1:
        return ("resource", refs[0].address)
    return None


@plan_rule(
    "s3.one-notification-per-bucket",
    source=(
        "https://github.com/hashicorp/terraform-provider-aws/blob/main/website/docs/r/"
        "s3_bucket_notification.html.markdown"
    ),
    evidence=(
        "S3 Buckets only support a single notification configuration. Declaring multiple "
        "aws_s3_bucket_notification resources to the same S3 Bucket will cause a perpetual difference"
    ),
)
def one_notification_per_bucket(plan: PlanView, ctx: Context) -> Iterator[PlanFinding]:
    owners: dict[tuple[str, ...], PlannedResource] = {}
    for resource in plan.by_type("aws_s3_bucket_notification"):
        key = _bucket_key(plan, resource)
        if key is None:
            continue
        if key in owners:
            yield (
                resource.address,
                "bucket",
                f"{owners[key].address} already writes the notification configuration of this "
                f"bucket ({key[1]}): S3 keeps one configuration per bucket, so each apply of one "
                "replaces the other's. Put every destination into one aws_s3_bucket_notification.",
            )
        else:
            owners[key] = resource


def _function_name(reference: object) -> str | None:
    """The function name in a Lambda ARN (qualified or not) or a bare function name."""
    if not isinstance(reference, str) or not reference:
        return None
    if reference.startswith("arn:"):
        parts = reference.split(":")
        return parts[6] if len(parts) >= 7 and parts[5] == "function" else None
    return reference.split(":")[0]


def _permission_targets(plan: PlanView, notification: PlannedResource, permission: PlannedResource) -> bool:
    """Whether ``permission`` lets S3 invoke a function ``notification`` sends events to, as far
    as the plan shows: the same function by value or by reference, or, while the function ARNs
    are not known yet, a permission whose source is this very bucket."""
    targets = [e.get("lambda_function_arn") for e in notification.values.get("lambda_function") or []]
    wanted = {_function_name(t) for t in targets if isinstance(t, str)}
    if _function_name(permission.values.get("function_name")) in wanted - {None}:
        return True
    functions = {
        r.address for r in plan.referenced(notification, "lambda_function") if r.type == "aws_lambda_function"
    }
    if functions & {r.address for r in plan.referenced(permission, "function_name")}:
        return True
    bucket, source = notification.values.get("bucket"), permission.values.get("source_arn")
    return (
        any(t is UNKNOWN for t in targets)
        and isinstance(bucket, str)
        and isinstance(source, str)
        and source.endswith(f":::{bucket}")
    )


@plan_rule(
    "s3.notification-needs-permission",
    source="https://github.com/hashicorp/terraform/issues/19756",
    evidence=(
        "Error putting S3 notification configuration: InvalidArgument: Unable to validate the "
        "following destination configurations"
    ),
)
def notification_needs_permission(plan: PlanView, ctx: Context) -> Iterator[PlanFinding]:
    # S3 checks, when the configuration is written, that it may invoke every function: the
    # provider's documented examples make the notification depend on the aws_lambda_permission.
    # Only wiring inside one module instance is visible here; a permission made elsewhere (another
    # module, another state, by hand) cannot be checked offline.
    for notification in plan.by_type("aws_s3_bucket_notification"):
        if not notification.values.get("lambda_function"):
            continue
        upstream = {r.address for r in plan.referenced(notification)}
        for permission in plan.by_type("aws_lambda_permission"):
            if permission.module_address != notification.module_address:
                continue
            if permission.values.get("principal") != "s3.amazonaws.com":
                continue
            if permission.address in upstream or not _permission_targets(plan, notification, permission):
                continue
            yield (
                notification.address,
                "depends_on",
                f"the notification does not depend on {permission.address}, which lets S3 invoke "
                "its function: Terraform may write the configuration first and S3 then refuses it "
                "(Unable to validate the following destination configurations). Add "
                f"depends_on = [{permission.local_address}].",
            )
