"""Entry point of the batch prediction function: S3 object-created events in, predictions out.

Settings and clients are built on first use and kept for the life of the container, so warm
invocations reuse connections. Every object of an event is handled on its own; the invocation
raises at the end only if one of them failed for a reason a retry may cure (the model side down,
S3 failing, time running out), so Lambda's async retries and the on-failure destination apply to
those and never to files with bad rows, which finish with an error object instead.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config

from mlgw.backends.clients import build_model_clients
from mlgw.batch.completion import TransformCompletion, is_transform_event
from mlgw.batch.pipeline import BatchPredictor, Outcome
from mlgw.batch.settings import BatchSettings, load_settings
from mlgw.logs import quiet_wire_logging
from mlgw.pipeline.handler import run_objects
from mlgw.pipeline.objects import Invocation

quiet_wire_logging()
logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "batch_predict"))

# The function answers no one in real time, so AWS calls may wait and retry longer than the
# prediction API's; the model calls keep their own budget from the settings.
_AWS_TIMEOUTS = {"connect_timeout": 5, "read_timeout": 60, "retries": {"mode": "standard", "max_attempts": 5}}


class BatchPredictionError(RuntimeError):
    """At least one object of the event failed for a reason a retry may cure."""


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: BatchSettings
    predictor: BatchPredictor
    metrics: Metrics
    completion: TransformCompletion | None = None


def build_runtime(settings: BatchSettings) -> Runtime:
    connections = settings.concurrency + 4
    s3 = boto3.client("s3", config=Config(max_pool_connections=connections, **_AWS_TIMEOUTS))
    models = build_model_clients(settings.model_budget, retry_after=1, max_connections=connections)
    sagemaker = boto3.client("sagemaker", config=Config(**_AWS_TIMEOUTS)) if settings.transform else None
    predictor = BatchPredictor(settings, s3, models.backend_for(settings.route), logger, sagemaker=sagemaker)
    # The namespace is Powertools' own POWERTOOLS_METRICS_NAMESPACE, which the module sets.
    metrics = Metrics(service=settings.service_name)
    completion = TransformCompletion(settings, s3, sagemaker, logger) if sagemaker is not None else None
    return Runtime(settings, predictor, metrics, completion)


@cache
def runtime() -> Runtime:
    return build_runtime(load_settings(os.environ))


def _record(metrics: Metrics, outcome: Outcome) -> None:
    metrics.add_metric(name="RowsPredicted", unit=MetricUnit.Count, value=outcome.rows)
    metrics.add_metric(name="RowErrors", unit=MetricUnit.Count, value=outcome.error_rows)
    metrics.add_metric(name="ModelCalls", unit=MetricUnit.Count, value=outcome.model_calls)
    if outcome.status == "rejected":
        # Alarmable: a file no retry can help succeeds as an invocation, so only this shows it.
        metrics.add_metric(name="FilesRejected", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    current = runtime()
    invocation = Invocation.of(context)
    if is_transform_event(event):
        return _finish_transform(current, event, invocation)
    return run_objects(
        event,
        invocation,
        process=current.predictor.process,
        count=_record,
        metrics=current.metrics,
        logger=logger,
        failure_message="object not predicted",
        error=BatchPredictionError,
        failed_as="failed",
    )


def _finish_transform(current: Runtime, event: dict[str, Any], invocation: Invocation) -> dict[str, Any]:
    """A Batch Transform job of this function changed state: write its output when it ended."""
    if current.completion is None:
        raise BatchPredictionError("a transform job event arrived, but Batch Transform is off")
    try:
        outcome = current.completion.finish(event, invocation)
    except Exception as exc:
        current.metrics.add_metric(name="FilesFailed", unit=MetricUnit.Count, value=1)
        current.metrics.flush_metrics()
        raise BatchPredictionError(f"transform job not finished: {type(exc).__name__}: {exc}") from exc
    if outcome.status == "transform-completed":
        current.metrics.add_metric(name="TransformOutputs", unit=MetricUnit.Count, value=1)
        current.metrics.flush_metrics()
    return {"results": [asdict(outcome)]}
