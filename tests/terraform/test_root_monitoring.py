"""Plan checks of the root's monitoring: every alarm reads a metric AWS documents or a handler
emits, with the dimensions of the planned resources; thresholds and missing-data behaviour; the
endpoint's rollback alarms; the topic; the dashboard; the batch function's reserved concurrency;
and the inputs monitoring refuses."""

from __future__ import annotations

import ast
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mlgw.batch.settings import load_settings as load_batch_settings
from tfharness import PlanResult, Workspace

pytestmark = pytest.mark.terraform

ROOT = "."
GW = "module.ml_gateway."
BATCH_FN = 'module.s3_pipeline["batch"]'
ACTUALS_FN = 'module.s3_pipeline["actuals"]'
HANDLERS = Path(__file__).resolve().parents[2] / "lambda_src" / "mlgw" / "handlers"
PIPELINE_HANDLER = HANDLERS.parent / "pipeline" / "handler.py"

# What AWS publishes: namespace -> metric -> the dimension names the alarms filter on.
APIGW_METRICS = (
    "https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html"
)
LAMBDA_METRICS = "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html"
SQS_METRICS = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-available-cloudwatch-metrics.html"
SAGEMAKER_METRICS = "https://docs.aws.amazon.com/sagemaker/latest/dg/monitoring-cloudwatch.html"
AWS_METRICS: dict[str, dict[str, frozenset[str]]] = {
    # APIGW_METRICS: 4XXError, 5XXError, Count, Latency by ApiName + Stage
    "AWS/ApiGateway": {
        m: frozenset({"ApiName", "Stage"}) for m in ("4XXError", "5XXError", "Count", "Latency")
    },
    # LAMBDA_METRICS: invocation, performance and asynchronous invocation metrics by FunctionName
    "AWS/Lambda": {
        m: frozenset({"FunctionName"})
        for m in ("Errors", "Invocations", "Throttles", "Duration", "AsyncEventsDropped")
    },
    # SQS_METRICS: by QueueName
    "AWS/SQS": {
        m: frozenset({"QueueName"})
        for m in ("ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage")
    },
    # SAGEMAKER_METRICS: invocation metrics and instance metrics by EndpointName + VariantName
    "AWS/SageMaker": {
        m: frozenset({"EndpointName", "VariantName"})
        for m in ("Invocation5XXErrors", "InvocationModelErrors", "ModelLatency", "ModelSetupTime")
    },
    "/aws/sagemaker/Endpoints": {
        m: frozenset({"EndpointName", "VariantName"}) for m in ("MemoryUtilization", "CPUUtilization")
    },
}


@cache
def _emitted(handler: str) -> frozenset[str]:
    """Metric names the handler passes to Powertools' add_metric, read from its code and from
    the shared pipeline skeleton (mlgw.pipeline.handler) when the handler runs through it."""
    tree = ast.parse((HANDLERS / f"{handler}.py").read_text(encoding="utf-8"))
    trees = [tree]
    if any(
        isinstance(node, ast.ImportFrom) and node.module == "mlgw.pipeline.handler" for node in ast.walk(tree)
    ):
        trees.append(ast.parse((PIPELINE_HANDLER).read_text(encoding="utf-8")))
    return frozenset(
        kw.value.value
        for t in trees
        for node in ast.walk(t)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "add_metric"
        for kw in node.keywords
        if kw.arg == "name" and isinstance(kw.value, ast.Constant)
    )


