"""Local mode evaluates the plan's own CloudWatch alarms on the metrics it produces.

The evaluator is tested on synthetic alarms with a fake clock; then the default example (which
turns monitoring on) shows `ALARM <its actuals-files-failed alarm>` for an actuals file that
fails, and nothing for one that passes, with the functions' metrics in the metrics file rather
than on the terminal.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from local_support import LocalMode

from mlgw_local.alarms import (
    Alarm,
    Evaluator,
    ExpressionError,
    MetricQuery,
    alarms_from_plan,
    check_expression,
    evaluate_expression,
    local_sources,
)
from mlgw_local.metrics import Datapoint, EmfCapture, MetricsFile, datapoints, emf

DEPLOYMENT = "5f3c9a1b2c3d4e5f6a7b8c9d"
FILES_FAILED_ALARM = "mlgw-local-actuals-files-failed"  # <name>-actuals-files-failed, name = mlgw-local


def _alarm_change(after: dict[str, Any]) -> dict[str, Any]:
    return {
        "mode": "managed",
        "type": "aws_cloudwatch_metric_alarm",
        "change": {"actions": ["create"], "after": after},
    }


# As the provider plans them: a plain alarm, and a metric-math alarm whose metric_query holds the
# expression (return_data) and the metrics it reads.
PLAIN = {
    "alarm_name": "gw-actuals-files-failed",
    "comparison_operator": "GreaterThanOrEqualToThreshold",
    "threshold": 1,
    "evaluation_periods": 1,
    "datapoints_to_alarm": 1,
    "treat_missing_data": "notBreaching",
    "metric_name": "FilesFailed",
    "namespace": "MlGateway",
    "dimensions": {"service": "report_actuals"},
    "period": 60,
    "statistic": "Sum",
    "extended_statistic": None,
    "metric_query": [],
}
RATIO = {
    "alarm_name": "gw-batch-row-error-rate",
    "comparison_operator": "GreaterThanThreshold",
    "threshold": 0.05,
    "evaluation_periods": 5,
    "datapoints_to_alarm": 3,
    "treat_missing_data": "notBreaching",
    "metric_name": None,
    "namespace": None,
    "dimensions": None,
    "period": None,
    "statistic": None,
    "metric_query": [
        {"id": "ratio", "expression": "errors / (errors + predicted)", "return_data": True, "metric": []},
        *(
            {
                "id": qid,
                "expression": None,
                "return_data": False,
                "metric": [
                    {
                        "metric_name": name,
                        "namespace": "MlGateway",
                        "dimensions": {"service": "gw-batch"},
                        "period": 60,
                        "stat": "Sum",
                    }
                ],
            }
            for qid, name in (("errors", "RowErrors"), ("predicted", "RowsPredicted"))
        ),
    ],
}
QUEUE = {
    **PLAIN,
    "alarm_name": "gw-actuals-failure-queue-depth",
    "namespace": "AWS/SQS",
    "metric_name": "ApproximateNumberOfMessagesVisible",
    "dimensions": {"QueueName": "gw-actuals-failures"},
    "statistic": "Maximum",
}


class _Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _evaluator(*alarms: dict[str, Any]) -> tuple[Evaluator, list[str], _Clock]:
    clock = _Clock()
    reports: list[str] = []
    sources = local_sources(["MlGateway"], ["gw-actuals"], "gw", ["prod"])
    plan = {"resource_changes": [_alarm_change(a) for a in alarms]}
    return Evaluator(alarms_from_plan(plan), sources, reports.append, clock), reports, clock


def _points(clock: _Clock, namespace: str, dimensions: dict[str, str], **values: float) -> list[Datapoint]:
    return list(datapoints(emf(namespace, dimensions, values, clock.now)))


def test_the_planned_alarms_are_read_as_terraform_plans_them() -> None:
    alarms = alarms_from_plan({"resource_changes": [_alarm_change(PLAIN), _alarm_change(RATIO)]})
    plain, ratio = sorted(alarms, key=lambda a: a.name)
    assert plain == Alarm(
        name="gw-actuals-files-failed",
        comparison="GreaterThanOrEqualToThreshold",
        threshold=1.0,
        period=60,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        treat_missing_data="notBreaching",
        metrics=(MetricQuery("m1", "MlGateway", "FilesFailed", (("service", "report_actuals"),), "Sum"),),
    )
    assert ratio.expression == "errors / (errors + predicted)"
    assert [(q.id, q.metric_name, q.stat) for q in ratio.metrics] == [
        ("errors", "RowErrors", "Sum"),
        ("predicted", "RowsPredicted", "Sum"),
    ]
    assert (ratio.period, ratio.evaluation_periods, ratio.datapoints_to_alarm) == (60, 5, 3)


def test_an_event_alarm_fires_on_its_metric_and_recovers_a_period_later() -> None:
    evaluator, reports, clock = _evaluator(PLAIN)
    evaluator.add(
        _points(clock, "MlGateway", {"service": "report_actuals"}, RowsReported=5, BadRowsSkipped=0)
    )
    assert reports == []
    evaluator.add(_points(clock, "MlGateway", {"service": "report_actuals"}, FilesFailed=1))
    assert reports == [
        "ALARM gw-actuals-files-failed: FilesFailed = 1 >= 1 in 1 of the last 1 periods of 60 s"
    ]
    clock.now += 30
    evaluator.evaluate()
    assert len(reports) == 1
    clock.now += 31
    evaluator.evaluate()
    assert reports[1:] == ["OK gw-actuals-files-failed"]


def test_a_metric_with_other_dimensions_or_namespace_is_not_the_alarms() -> None:
    evaluator, reports, clock = _evaluator(PLAIN)
    evaluator.add(_points(clock, "MlGateway", {"service": "batch"}, FilesFailed=3))
    evaluator.add(_points(clock, "Other", {"service": "report_actuals"}, FilesFailed=3))
    evaluator.add(_points(clock, "MlGateway", {"service": "report_actuals", "route": "x"}, FilesFailed=3))
    assert reports == []


def test_a_ratio_alarm_needs_its_datapoints_to_alarm_of_its_evaluation_periods() -> None:
    evaluator, reports, clock = _evaluator(RATIO)
    batch = {"service": "gw-batch"}
    # 1 error in 20 rows is exactly 5 %: not above the threshold.
    evaluator.add(_points(clock, "MlGateway", batch, RowErrors=1, RowsPredicted=19))
    for _ in range(2):
        clock.now += 60
        evaluator.add(_points(clock, "MlGateway", batch, RowErrors=2, RowsPredicted=8))
    assert reports == []  # two breaching periods of five; three needed
    clock.now += 60
    evaluator.add(_points(clock, "MlGateway", batch, RowErrors=1, RowsPredicted=1))
    assert reports == [
        "ALARM gw-batch-row-error-rate: errors / (errors + predicted) = 0.5 > 0.05 "
        "in 3 of the last 5 periods of 60 s"
    ]
    clock.now += 180  # the breaching periods slide out of the window
    evaluator.evaluate()
    assert reports[-1] == "OK gw-batch-row-error-rate"


def test_alarms_on_metrics_local_mode_does_not_produce_are_named_not_evaluated() -> None:
    evaluator, _, _ = _evaluator(PLAIN, QUEUE)
    assert [a.name for a in evaluator.evaluated] == ["gw-actuals-files-failed"]
    assert evaluator.skipped == {
        "gw-actuals-failure-queue-depth": "no local source for AWS/SQS ApproximateNumberOfMessagesVisible"
    }
    assert "gw-actuals-failure-queue-depth" in evaluator.summary()


def test_lambda_and_api_metrics_are_local_only_for_what_local_mode_runs() -> None:
    observable = local_sources([], ["gw-predict"], "gw", ["prod"])

    def query(namespace: str, name: str, **dimensions: str) -> MetricQuery:
        return MetricQuery("m1", namespace, name, tuple(sorted(dimensions.items())), "Sum")

    assert observable(query("AWS/Lambda", "Errors", FunctionName="gw-predict"))
    assert not observable(query("AWS/Lambda", "Errors", FunctionName="elsewhere"))
    assert not observable(query("AWS/Lambda", "Throttles", FunctionName="gw-predict"))
    assert observable(query("AWS/ApiGateway", "5XXError", ApiName="gw", Stage="prod"))
    assert not observable(query("AWS/ApiGateway", "5XXError", ApiName="gw", Stage="test"))
    assert not observable(
        query("AWS/ApiGateway", "5XXError", ApiName="gw", Stage="prod", Method="GET", Resource="/x")
    )


@pytest.mark.parametrize(
    ("expression", "values", "expected"),
    [
        ("m1 / m2 * 100", {"m1": 1.0, "m2": 4.0}, 25.0),
        ("errors / (errors + predicted)", {"errors": 1.0, "predicted": 3.0}, 0.25),
        ("-m1 + 2", {"m1": 1.0}, 1.0),
        ("m1 / m2", {"m1": 1.0, "m2": 0.0}, None),  # division by zero: no value
        ("m1 / m2", {"m1": 1.0, "m2": None}, None),  # a metric without datapoints: no value
    ],
)
def test_metric_math_arithmetic(
    expression: str, values: dict[str, float | None], expected: float | None
) -> None:
    assert evaluate_expression(check_expression(expression, values), values) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "FILL(m1, 0)",
        "__import__('os').system('true')",
        "m1.real",
        "m1 ** 2",
        "m1 if m2 else m3",
        "'a'",
        "m3 / m1",
    ],
)
def test_anything_but_arithmetic_on_the_alarms_queries_is_refused(expression: str) -> None:
    with pytest.raises(ExpressionError):
        check_expression(expression, ["m1", "m2"])


def test_a_workers_stdout_keeps_emf_lines_and_passes_the_rest() -> None:
    out = io.StringIO()
    capture = EmfCapture(out)
    document = emf("MlGateway", {"service": "s"}, {"RowErrors": 2})
    print('{"level": "INFO", "message": "hello"}', file=capture)
    capture.write(json.dumps(document)[:10])
    capture.write(json.dumps(document)[10:] + "\nplain text\n")
    assert out.getvalue() == '{"level": "INFO", "message": "hello"}\nplain text\n'
    assert capture.take() == [document]
    assert capture.take() == []


def test_emf_values_arrays_and_dimension_sets_are_each_a_datapoint(tmp_path: Path) -> None:
    received: list[Datapoint] = []
    metrics = MetricsFile(tmp_path / "m.jsonl", received.extend)
    document = {
        "_aws": {
            "Timestamp": 1_700_000_000_000,
            "CloudWatchMetrics": [
                {
                    "Namespace": "N",
                    "Dimensions": [["service"], ["service", "route"]],
                    "Metrics": [{"Name": "L"}],
                }
            ],
        },
        "service": "s",
        "route": "r",
        "L": [1, 2],
    }
    metrics.record([document, {"message": "not a metric"}])
    assert [json.loads(line) for line in metrics.path.read_text().splitlines()] == [document]
    assert sorted((p.dimensions, p.value) for p in received) == [
        ((("route", "r"), ("service", "s")), 1.0),
        ((("route", "r"), ("service", "s")), 2.0),
        ((("service", "s"),), 1.0),
        ((("service", "s"),), 2.0),
    ]


# --- local mode, serving the default example ---------------------------------------------------


def _log_since(mode: LocalMode, offset: int) -> str:
    with mode.log.open("rb") as log:
        log.seek(offset)
        return log.read().decode("utf-8", "replace")


def _wait(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _last_change(text: str, alarm: str) -> str | None:
    changes = [line.split()[0] for line in text.splitlines() if line.split()[1:2] in ([alarm], [f"{alarm}:"])]
    return changes[-1] if changes else None


def _upload_actuals(mode: LocalMode, name: str, body: str) -> None:
    actuals = mode.state["actuals"]
    key = f"{actuals['prefix']}{DEPLOYMENT}/alarms/{name}"
    mode.s3().put_object(Bucket=actuals["bucket"], Key=key, Body=body.encode())


def _metric_documents(mode: LocalMode) -> list[dict[str, Any]]:
    path = Path(mode.state["metrics_file"])
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_local_mode_evaluates_the_plans_pipeline_function_and_api_alarms(local_mode: LocalMode) -> None:
    alarms = local_mode.state["alarms"]
    evaluated = set(alarms["evaluated"])
    assert {
        FILES_FAILED_ALARM,
        "mlgw-local-actuals-rows-rejected",
        "mlgw-local-batch-files-rejected",
        "mlgw-local-batch-row-error-rate",
        "mlgw-local-predict-error-rate",
        "mlgw-local-api-prod-5xx-rate",
    } <= evaluated
    assert "mlgw-local-actuals-failure-queue-depth" in alarms["not_evaluated"]
    assert "mlgw-local-endpoint-AllTraffic-5xx-rate" in alarms["not_evaluated"]
    assert not evaluated & set(alarms["not_evaluated"])


def test_an_actuals_file_that_fails_shows_its_alarm_and_one_that_passes_none(local_mode: LocalMode) -> None:
    # Given the actuals alarm is not in ALARM already (an earlier test's failure recovers in a period)
    _wait(
        lambda: _last_change(_log_since(local_mode, 0), FILES_FAILED_ALARM) != "ALARM",
        75,
        f"{FILES_FAILED_ALARM} to recover from an earlier failure",
    )
    documents_before = len(_metric_documents(local_mode))
    start = local_mode.log.stat().st_size

    # When a good file is reported
    _upload_actuals(local_mode, "good.csv", "associationId,actualValue\na-1,1\na-2,0\n")
    _wait(
        lambda: any("RowsReported" in d for d in _metric_documents(local_mode)[documents_before:]),
        30,
        "the good file's metrics",
    )
    time.sleep(1.5)  # at least one more evaluation round
    # Then no alarm fires (an earlier test's alarm may still recover: OK lines are not this file's)
    passing = _log_since(local_mode, start)
    assert not [line for line in passing.splitlines() if line.startswith("ALARM ")], passing

    # When a file without the actualValue column is reported, it fails
    failing_start = local_mode.log.stat().st_size
    _upload_actuals(local_mode, "bad.csv", "associationId,prediction\na-1,1\n")
    _wait(
        lambda: _last_change(_log_since(local_mode, failing_start), FILES_FAILED_ALARM) == "ALARM",
        30,
        f"ALARM {FILES_FAILED_ALARM} in the log",
    )
    # Then the metrics are in the metrics file, and none is printed as an EMF blob
    documents = _metric_documents(local_mode)[documents_before:]
    failed = [p for d in documents for p in datapoints(d) if p.metric_name == "FilesFailed"]
    assert [(p.namespace, p.dimensions, p.value) for p in failed] == [
        ("MlGateway", (("service", "report_actuals"),), 1.0)
    ]
    assert '"_aws"' not in _log_since(local_mode, start)
