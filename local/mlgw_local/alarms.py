"""The plan's CloudWatch alarms, evaluated on the metrics local mode produces.

The alarms are the planned ``aws_cloudwatch_metric_alarm`` resources, exactly as Terraform
would create them: local mode keeps no list of its own. An alarm is evaluated when local mode
produces every metric it reads (`observable`) and its expression, if any, is plain arithmetic;
the others are named once at start-up.

Evaluation follows CloudWatch's model: each metric's datapoints are aggregated with the alarm's
statistic over each of its last ``evaluation_periods`` periods, a metric-math alarm computes its
expression per period, and the alarm is in ALARM when at least ``datapoints_to_alarm`` periods
breach the threshold, missing periods counting as ``treat_missing_data`` says
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarms-and-missing-data.html).
Two local choices: the periods end now rather than at the last whole period, so a failure shows
at once instead of a period later; and a period in which an expression lacks one of its metrics,
or divides by zero, has no value (missing), the conservative reading.
"""

from __future__ import annotations

import ast
import math
import operator
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mlgw_local.metrics import Datapoint

_COMPARISONS: dict[str, tuple[str, Callable[[float, float], bool]]] = {
    "GreaterThanThreshold": (">", operator.gt),
    "GreaterThanOrEqualToThreshold": (">=", operator.ge),
    "LessThanThreshold": ("<", operator.lt),
    "LessThanOrEqualToThreshold": ("<=", operator.le),
}
_OPERATORS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


class ExpressionError(ValueError):
    """A metric-math expression local mode does not evaluate (functions, unknown ids...)."""


@dataclass(frozen=True)
class MetricQuery:
    """One metric an alarm reads: its namespace, name, exact dimensions and statistic."""

    id: str
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str

    def describe(self) -> str:
        return f"{self.namespace} {self.metric_name}"


@dataclass(frozen=True)
class Alarm:
    name: str
    comparison: str
    threshold: float
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    treat_missing_data: str
    metrics: tuple[MetricQuery, ...]
    expression: str | None = None  # None: the alarm reads its one metric

    def value_label(self) -> str:
        return self.expression if self.expression is not None else self.metrics[0].metric_name


def alarms_from_plan(plan: Mapping[str, Any]) -> list[Alarm]:
    """The CloudWatch metric alarms the plan creates or updates."""
    found = []
    for change in plan.get("resource_changes", []):
        if change.get("mode") != "managed" or change.get("type") != "aws_cloudwatch_metric_alarm":
            continue
        if not {"create", "update"} & set(change["change"]["actions"]):
            continue
        alarm = _alarm(change["change"]["after"] or {})
        if alarm is not None:
            found.append(alarm)
    return sorted(found, key=lambda a: a.name)


def _dimensions(value: Any) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((str(k), str(v)) for k, v in (value or {}).items()))


def _alarm(values: Mapping[str, Any]) -> Alarm | None:
    name = values.get("alarm_name")
    threshold = values.get("threshold")
    if not isinstance(name, str) or not isinstance(threshold, int | float):
        return None  # anomaly-detection alarms (threshold_metric_id) are not evaluated
    evaluation_periods = int(values.get("evaluation_periods") or 1)
    common = {
        "name": name,
        "comparison": str(values.get("comparison_operator")),
        "threshold": float(threshold),
        "evaluation_periods": evaluation_periods,
        "datapoints_to_alarm": int(values.get("datapoints_to_alarm") or evaluation_periods),
        # CloudWatch treats missing data as "missing" when the alarm does not say.
        "treat_missing_data": str(values.get("treat_missing_data") or "missing"),
    }
    queries = values.get("metric_query") or []
    if not queries:
        stat = values.get("statistic") or values.get("extended_statistic")
        metric = MetricQuery(
            "m1",
            str(values.get("namespace")),
            str(values.get("metric_name")),
            _dimensions(values.get("dimensions")),
            str(stat),
        )
        return Alarm(period=int(values.get("period") or 60), metrics=(metric,), **common)
    metrics = []
    period = 60
    returned = [q for q in queries if q.get("return_data")]
    for query in queries:
        for metric in query.get("metric") or []:
            period = int(metric.get("period") or period)
            metrics.append(
                MetricQuery(
                    str(query["id"]),
                    str(metric.get("namespace")),
                    str(metric.get("metric_name")),
                    _dimensions(metric.get("dimensions")),
                    str(metric.get("stat")),
                )
            )
    if len(returned) != 1:
        return None
    expression = returned[0].get("expression") or returned[0]["id"]
    return Alarm(period=period, metrics=tuple(metrics), expression=str(expression), **common)


