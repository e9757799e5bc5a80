"""Amazon CloudWatch Logs: log group retention, names and keys, the rules the API model cannot
express (its model gives the name pattern and lengths, not these)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from tfharness.conformance.core import Context, Finding, Json, resource_rule

# botocore types retentionInDays as a bare integer and lists the values only in its
# documentation. 0 is the provider's own value for "never expire" (no retention policy).
RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
_KMS_ARN = re.compile(r"^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/.+$")


@resource_rule(
    "logs.retention-in-days",
    "aws_cloudwatch_log_group",
    source="https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html",
    evidence=(
        "retentionInDays: Possible values are: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, "
        "400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, and 3653."
    ),
)
def retention_in_days(values: Json, ctx: Context) -> Iterator[Finding]:
    days = values.get("retention_in_days")
    if isinstance(days, int | float) and days != 0 and days not in RETENTION_DAYS:
        yield (
            "retention_in_days",
            f"retention_in_days {days:g} is not a retention CloudWatch Logs offers: use one of "
            f"{', '.join(str(d) for d in RETENTION_DAYS)} (or 0 to keep events forever)",
        )


@resource_rule(
    "logs.group-name-reserved-prefix",
    "aws_cloudwatch_log_group",
    source="https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html",
    evidence="Log group names can't start with the string aws/",
)
def group_name_reserved_prefix(values: Json, ctx: Context) -> Iterator[Finding]:
    for attribute in ("name", "name_prefix"):
        name = values.get(attribute)
        if isinstance(name, str) and name.startswith("aws/"):
            yield (
                attribute,
                f"log group {attribute} {name!r} starts with aws/, which CloudWatch Logs reserves; "
                "AWS services' own groups start with /aws/ (a leading slash) instead",
            )


@resource_rule(
    "logs.kms-key-arn",
    "aws_cloudwatch_log_group",
    source="https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_AssociateKmsKey.html",
    evidence=(
        "kmsKeyId: The Amazon Resource Name (ARN) of the KMS key to use when encrypting log "
        "data. This must be a symmetric KMS key."
    ),
)
def kms_key_arn(values: Json, ctx: Context) -> Iterator[Finding]:
    key = values.get("kms_key_id")
    if isinstance(key, str) and key and not _KMS_ARN.match(key):
        yield (
            "kms_key_id",
            f"kms_key_id {key!r} is not a KMS key ARN: log groups take the key's full ARN "
            "(arn:aws:kms:<region>:<account>:key/<id>), not a key id or alias name",
        )