def _metrics_service_literal(handler: str) -> str | None:
    """The service a handler names in its Metrics(...) call, when it writes one out."""
    tree = ast.parse((HANDLERS / f"{handler}.py").read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Metrics":
            for kw in node.keywords:
                if kw.arg == "service" and isinstance(kw.value, ast.Constant):
                    return str(kw.value.value)
    return None


def _env(plan: PlanResult, address: str) -> dict[str, str]:
    # Values known only after apply (a created secret's ARN) are absent; they name no metric.
    variables = plan.resource(address)["environment"][0]["variables"]
    env = {k: v for k, v in variables.items() if isinstance(v, str)}
    if "ACTUALS_API_URL" in env and not env.get("ACTUALS_TOKEN_SECRET_ARN"):
        env["ACTUALS_TOKEN_SECRET_ARN"] = "arn:aws:secretsmanager:us-east-1:123456789012:secret:token"
    return env


def _alarms(plan: PlanResult, prefix: str = GW) -> dict[str, dict[str, Any]]:
    head = f"{prefix}aws_cloudwatch_metric_alarm.this["
    return {a[len(head) : -1].strip('"'): plan.resource(a) for a in plan.addresses(head)}


def _read(alarm: dict[str, Any]) -> list[tuple[str, str, dict[str, str], str]]:
    """(namespace, metric, dimensions, statistic) of every metric an alarm reads."""
    if alarm.get("metric_name"):
        stat = alarm.get("statistic") or alarm.get("extended_statistic")
        return [(alarm["namespace"], alarm["metric_name"], alarm.get("dimensions") or {}, stat)]
    return [
        (m["namespace"], m["metric_name"], m.get("dimensions") or {}, m["stat"])
        for q in alarm["metric_query"]
        for m in q.get("metric") or []
    ]


@pytest.fixture(scope="module")
def complete(tf: Workspace) -> PlanResult:
    return tf.plan(
        "examples/complete", var_file=str(tf.path("examples/complete") / "terraform.tfvars.example")
    )


def test_every_alarm_reads_a_documented_or_emitted_metric_of_a_planned_resource(complete: PlanResult) -> None:
    alarms = _alarms(complete)
    batch_fn = complete.resource(f"{GW}{BATCH_FN}.aws_lambda_function.this")
    actuals_fn = complete.resource(f"{GW}{ACTUALS_FN}.aws_lambda_function.this")
    batch_env = _env(complete, f"{GW}{BATCH_FN}.aws_lambda_function.this")
    actuals_env = _env(complete, f"{GW}{ACTUALS_FN}.aws_lambda_function.this")
    batch_settings = load_batch_settings(batch_env)
    # Dimension values the metrics carry, taken from the planned resources themselves.
    known = {
        "ApiName": {complete.resource(f"{GW}module.api[0].aws_api_gateway_rest_api.this")["name"]},
        "Stage": {
            complete.resource(a)["stage_name"]
            for a in complete.addresses(f"{GW}module.api[0].aws_api_gateway_stage.this")
        },
        "FunctionName": {
            complete.resource(f"{GW}{m}.aws_lambda_function.this")["function_name"]
            for m in ("module.predict[0]", 'module.s3_pipeline["batch"]', 'module.s3_pipeline["actuals"]')
        },
        "QueueName": {
            complete.resource(f"{GW}{m}.aws_sqs_queue.failures[0]")["name"]
            for m in ('module.s3_pipeline["batch"]', 'module.s3_pipeline["actuals"]')
        },
        "EndpointName": {complete.resource(f"{GW}module.endpoint[0].aws_sagemaker_endpoint.this")["name"]},
        "VariantName": {
            v["variant_name"]
            for v in complete.resource(f"{GW}module.endpoint[0].aws_sagemaker_endpoint_configuration.this")[
                "production_variants"
            ]
        },
    }
    # The pipelines' metrics: names from the handlers' code; the namespace is the planned
    # POWERTOOLS_METRICS_NAMESPACE, which Powertools reads itself, and the service as the
    # handlers compute it from the planned environment.
    emitted = {
        (batch_env["POWERTOOLS_METRICS_NAMESPACE"], batch_settings.service_name): _emitted("batch_predict"),
        (actuals_env["POWERTOOLS_METRICS_NAMESPACE"], _metrics_service_literal("report_actuals")): _emitted(
            "report_actuals"
        ),
    }
    assert batch_fn["function_name"] == batch_settings.service_name
    assert actuals_fn["function_name"] != _metrics_service_literal("report_actuals")

    # 3 per stage (2), 3 to 6 per function (3), 4 for the instance variant, 2 per pipeline.
    assert len(alarms) == 29
    for key, alarm in alarms.items():
        assert alarm["alarm_name"] == f"churn-{key}"
        for namespace, metric, dimensions, _ in _read(alarm):
            if namespace in AWS_METRICS:
                assert set(dimensions) == AWS_METRICS[namespace][metric], key
                for name, value in dimensions.items():
                    assert value in known[name], (key, name, value)
            else:
                assert metric in emitted[(namespace, dimensions["service"])], (key, metric)

    # The metrics the issue names, each read by an alarm.
    read = {(key, metric) for key, alarm in alarms.items() for _, metric, _, _ in _read(alarm)}
    for expected in [
        ("api-prod-5xx-rate", "5XXError"),
        ("api-prod-4xx-rate", "4XXError"),
        ("api-test-latency-p99", "Latency"),
        ("predict-throttles", "Throttles"),
        ("batch-async-events-dropped", "AsyncEventsDropped"),
        ("actuals-failure-queue-depth", "ApproximateNumberOfMessagesVisible"),
        ("batch-failure-queue-age", "ApproximateAgeOfOldestMessage"),
        ("endpoint-primary-5xx-rate", "Invocation5XXErrors"),
        ("endpoint-primary-model-latency-p99", "ModelLatency"),
        ("endpoint-primary-model-error-rate", "InvocationModelErrors"),
        ("endpoint-primary-memory", "MemoryUtilization"),
        ("batch-row-error-rate", "RowErrors"),
        ("batch-files-rejected", "FilesRejected"),
        ("actuals-files-failed", "FilesFailed"),
        ("actuals-rows-rejected", "BadRowsSkipped"),
    ]:
        assert expected in read


def test_thresholds_statistics_and_missing_data(complete: PlanResult) -> None:
    alarms = _alarms(complete)

    def summary(key: str) -> tuple[Any, ...]:
        a = alarms[key]
        return (
            a["comparison_operator"],
            a["threshold"],
            a["treat_missing_data"],
            a["evaluation_periods"],
            a["datapoints_to_alarm"],
        )

    # Conditions: 3 of 5 one-minute periods.
    assert summary("api-prod-5xx-rate") == ("GreaterThanThreshold", 0.05, "notBreaching", 5, 3)
    assert summary("api-prod-4xx-rate") == ("GreaterThanThreshold", 0.25, "notBreaching", 5, 3)
    assert summary("api-prod-latency-p99") == ("GreaterThanThreshold", 5000, "notBreaching", 5, 3)
    assert summary("predict-error-rate") == ("GreaterThanThreshold", 0.05, "notBreaching", 5, 3)
    assert summary("predict-duration") == (
        "GreaterThanThreshold",
        20000,
        "notBreaching",
        5,
        3,
    )  # 80 % of 25 s
    assert summary("batch-duration")[1] == 720000  # 80 % of 900 s
    # ModelLatency is in microseconds: 500 ms.
    assert summary("endpoint-primary-model-latency-p99") == (
        "GreaterThanThreshold",
        500000,
        "notBreaching",
        5,
        3,
    )
    assert summary("endpoint-primary-5xx-rate") == ("GreaterThanThreshold", 0.01, "notBreaching", 5, 3)
    assert summary("endpoint-primary-memory") == ("GreaterThanThreshold", 90, "missing", 5, 3)
    # Events: the first period with one.
    assert summary("batch-files-rejected") == ("GreaterThanOrEqualToThreshold", 1, "notBreaching", 1, 1)
    assert summary("actuals-files-failed") == ("GreaterThanOrEqualToThreshold", 1, "notBreaching", 1, 1)
    assert summary("actuals-rows-rejected") == ("GreaterThanOrEqualToThreshold", 1, "notBreaching", 1, 1)
    assert summary("batch-async-events-dropped") == ("GreaterThanOrEqualToThreshold", 1, "notBreaching", 1, 1)
    assert summary("actuals-failure-queue-depth") == (
        "GreaterThanOrEqualToThreshold",
        1,
        "notBreaching",
        1,
        1,
    )
    assert summary("actuals-failure-queue-age") == ("GreaterThanThreshold", 3600, "notBreaching", 1, 1)
    assert summary("predict-throttles") == ("GreaterThanOrEqualToThreshold", 10, "notBreaching", 1, 1)

    assert alarms["api-prod-latency-p99"]["extended_statistic"] == "p99"
    assert alarms["endpoint-primary-model-latency-p99"]["extended_statistic"] == "p99"
    # Documented rates: the Average of a 0-or-1-per-request metric.
    assert alarms["endpoint-primary-5xx-rate"]["statistic"] == "Average"
    assert alarms["endpoint-primary-model-error-rate"]["statistic"] == "Average"
    assert alarms["batch-files-rejected"]["statistic"] == "Sum"
    assert alarms["batch-failure-queue-depth"]["statistic"] == "Maximum"
    assert alarms["predict-duration"]["statistic"] == "Maximum"
    # Throttled requests need access logs, which this example leaves off.
    assert "api-prod-throttled" not in alarms


def test_ratios_are_metric_math(complete: PlanResult) -> None:
    alarms = _alarms(complete)
    queries = {q["id"]: q for q in alarms["api-prod-5xx-rate"]["metric_query"]}
    assert queries["ratio"]["expression"] == "errors / requests"
    assert [q["id"] for q in queries.values() if q["return_data"]] == ["ratio"]
    assert (queries["errors"]["metric"][0]["metric_name"], queries["errors"]["metric"][0]["stat"]) == (
        "5XXError",
        "Sum",
    )
    assert (queries["requests"]["metric"][0]["metric_name"], queries["requests"]["metric"][0]["stat"]) == (
        "Count",
        "SampleCount",
    )
    assert alarms["api-prod-5xx-rate"]["metric_name"] is None

    queries = {q["id"]: q for q in alarms["batch-error-rate"]["metric_query"]}
    assert queries["ratio"]["expression"] == "errors / invocations"
    assert {queries[i]["metric"][0]["metric_name"] for i in ("errors", "invocations")} == {
        "Errors",
        "Invocations",
    }

    queries = {q["id"]: q for q in alarms["batch-row-error-rate"]["metric_query"]}
    assert queries["ratio"]["expression"] == "errors / (errors + predicted)"
    assert queries["errors"]["metric"][0]["metric_name"] == "RowErrors"
    assert queries["predicted"]["metric"][0]["metric_name"] == "RowsPredicted"


def test_alarms_notify_a_topic_encrypted_with_a_key_cloudwatch_may_use(complete: PlanResult) -> None:
    topic = complete.resource(f"{GW}aws_sns_topic.alarms[0]")
    assert topic["name"] == "churn-alarms"
    key = complete.resource(f"{GW}aws_kms_key.alarms[0]")
    assert key["enable_key_rotation"] is True
    statements = {s["Sid"]: s for s in json.loads(key["policy"])["Statement"]}
    publish = statements["CloudWatchAlarmsPublish"]
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert sorted(publish["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    assert publish["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    # The ARNs are known only after apply; every alarm has exactly one action per state.
    for alarm in _alarms(complete).values():
        assert len(alarm["alarm_actions"]) == 1
        assert len(alarm["ok_actions"]) == 1


def test_the_endpoints_own_alarms_roll_its_deployment_back(complete: PlanResult, tf: Workspace) -> None:
    endpoint = complete.resource(f"{GW}module.endpoint[0].aws_sagemaker_endpoint.this")
    rollback = endpoint["deployment_config"][0]["auto_rollback_configuration"][0]["alarms"]
    names = sorted(a["alarm_name"] for a in rollback)
    assert names == ["churn-endpoint-primary-5xx-rate", "churn-endpoint-primary-model-latency-p99"]
    assert set(names) <= {a["alarm_name"] for a in _alarms(complete).values()}
    # The model's role may read exactly those alarms (deployment guardrails).
    statements = json.loads(
        complete.resource(f"{GW}module.endpoint[0].aws_iam_role_policy.this[0]")["policy"]
    )["Statement"]
    describe = next(s for s in statements if "cloudwatch:DescribeAlarms" in s["Action"])
    assert sorted(describe["Resource"]) == [
        f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{n}" for n in names
    ]

    # Alarms the deployment names itself win.
    own = tf.plan(
        "examples/complete",
        {"rollback_alarm_names": ["churn-canary-errors"]},
        var_file=str(tf.path("examples/complete") / "terraform.tfvars.example"),
    )
    endpoint = own.resource(f"{GW}module.endpoint[0].aws_sagemaker_endpoint.this")
    rollback = endpoint["deployment_config"][0]["auto_rollback_configuration"][0]["alarms"]
    assert [a["alarm_name"] for a in rollback] == ["churn-canary-errors"]


def test_rollback_alarms_of_many_variants_stay_within_the_ten_sagemaker_takes(tf: Workspace) -> None:
    # AutoRollbackConfig holds at most 10 alarms
    # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_AutoRollbackConfig.html):
    # six variants have twelve alarms, so every 5XX-rate alarm goes in first, then latency ones.
    variants = {f"v{i}": {"instance_type": "ml.m5.large", "initial_instance_count": 1} for i in range(6)}
    plan = tf.plan(
        ROOT,
        {
            **BASE,
            "endpoint": {
                "name": "churn-prod",
                "create": {
                    "model": {
                        "image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                        "model_data_url": "s3://churn-models/xgboost/model.tar.gz",
                    },
                    "variants": variants,
                },
            },
            "monitoring": {},
        },
    )
    endpoint = plan.resource("module.endpoint[0].aws_sagemaker_endpoint.this")
    rollback = [
        a["alarm_name"] for a in endpoint["deployment_config"][0]["auto_rollback_configuration"][0]["alarms"]
    ]
    assert len(rollback) == 10
    assert {f"churn-endpoint-v{i}-5xx-rate" for i in range(6)} <= set(rollback)
    assert sum(name.endswith("-model-latency-p99") for name in rollback) == 4
    assert set(rollback) <= {a["alarm_name"] for a in _alarms(plan, "").values()}


def test_monitoring_alarms_output_describes_every_alarm(complete: PlanResult) -> None:
    output = complete.outputs["monitoring_alarms"]
    alarms = _alarms(complete)
    assert set(output) == set(alarms)
    for key, alarm in alarms.items():
        described = output[key]
        assert described["alarm_name"] == alarm["alarm_name"]
        assert (described["threshold"], described["comparison"], described["treat_missing_data"]) == (
            alarm["threshold"],
            alarm["comparison_operator"],
            alarm["treat_missing_data"],
        )
        read = _read(alarm)
        if alarm["metric_name"]:
            assert (
                described["namespace"],
                described["metric_name"],
                described["dimensions"],
                described["statistic"],
            ) == read[0]
            assert described["expression"] is None
        else:
            assert described["metric_name"] is None
            assert described["expression"] == next(
                q["expression"] for q in alarm["metric_query"] if q["return_data"]
            )
            assert sorted(
                (m["namespace"], m["metric_name"], m["dimensions"], m["statistic"])
                for m in described["metrics"].values()
            ) == sorted(read)
    assert output["actuals-files-failed"]["metric_name"] == "FilesFailed"


def test_dashboard_has_widgets_for_every_part_that_is_on(complete: PlanResult) -> None:
    dashboard = complete.resource(f"{GW}aws_cloudwatch_dashboard.this[0]")
    assert dashboard["dashboard_name"] == "churn"
    widgets = {w["properties"]["title"]: w for w in json.loads(dashboard["dashboard_body"])["widgets"]}
    assert set(widgets) == {
        "API prod: requests and errors",
        "API prod: latency (ms)",
        "API prod: requests and 5XX per route",
        "API prod: p99 latency per route (ms)",
        "API test: requests and errors",
        "API test: latency (ms)",
        "API test: requests and 5XX per route",
        "API test: p99 latency per route (ms)",
        "Functions: errors and throttles",
        "Model latency per variant (microseconds)",
        "Invocations and errors per variant",
        "Batch prediction: rows and rejected files",
        "Actuals reporting: rows and failures",
        "Failure queues: messages waiting",
    }
    for widget in widgets.values():
        assert widget["type"] == "metric"
        assert widget["properties"]["region"] == "us-east-1"
        assert widget["x"] in (0, 12)
        assert widget["width"] == 12
    per_route = [m[:10] for m in widgets["API prod: requests and 5XX per route"]["properties"]["metrics"]]
    assert [
        "AWS/ApiGateway",
        "Count",
        "ApiName",
        "churn",
        "Method",
        "POST",
        "Resource",
        "/predict/{model}",
        "Stage",
        "prod",
    ] in per_route
    assert [
        "AWS/ApiGateway",
        "Count",
        "ApiName",
        "churn",
        "Method",
        "POST",
        "Resource",
        "/score",
        "Stage",
        "prod",
    ] in per_route
    model = widgets["Model latency per variant (microseconds)"]["properties"]["metrics"]
    assert model[0][:6] == [
        "AWS/SageMaker",
        "ModelLatency",
        "EndpointName",
        "churn-prod",
        "VariantName",
        "primary",
    ]
    batch = widgets["Batch prediction: rows and rejected files"]["properties"]["metrics"]
    assert [m[1] for m in batch] == ["RowsPredicted", "RowErrors", "FilesRejected"]
    assert {m[1] for m in batch} <= _emitted("batch_predict")
    assert batch[0][2:4] == ["service", "churn-batch-predict"]
    actuals = widgets["Actuals reporting: rows and failures"]["properties"]["metrics"]
    assert {m[1] for m in actuals} <= _emitted("report_actuals")
    queues = widgets["Failure queues: messages waiting"]["properties"]["metrics"]
    assert sorted(m[3] for m in queues) == ["churn-batch-predict-failures", "churn-report-actuals-failures"]


BASE: dict[str, Any] = {"name": "churn", "endpoint": {"name": "churn-prod"}, "models": {"default": {}}}
API: dict[str, Any] = {"predict": {"api_key_required": False}}


def test_the_batch_function_reserves_the_concurrency_its_model_calls_allow(
    tf: Workspace, complete: PlanResult
) -> None:
    # 20 model calls at once by default, 4 per invocation.
    assert (
        complete.resource(f"{GW}{BATCH_FN}.aws_lambda_function.this")["reserved_concurrent_executions"] == 5
    )
    assert (
        complete.resource(f"{GW}module.predict[0].aws_lambda_function.this")["reserved_concurrent_executions"]
        == -1
    )
    serverless = tf.plan(
        ROOT,
        {
            **BASE,
            "endpoint": {
                "name": "churn-prod",
                "create": {
                    "model": {
                        "image": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                        "model_data_url": "s3://churn-models/xgboost/model.tar.gz",
                    },
                    "variants": {
                        "primary": {"serverless": {"max_concurrency": 30, "memory_size_in_mb": 2048}}
                    },
                },
            },
            "batch_prediction": {"bucket": "churn-data", "concurrency": 8},
            "monitoring": {},
        },
    )
    fn = serverless.resource(f"{BATCH_FN}.aws_lambda_function.this")
    assert fn["reserved_concurrent_executions"] == 3  # 30 concurrent invocations, 8 per function
    alarms = _alarms(serverless, "")
    assert alarms["endpoint-primary-model-setup-time"]["threshold"] == 60_000_000
    assert alarms["endpoint-primary-model-setup-time"]["metric_name"] == "ModelSetupTime"
    assert "endpoint-primary-memory" not in alarms

    given = tf.plan(ROOT, {**BASE, "batch_prediction": {"bucket": "churn-data", "reserved_concurrency": 12}})
    assert given.resource(f"{BATCH_FN}.aws_lambda_function.this")["reserved_concurrent_executions"] == 12
    error = tf.plan_error(
        ROOT, {**BASE, "batch_prediction": {"bucket": "churn-data", "reserved_concurrency": 0}}
    )
    assert "batch_prediction.reserved_concurrency must be a whole number of at least 1" in error

    # -1 opts out: an account whose concurrency quota is too small to reserve any
    # (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html) can still
    # create the function.
    unreserved = tf.plan(
        ROOT, {**BASE, "batch_prediction": {"bucket": "churn-data", "reserved_concurrency": -1}}
    )
    assert unreserved.resource(f"{BATCH_FN}.aws_lambda_function.this")["reserved_concurrent_executions"] == -1


def test_throttled_requests_are_counted_from_json_access_logs(tf: Workspace) -> None:
    plan = tf.plan(
        ROOT,
        {
            **BASE,
            "api": {
                **API,
                "account_cloudwatch_role": "create",
                "stages": {
                    "prod": {},
                    "lean": {
                        "access_log_format": json.dumps(
                            {"id": "$context.requestId", "status": "$context.status"}
                        )
                    },
                    "raw": {
                        "access_log_format": json.dumps(
                            {"id": "$context.requestId", "code": "$context.status"}
                        )
                    },
                },
            },
            "monitoring": {"api": {"throttled_requests": 5}},
        },
    )
    filters = plan.addresses("aws_cloudwatch_log_metric_filter.throttled")
    assert filters == [
        'aws_cloudwatch_log_metric_filter.throttled["lean"]',
        'aws_cloudwatch_log_metric_filter.throttled["prod"]',
    ]
    metric_filter = plan.resource(filters[1])
    assert metric_filter["log_group_name"] == "/aws/apigateway/churn/prod"
    assert metric_filter["pattern"] == '{ $.status = "429" }'
    transformation = metric_filter["metric_transformation"][0]
    alarms = _alarms(plan, "")
    throttled = alarms["api-prod-throttled"]
    assert (throttled["namespace"], throttled["metric_name"]) == (
        transformation["namespace"],
        transformation["name"],
    )
    assert (throttled["threshold"], throttled["statistic"], throttled["treat_missing_data"]) == (
        5,
        "Sum",
        "notBreaching",
    )
    # A log without the status field cannot be counted.
    assert "api-lean-throttled" in alarms
    assert "api-raw-throttled" not in alarms
    # No endpoint created, so no rollback wiring; an existing endpoint's AllTraffic variant.
    assert {k for k in alarms if k.startswith("endpoint-")} == {
        "endpoint-AllTraffic-5xx-rate",
        "endpoint-AllTraffic-model-latency-p99",
        "endpoint-AllTraffic-model-error-rate",
    }


def test_thresholds_of_parts_that_are_off_are_ignored(tf: Workspace) -> None:
    plan = tf.plan(
        ROOT,
        {
            **BASE,
            "api": API,
            "monitoring": {"batch": {"row_error_rate": 0.2}, "actuals": {"files_failed": 3}},
        },
    )
    keys = set(_alarms(plan, ""))
    assert keys
    assert not {k for k in keys if k.startswith(("batch-", "actuals-"))}
    assert plan.outputs["monitoring_alarms"].keys() == keys


def test_monitoring_off_creates_nothing(tf: Workspace) -> None:
    plan = tf.plan(ROOT, {**BASE, "api": API})
    assert not plan.addresses("aws_cloudwatch_metric_alarm")
    assert not plan.addresses("aws_sns_topic")
    assert not plan.addresses("aws_cloudwatch_dashboard")
    assert plan.outputs["monitoring_alarms"] == {}


def test_an_existing_topic_is_used_as_given(tf: Workspace) -> None:
    arn = "arn:aws:sns:us-east-1:123456789012:pager"
    plan = tf.plan(
        ROOT, {**BASE, "api": API, "monitoring": {"alarm_topic": {"arn": arn}, "dashboard": False}}
    )
    assert not plan.addresses("aws_sns_topic")
    assert not plan.addresses("aws_kms_key")
    assert not plan.addresses("aws_cloudwatch_dashboard")
    assert {tuple(a["alarm_actions"]) for a in _alarms(plan, "").values()} == {(arn,)}


@pytest.mark.parametrize(
    ("monitoring", "message"),
    [
        ({"api": {"error_5xx_rate": 5}}, "is a fraction above 0 and at most 1: write 5 % as 0.05"),
        ({"functions": {"duration_ratio": 0}}, "is a fraction above 0 and at most 1"),
        ({"actuals": {"files_failed": 0}}, "are counts: whole numbers of at least 1"),
        (
            {"endpoint": {"memory_utilization_percent": 120}},
            "endpoint.memory_utilization_percent must be above 0 and at most 100",
        ),
        ({"period_seconds": 90}, "period_seconds must be a multiple of 60"),
        (
            {"evaluation_periods": 3, "datapoints_to_alarm": 4},
            "datapoints_to_alarm a whole number from 1 to evaluation_periods",
        ),
        (
            {"period_seconds": 600, "evaluation_periods": 200, "datapoints_to_alarm": 1},
            "at most 86400 (one day) for periods under an hour",
        ),
        ({"functions": {"failure_queue_age_seconds": 30}}, "must be between 60 and 1209600"),
        ({"alarm_topic": {"arn": "arn:aws:sqs:us-east-1:123456789012:q"}}, "must be an SNS topic ARN"),
        (
            {"alarm_topic": {"kms_key_arn": "arn:aws:kms:us-east-1:123456789012:alias/aws/sns"}},
            "The AWS managed key alias/aws/sns cannot be used",
        ),
    ],
)
def test_bad_monitoring_input_fails_the_plan(tf: Workspace, monitoring: dict[str, Any], message: str) -> None:
    assert message in tf.plan_error(ROOT, {**BASE, "api": API, "monitoring": monitoring})


def test_a_topic_of_another_region_fails_the_plan(tf: Workspace) -> None:
    error = tf.plan_error(
        ROOT,
        {
            **BASE,
            "api": API,
            "monitoring": {"alarm_topic": {"arn": "arn:aws:sns:eu-west-1:123456789012:pager"}},
        },
    )
    assert "is a topic of eu-west-1, but the alarms are created in us-east-1" in error