def check_expression(expression: str, ids: Iterable[str]) -> ast.Expression:
    """Parse a metric-math expression made only of the alarm's query ids, numbers, + - * / and
    parentheses; anything else (functions, attributes, calls) is refused, never run."""
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"{expression!r} is not arithmetic local mode evaluates") from exc
    known = set(ids)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if node.id not in known:
                raise ExpressionError(f"{expression!r} names {node.id!r}, which is no query of the alarm")
        elif isinstance(node, ast.Constant):
            if not isinstance(node.value, int | float) or isinstance(node.value, bool):
                raise ExpressionError(f"{expression!r} holds a constant that is not a number")
        elif isinstance(node, ast.BinOp):
            if type(node.op) not in _OPERATORS:
                raise ExpressionError(f"{expression!r} uses an operator other than + - * /")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, ast.USub | ast.UAdd):
                raise ExpressionError(f"{expression!r} uses an operator other than + - * /")
        elif not isinstance(node, ast.Expression | ast.Load | ast.operator | ast.unaryop):
            kind = type(node).__name__
            raise ExpressionError(f"{expression!r} uses {kind}, which local mode does not evaluate")
    return tree


def evaluate_expression(tree: ast.Expression, values: Mapping[str, float | None]) -> float | None:
    """The expression's value for one period; None when a metric has no value there or a
    division is by zero."""

    def visit(node: ast.AST) -> float | None:
        if isinstance(node, ast.Expression):
            return visit(node.body)
        if isinstance(node, ast.Name):
            return values.get(node.id)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.UnaryOp):
            operand = visit(node.operand)
            return None if operand is None else (-operand if isinstance(node.op, ast.USub) else operand)
        if isinstance(node, ast.BinOp):
            left, right = visit(node.left), visit(node.right)
            if left is None or right is None or (isinstance(node.op, ast.Div) and right == 0):
                return None
            return _OPERATORS[type(node.op)](left, right)
        raise ExpressionError(f"cannot evaluate {type(node).__name__}")

    return visit(tree)


def statistic(stat: str, values: list[float]) -> float:
    """One period's statistic: Sum, SampleCount, Average, Minimum, Maximum or pNN (nearest rank)."""
    if stat == "Sum":
        return sum(values)
    if stat == "SampleCount":
        return float(len(values))
    if stat == "Average":
        return sum(values) / len(values)
    if stat == "Minimum":
        return min(values)
    if stat == "Maximum":
        return max(values)
    if stat.startswith("p"):
        ordered = sorted(values)
        rank = math.ceil(float(stat[1:]) / 100 * len(ordered))
        return ordered[min(max(rank, 1), len(ordered)) - 1]
    raise ValueError(f"statistic {stat} is not evaluated locally")


def supported_statistic(stat: str) -> bool:
    if stat in ("Sum", "SampleCount", "Average", "Minimum", "Maximum"):
        return True
    try:
        return stat.startswith("p") and 0 < float(stat[1:]) <= 100
    except ValueError:
        return False


# The metrics Lambda publishes per invocation: Invocations, Errors (1 when the function raised,
# else 0) and Duration in ms; dimension FunctionName
# (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html). Local mode never
# throttles or drops an event, so Throttles and AsyncEventsDropped have no local source.
LAMBDA_METRICS = ("Invocations", "Errors", "Duration")
# The metrics API Gateway publishes per request of a stage: Count, 4XXError and 5XXError (1 or 0)
# and Latency in ms; dimensions ApiName + Stage
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html).
API_METRICS = ("Count", "4XXError", "5XXError", "Latency")


def local_sources(
    handler_namespaces: Iterable[str], functions: Iterable[str], api_name: str | None, stages: Iterable[str]
) -> Callable[[MetricQuery], bool]:
    """Whether local mode produces a metric: anything the handlers publish in their namespaces,
    Lambda's invocation metrics of the functions it runs, and the REST API's per-stage metrics."""
    namespaces, function_names, stage_names = set(handler_namespaces), set(functions), set(stages)

    def observable(query: MetricQuery) -> bool:
        dimensions = dict(query.dimensions)
        if query.namespace in namespaces:
            return True
        if query.namespace == "AWS/Lambda":
            return (
                query.metric_name in LAMBDA_METRICS
                and set(dimensions) == {"FunctionName"}
                and dimensions["FunctionName"] in function_names
            )
        if query.namespace == "AWS/ApiGateway":
            return (
                api_name is not None
                and query.metric_name in API_METRICS
                and dimensions == {"ApiName": api_name, "Stage": dimensions.get("Stage")}
                and dimensions.get("Stage") in stage_names
            )
        return False

    return observable


