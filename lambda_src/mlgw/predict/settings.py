"""Settings of the prediction function, read once per container from its environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mlgw.backends.clients import CallBudget
from mlgw.env import (
    SettingsError,
    env_bool,
    env_float,
    env_int,
    env_json,
    env_opt_str,
    env_str,
)
from mlgw.routing import RouteTable, parse_routes

# API Gateway ends every integration after 29 s; one second is left for Lambda itself and for
# shaping the response, so a request that fails still fails with our JSON and not a gateway 504.
MAX_WORST_CASE_SECONDS = 28.0
# Reading the routing table from SSM sits on the request path once per cache period.
PARAMETER_BUDGET = CallBudget(connect_timeout=1.0, read_timeout=1.0, max_attempts=2)


@dataclass(frozen=True)
class PredictSettings:
    inline_routes: RouteTable | None
    models_parameter: str | None
    models_cache_ttl: int
    default_endpoint_name: str | None
    model_budget: CallBudget
    retry_after: int
    sagemaker_runtime_endpoint_url: str | None
    ssm_endpoint_url: str | None
    tracing: bool
    log_bodies: bool
    service_name: str
    metrics_namespace: str

    def worst_case_seconds(self) -> float:
        table = PARAMETER_BUDGET.worst_case_seconds() if self.models_parameter else 0.0
        return table + self.model_budget.worst_case_seconds()


def load_settings(env: Mapping[str, str]) -> PredictSettings:
    models_json = env_opt_str(env, "MODELS_JSON")
    models_parameter = env_opt_str(env, "MODELS_PARAMETER_NAME")
    if (models_json is None) == (models_parameter is None):
        raise SettingsError("set exactly one of MODELS_JSON and MODELS_PARAMETER_NAME")
    default_endpoint_name = env_opt_str(env, "DEFAULT_ENDPOINT_NAME")
    inline_routes = None
    if models_json is not None:
        inline_routes = parse_routes(
            env_json(env, "MODELS_JSON"), default_endpoint_name=default_endpoint_name, source="MODELS_JSON"
        )
    settings = PredictSettings(
        inline_routes=inline_routes,
        models_parameter=models_parameter,
        models_cache_ttl=env_int(env, "MODELS_CACHE_TTL_SECONDS", 60, minimum=1, maximum=3600),
        default_endpoint_name=default_endpoint_name,
        model_budget=CallBudget(
            connect_timeout=env_float(env, "MODEL_CONNECT_TIMEOUT_SECONDS", 2.0, minimum=0.1, maximum=10),
            read_timeout=env_float(env, "MODEL_READ_TIMEOUT_SECONDS", 8.0, minimum=0.1, maximum=27),
            max_attempts=env_int(env, "MODEL_MAX_ATTEMPTS", 2, minimum=1, maximum=5),
        ),
        retry_after=env_int(env, "RETRY_AFTER_SECONDS", 1, minimum=1, maximum=300),
        sagemaker_runtime_endpoint_url=env_opt_str(env, "SAGEMAKER_RUNTIME_ENDPOINT_URL"),
        ssm_endpoint_url=env_opt_str(env, "SSM_ENDPOINT_URL"),
        tracing=env_bool(env, "TRACING_ENABLED", default=False),
        log_bodies=env_bool(env, "LOG_REQUEST_BODIES", default=False),
        service_name=env_str(env, "POWERTOOLS_SERVICE_NAME", "predict"),
        metrics_namespace=env_str(env, "POWERTOOLS_METRICS_NAMESPACE", "MlGateway"),
    )
    worst = settings.worst_case_seconds()
    if worst > MAX_WORST_CASE_SECONDS:
        raise SettingsError(
            f"MODEL_CONNECT_TIMEOUT_SECONDS, MODEL_READ_TIMEOUT_SECONDS and MODEL_MAX_ATTEMPTS allow "
            f"{worst:.1f} s in the worst case (including the routing-table read when "
            f"MODELS_PARAMETER_NAME is set); lower them to stay within {MAX_WORST_CASE_SECONDS:.0f} s "
            f"under API Gateway's 29 s limit"
        )
    return settings
