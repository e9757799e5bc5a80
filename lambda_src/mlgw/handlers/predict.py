"""Entry point of the real-time prediction function (API Gateway REST, Lambda proxy).

Settings, clients and the routing table are built at import, once per container. A settings
error does not fail the import: Lambda would answer with an opaque gateway error, so instead
every request gets the JSON error shape and the log names the variable to fix.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from mlgw.apigw import error_response, parse_event
from mlgw.backends.clients import build_model_clients
from mlgw.env import SettingsError
from mlgw.logs import quiet_wire_logging
from mlgw.predict.service import PredictService
from mlgw.predict.settings import PARAMETER_BUDGET, PredictSettings, load_settings
from mlgw.routing import ParameterRoutes, RouteSource, StaticRoutes

quiet_wire_logging()


def _load() -> PredictSettings | SettingsError:
    try:
        return load_settings(os.environ)
    except SettingsError as exc:
        return exc


_LOADED = _load()
SETTINGS = _LOADED if isinstance(_LOADED, PredictSettings) else None
_SERVICE_NAME = SETTINGS.service_name if SETTINGS else "predict"

logger = Logger(service=_SERVICE_NAME)
# The namespace is Powertools' own POWERTOOLS_METRICS_NAMESPACE, which the module sets.
metrics = Metrics(service=_SERVICE_NAME)


class PowertoolsMetrics:
    """Latency per route, and an error count per route and error kind. Errors go out as their
    own EMF record because their `kind` dimension does not apply to the latency metric."""

    def record(self, route: str, latency_ms: float, error_kind: str | None) -> None:
        metrics.add_dimension(name="route", value=route)
        metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=latency_ms)
        if error_kind is None:
            return
        with single_metric(
            name="Errors",
            unit=MetricUnit.Count,
            value=1,
            default_dimensions={"service": _SERVICE_NAME, "route": route, "kind": error_kind},
        ):
            pass


def _route_source(settings: PredictSettings) -> RouteSource:
    if settings.inline_routes is not None:
        return StaticRoutes(settings.inline_routes)
    # Imported here: only a table read from SSM pays for the Parameters utility at cold start.
    from aws_lambda_powertools.utilities.parameters import SSMProvider  # noqa: PLC0415

    # The client comes from boto3's default session: SSMProvider would otherwise open a session of
    # its own, loading botocore's data a second time at cold start.
    ssm = boto3.client("ssm", config=PARAMETER_BUDGET.botocore_config())
    return ParameterRoutes(
        SSMProvider(boto3_client=ssm),
        str(settings.models_parameter),
        ttl=settings.models_cache_ttl,
        default_endpoint_name=settings.default_endpoint_name,
        logger=logger,
    )


CLIENTS = (
    build_model_clients(
        SETTINGS.model_budget,
        retry_after=SETTINGS.retry_after,
    )
    if SETTINGS
    else None
)
SERVICE = (
    PredictService(
        _route_source(SETTINGS),
        CLIENTS,
        logger=logger,
        metrics=PowertoolsMetrics(),
        log_bodies=SETTINGS.log_bodies,
    )
    if SETTINGS and CLIENTS
    else None
)


@metrics.log_metrics(capture_cold_start_metric=True)
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = parse_event(event, context.aws_request_id)
    if SERVICE is None:
        logger.error("invalid settings", extra={"error": str(_LOADED)})
        PowertoolsMetrics().record("unknown", 0.0, "ConfigurationError")
        return error_response(
            500, "ConfigurationError", "the prediction service is misconfigured", request.request_id
        )
    return SERVICE.handle(request)


if SETTINGS is not None and SETTINGS.tracing:
    from aws_lambda_powertools import Tracer

    tracer = Tracer(service=_SERVICE_NAME)
    lambda_handler = tracer.capture_lambda_handler(lambda_handler, capture_response=False)
