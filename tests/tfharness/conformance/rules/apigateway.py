"""API Gateway (REST APIs): rules the API model cannot express."""

from __future__ import annotations

from collections.abc import Iterator

from tfharness.conformance.core import UNKNOWN, Context, Finding, Json, blocks, resource_rule

# Usage plan quota offset by period. The API model has no bounds for it; the API reference does.
_QUOTA_OFFSET_MAX = {"DAY": 0, "WEEK": 6, "MONTH": 27}


@resource_rule(
    "apigateway.quota-offset",
    "aws_api_gateway_usage_plan",
    source="https://docs.aws.amazon.com/apigateway/latest/api/API_QuotaSettings.html",
    evidence=(
        "offset: the day that a time period starts; for example, with a time period of WEEK, "
        "an offset of 0 starts on Sunday, and an offset of 1 starts on Monday"
    ),
)
def quota_offset(values: Json, ctx: Context) -> Iterator[Finding]:
    for path, quota in blocks(values, "quota_settings"):
        period, offset = quota.get("period"), quota.get("offset")
        if period not in _QUOTA_OFFSET_MAX or offset is None or offset is UNKNOWN:
            continue
        top = _QUOTA_OFFSET_MAX[period]
        if not (0 <= offset <= top):
            allowed = "0" if top == 0 else f"0 to {top}"
            yield (
                f"{path}.offset",
                f"offset {offset} is out of range for a {period} quota: it must be {allowed}",
            )
