"""Amazon CloudWatch alarms: what PutMetricAlarm refuses that the API model cannot express (its
model types Period, EvaluationPeriods and DatapointsToAlarm as bare integers and a query Id as
any string of 1 to 255 characters)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tfharness.conformance.core import Context, Finding, Json, resource_rule

_PUT_METRIC_ALARM = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html"
_METRIC_DATA_QUERY = (
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDataQuery.html"
)
_QUERY_ID = re.compile(r"^[a-z][A-Za-z0-9_]*$")


def _number(value: Any) -> float | None:
    return value if isinstance(value, int | float) and not isinstance(value, bool) else None


def _list(value: Any) -> list[Any]:
    """A known list of blocks; unknown values (at validate, or known after apply) are skipped."""
    return value if isinstance(value, list) else []


def _queries(values: Json) -> list[Json]:
    return [q for q in _list(values.get("metric_query")) if isinstance(q, dict)]


def _query_periods(values: Json) -> Iterator[tuple[str, float]]:
    """The period of the alarm and of every metric of its queries, with the attribute path."""
    period = _number(values.get("period"))
    if period is not None:
        yield "period", period
    for i, query in enumerate(_queries(values)):
        query_period = _number(query.get("period"))
        if query_period is not None:
            yield f"metric_query[{i}].period", query_period
        for j, metric in enumerate(_list(query.get("metric"))):
            metric_period = _number(metric.get("period")) if isinstance(metric, dict) else None
            if metric_period is not None:
                yield f"metric_query[{i}].metric[{j}].period", metric_period


@resource_rule(
    "cloudwatch.alarm-period",
    "aws_cloudwatch_metric_alarm",
    source=_PUT_METRIC_ALARM,
    evidence="Period: Valid values are 10, 20, 30, and any multiple of 60.",
)
def alarm_period(values: Json, ctx: Context) -> Iterator[Finding]:
    for attribute, period in _query_periods(values):
        if period not in (10, 20, 30) and period % 60 != 0:
            yield (
                attribute,
                f"period {period:g} is not one CloudWatch alarms take: use 10, 20, 30 or a multiple of 60",
            )


@resource_rule(
    "cloudwatch.alarm-evaluation-range",
    "aws_cloudwatch_metric_alarm",
    source=_PUT_METRIC_ALARM,
    evidence=(
        "Period multiplied by EvaluationPeriods can't be more than 604,800 seconds. For alarms with "
        "a period of less than one hour (3,600 seconds), the total evaluation period can't be longer "
        "than one day (86,400 seconds)."
    ),
)
def alarm_evaluation_range(values: Json, ctx: Context) -> Iterator[Finding]:
    periods = _number(values.get("evaluation_periods"))
    if periods is None:
        return
    for attribute, period in _query_periods(values):
        limit = 86400 if period < 3600 else 604800
        if period * periods > limit:
            yield (
                "evaluation_periods",
                f"evaluation_periods {periods:g} x {attribute} {period:g} is {period * periods:g} s, "
                f"above the {limit} s CloudWatch evaluates for such a period",
            )
            return


@resource_rule(
    "cloudwatch.datapoints-to-alarm",
    "aws_cloudwatch_metric_alarm",
    source=_PUT_METRIC_ALARM,
    evidence="DatapointsToAlarm: the M in an M out of N alarm; EvaluationPeriods is the N.",
)
def datapoints_to_alarm(values: Json, ctx: Context) -> Iterator[Finding]:
    datapoints = _number(values.get("datapoints_to_alarm"))
    periods = _number(values.get("evaluation_periods"))
    if datapoints is not None and periods is not None and datapoints > periods:
        yield (
            "datapoints_to_alarm",
            f"datapoints_to_alarm {datapoints:g} is more than evaluation_periods {periods:g}: "
            "an alarm cannot need more breaching datapoints than it evaluates",
        )


@resource_rule(
    "cloudwatch.metric-query-id",
    "aws_cloudwatch_metric_alarm",
    source=_METRIC_DATA_QUERY,
    evidence=(
        "Id: The valid characters are letters, numbers, and underscore. "
        "The first character must be a lowercase letter."
    ),
)
def metric_query_id(values: Json, ctx: Context) -> Iterator[Finding]:
    for i, query in enumerate(_queries(values)):
        query_id = query.get("id")
        if isinstance(query_id, str) and not _QUERY_ID.match(query_id):
            yield (
                f"metric_query[{i}].id",
                f"metric_query id {query_id!r} must start with a lower-case letter and hold only "
                "letters, digits and underscores",
            )


@resource_rule(
    "cloudwatch.metric-query-one-return-data",
    "aws_cloudwatch_metric_alarm",
    source=_METRIC_DATA_QUERY,
    evidence=(
        "ReturnData: When used in PutMetricAlarm, specify true for the one expression result to use "
        "as the alarm. For all other metrics and expressions in the same PutMetricAlarm operation, "
        "specify ReturnData as False."
    ),
)
def metric_query_one_return_data(values: Json, ctx: Context) -> Iterator[Finding]:
    # An unset return_data (null) is left alone: what PutMetricAlarm makes of an omitted
    # ReturnData is not documented for alarms.
    flags = [q.get("return_data") for q in _queries(values)]
    if flags and (flags.count(True) > 1 or all(flag is False for flag in flags)):
        yield (
            "metric_query",
            f"{flags.count(True)} metric_query blocks set return_data = true: exactly one, the "
            "expression the alarm watches, must, and every other must set it to false",
        )