@dataclass
class Evaluator:
    """Keeps the datapoints the alarms read and reports each alarm's changes of state."""

    alarms: list[Alarm]
    observable: Callable[[MetricQuery], bool]
    report: Callable[[str], None]
    clock: Callable[[], float] = time.time
    evaluated: list[Alarm] = field(init=False)
    skipped: dict[str, str] = field(init=False)  # alarm name: why it is not evaluated locally
    state: dict[str, str] = field(init=False)
    _trees: dict[str, ast.Expression] = field(init=False)
    _points: dict[tuple[str, str, tuple[tuple[str, str], ...]], list[tuple[float, float]]] = field(init=False)
    _lock: threading.Lock = field(init=False)

    def __post_init__(self) -> None:
        self.evaluated, self.skipped, self.state, self._trees = [], {}, {}, {}
        self._points = defaultdict(list)
        self._lock = threading.Lock()
        for alarm in self.alarms:
            reason = self._why_not(alarm)
            if reason:
                self.skipped[alarm.name] = reason
            else:
                self.evaluated.append(alarm)
                self.state[alarm.name] = "OK"
        self._wanted = {(q.namespace, q.metric_name, q.dimensions) for a in self.evaluated for q in a.metrics}
        self._horizon = max((a.period * a.evaluation_periods for a in self.evaluated), default=0)

    def _why_not(self, alarm: Alarm) -> str | None:
        unseen = [q.describe() for q in alarm.metrics if not self.observable(q)]
        if unseen or not alarm.metrics:
            return "no local source for " + (", ".join(sorted(set(unseen))) or "its metrics")
        if alarm.comparison not in _COMPARISONS:
            return f"comparison {alarm.comparison} is not evaluated locally"
        odd = [q.stat for q in alarm.metrics if not supported_statistic(q.stat)]
        if odd:
            return f"statistic {odd[0]} is not evaluated locally"
        if alarm.expression is not None:
            try:
                self._trees[alarm.name] = check_expression(alarm.expression, [q.id for q in alarm.metrics])
            except ExpressionError as exc:
                return str(exc)
        return None

    def summary(self) -> str:
        """One line: how many alarms are evaluated, and which are not and why."""
        line = f"alarms: {len(self.evaluated)} of {len(self.alarms)} evaluated locally"
        if self.skipped:
            reasons: dict[str, list[str]] = defaultdict(list)
            for name, reason in sorted(self.skipped.items()):
                reasons[reason].append(name)
            line += "; not evaluated: " + "; ".join(
                f"{', '.join(names)} ({reason})" for reason, names in sorted(reasons.items())
            )
        return line

    def add(self, points: Iterable[Datapoint]) -> None:
        """Keep the datapoints some evaluated alarm reads, then evaluate."""
        with self._lock:
            for point in points:
                key = (point.namespace, point.metric_name, point.dimensions)
                if key in self._wanted:
                    self._points[key].append((point.timestamp, point.value))
        self.evaluate()

    def evaluate(self) -> None:
        """Evaluate every alarm now and report each change of state."""
        now = self.clock()
        with self._lock:
            for key, points in self._points.items():
                self._points[key] = [p for p in points if p[0] > now - self._horizon]
            changes = []
            for alarm in self.evaluated:
                verdict = self._verdict(alarm, now)
                if verdict is None or verdict[0] == self.state[alarm.name]:
                    continue
                self.state[alarm.name] = verdict[0]
                state, why = verdict
                changes.append(f"{state} {alarm.name}" + (f": {why}" if state == "ALARM" else ""))
        for change in changes:
            self.report(change)

    def _period_value(self, alarm: Alarm, start: float, end: float) -> float | None:
        values: dict[str, float | None] = {}
        for query in alarm.metrics:
            points = self._points.get((query.namespace, query.metric_name, query.dimensions), [])
            window = [v for t, v in points if start < t <= end]
            values[query.id] = statistic(query.stat, window) if window else None
        if alarm.expression is None:
            return values[alarm.metrics[0].id]
        return evaluate_expression(self._trees[alarm.name], values)

    def _verdict(self, alarm: Alarm, now: float) -> tuple[str, str] | None:
        symbol, compare = _COMPARISONS[alarm.comparison]
        breaching = considered = 0
        latest: float | None = None  # the most recent breaching value, for the report
        for i in range(alarm.evaluation_periods):
            end = now - i * alarm.period
            value = self._period_value(alarm, end - alarm.period, end)
            if value is None:
                if alarm.treat_missing_data == "breaching":
                    breaching += 1
                    considered += 1
                elif alarm.treat_missing_data == "notBreaching":
                    considered += 1
                continue
            considered += 1
            if compare(value, alarm.threshold):
                breaching += 1
                latest = value if latest is None else latest
        if considered == 0:
            return None  # missing or ignore with no data: the state stays as it is
        if breaching >= alarm.datapoints_to_alarm:
            shown = "missing data" if latest is None else f"{alarm.value_label()} = {latest:g}"
            return (
                "ALARM",
                f"{shown} {symbol} {alarm.threshold:g} in {breaching} of the last "
                f"{alarm.evaluation_periods} periods of {alarm.period} s",
            )
        return ("OK", "")

    def run(self, stop: threading.Event, interval: float = 1.0) -> threading.Thread:
        """Evaluate every `interval` seconds until `stop` is set, so alarms also recover."""

        def loop() -> None:
            while not stop.wait(interval):
                self.evaluate()

        thread = threading.Thread(target=loop, name="alarms", daemon=True)
        thread.start()
        return thread
