"""Entry point of the actuals reporter: S3 object-created events in, actuals delivered.

Settings, clients and the token cache live for the life of the container, so warm
invocations reuse pooled connections and the fetched token. Each object of an event is
handled independently; if any of them failed or must be retried the invocation raises
at the end, so Lambda's async retries and the on-failure destination see it, and the
objects already finished are skipped on the retry because they are gone. An object handed to
a fresh invocation (its continuation event) counts as handled: the chain goes on without
Lambda's retries.

Metrics (Powertools, the namespace the module sets): RowsReported, ChunksSent and
BadRowsSkipped per object; RowsPerInvocation, the rows one invocation delivered of one object;
HandOffs, one per object handed to a fresh invocation; HandOffChainLength, how many hand-offs
the object's chain had made when this invocation finished with it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from typing import Any

import boto3
import urllib3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config

from mlgw.actuals.client import ActualsApi, RetryPolicy, TokenProvider
from mlgw.actuals.dataset import DatasetPath
from mlgw.actuals.pipeline import Outcome, Reporter
from mlgw.actuals.quota import SharedBudget
from mlgw.actuals.settings import SINK_DATAROBOT, SINK_MODEL_MONITOR, ActualsSettings, load_settings
from mlgw.actuals.sinks import DataRobotSink, ModelMonitorSink, Sink
from mlgw.actuals.state import require_conditional_writes
from mlgw.logs import quiet_wire_logging
from mlgw.pipeline.continuation import SelfInvoker
from mlgw.pipeline.handler import run_objects
from mlgw.pipeline.objects import Invocation

quiet_wire_logging()
logger = Logger(service="report_actuals")


class ActualsReportingError(RuntimeError):
    """At least one object of the event failed or was left for a retry."""


@dataclass(frozen=True, slots=True)
class Runtime:
    settings: ActualsSettings
    reporter: Reporter
    metrics: Metrics


def build_runtime(settings: ActualsSettings) -> Runtime:
    """Clients with explicit timeouts; S3 gets enough pooled connections for the sending threads."""
    aws_config = Config(
        connect_timeout=settings.connect_timeout,
        read_timeout=60,
        retries={"mode": "standard", "max_attempts": 5},
        max_pool_connections=settings.max_in_flight + 4,
    )
    s3 = boto3.client("s3", config=aws_config)
    require_conditional_writes(s3)
    sinks: list[Sink] = []
    dataset_path: DatasetPath | None = None
    if SINK_MODEL_MONITOR in settings.sinks:
        sinks.append(
            ModelMonitorSink(
                s3, settings.ground_truth_bucket, settings.ground_truth_prefix, settings.ground_truth_endpoint
            )
        )
    if SINK_DATAROBOT in settings.sinks:
        assert settings.api_url is not None
        assert settings.token_secret_arn is not None
        http = urllib3.PoolManager(
            num_pools=4,
            maxsize=2 * settings.max_in_flight,  # requests, and as many status polls
            block=True,
            timeout=urllib3.Timeout(connect=settings.connect_timeout, read=settings.read_timeout),
            retries=False,
        )
        tokens = TokenProvider(boto3.client("secretsmanager", config=aws_config), settings.token_secret_arn)
        api = ActualsApi(
            http,
            settings.api_url,
            tokens,
            RetryPolicy(settings.max_retries, settings.backoff_base, settings.backoff_max),
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            poll_interval=settings.poll_interval,
            poll_max_interval=settings.poll_max_interval,
            grace=settings.time_margin / 2,
        )
        budget = SharedBudget(
            s3,
            settings.bucket,
            settings.state_prefix,
            settings.actuals_per_hour,
            settings.pacing_window_seconds,
        )
        sinks.append(DataRobotSink(api, budget))
        presigner = presigning_client(aws_config)
        dataset_path = DatasetPath(
            settings,
            s3,
            presigner=presigner,
            api=api,
            http=http,
            tokens=tokens,
            logger=logger,
            budget=budget,
        )
    # The namespace is Powertools' own POWERTOOLS_METRICS_NAMESPACE, which the module sets.
    metrics = Metrics(service="report_actuals")
    # The hand-off queues a continuation event for this very function (pipeline/continuation.py).
    invoker = SelfInvoker(boto3.client("lambda", config=aws_config))
    reporter = Reporter(settings, s3, sinks, logger, invoker=invoker, dataset_path=dataset_path)
    return Runtime(settings, reporter, metrics)


def presigning_client(aws_config: Config) -> Any:
    """The S3 client that signs the dataset path's URLs with the function role's credentials.

    SigV4 whatever the default. Virtual-hosted addressing on the bucket's regional endpoint: a URL
    on the global endpoint is redirected (307) to the regional one for a bucket outside us-east-1,
    and the redirected request no longer matches its signature (https://github.com/boto/boto3/issues/2989,
    https://github.com/boto/boto3/issues/1982). An endpoint set in the environment (local mode) is
    kept as it is.
    """
    presigning = Config(
        signature_version="s3v4",
        s3={"addressing_style": "virtual", "us_east_1_regional_endpoint": "regional"},
    )
    return boto3.client("s3", config=aws_config.merge(presigning))


@cache
def runtime() -> Runtime:
    return build_runtime(load_settings(os.environ))


def _record(metrics: Metrics, outcome: Outcome) -> None:
    metrics.add_metric(name="RowsReported", unit=MetricUnit.Count, value=outcome.rows_sent)
    metrics.add_metric(name="ChunksSent", unit=MetricUnit.Count, value=outcome.chunks_sent)
    metrics.add_metric(name="BadRowsSkipped", unit=MetricUnit.Count, value=outcome.bad_rows)
    if outcome.status in {"reported", "handed-off"}:
        metrics.add_metric(name="RowsPerInvocation", unit=MetricUnit.Count, value=outcome.rows_sent)
        metrics.add_metric(name="HandOffChainLength", unit=MetricUnit.Count, value=outcome.handoffs)
    if outcome.status == "handed-off":
        metrics.add_metric(name="HandOffs", unit=MetricUnit.Count, value=1)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    current = runtime()
    return run_objects(
        event,
        Invocation.of(context),
        process=current.reporter.process,
        count=_record,
        metrics=current.metrics,
        logger=logger,
        failure_message="object not reported",
        error=ActualsReportingError,
        failed_as="not reported",
    )
