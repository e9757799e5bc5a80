"""Settings of the prediction function, read once per container from its settings document."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mlgw.backends.clients import CallBudget
from mlgw.env import SettingsError, load_document
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
    tracing: bool
    log_bodies: bool
    service_name: str

    def worst_case_seconds(self) -> float:
        table = PARAMETER_BUDGET.worst_case_seconds() if self.models_parameter else 0.0
        return table + self.model_budget.worst_case_seconds()


def load_settings(env: Mapping[str, str]) -> PredictSettings:
    document = load_document(env)
    models = document.raw("models")
    parameter = document.opt_section("models_parameter")
    if (models is None) == (parameter is None):
        raise SettingsError(
            f"set exactly one of {document.name('models')} and {document.name('models_parameter')}"
        )
    default_endpoint_name = document.opt_text("default_endpoint_name")
    inline_routes = None
    if models is not None:
        inline_routes = parse_routes(
            models, default_endpoint_name=default_endpoint_name, source=document.name("models")
        )
    call = document.section("model_call")
    settings = PredictSettings(
        inline_routes=inline_routes,
        models_parameter=parameter.text("name") if parameter else None,
        models_cache_ttl=parameter.whole("cache_ttl_seconds", minimum=1, maximum=3600) if parameter else 0,
        default_endpoint_name=default_endpoint_name,
        model_budget=CallBudget(
            connect_timeout=call.number("connect_timeout_seconds", minimum=0.1, maximum=10),
            read_timeout=call.number("read_timeout_seconds", minimum=0.1, maximum=27),
            max_attempts=call.whole("max_attempts", minimum=1, maximum=5),
        ),
        retry_after=document.whole("retry_after_seconds", minimum=1, maximum=300),
        # Set by the module on every function (modules/lambda-function), read by Powertools too.
        tracing=env.get("TRACING_ENABLED", "false").strip().lower() == "true",
        log_bodies=document.flag("log_request_bodies"),
        service_name=env.get("POWERTOOLS_SERVICE_NAME", "").strip() or "predict",
    )
    worst = settings.worst_case_seconds()
    if worst > MAX_WORST_CASE_SECONDS:
        raise SettingsError(
            f"{call.path} allows {worst:.1f} s in the worst case (including the routing-table read "
            f"when {document.name('models_parameter')} is set); lower the timeouts or attempts to stay "
            f"within {MAX_WORST_CASE_SECONDS:.0f} s under API Gateway's 29 s limit"
        )
    return settings
