"""The gateway an example describes, read from its offline Terraform plan.

Everything comes from ``terraform show -json`` of the planned resources: API Gateway resources,
methods, integrations (templates included), integration and method responses, validators,
models, stages, method settings, usage plans, keys and gateway responses; Lambda functions with
their handlers and environments; buckets, bucket notifications and secrets.

A plan leaves IDs unknown until apply, and IDs are what tie a method to its path resource, a
key to its usage plan and a notification to its function. Those three links are the only thing
not read from planned resources: local mode adds ``terraform_data`` resources to its scratch
copy of the modules, whose planned inputs are the very expressions the real resources use to
look those IDs up (``local.routes[*].path``, ``local.api_keys[*].usage_plan``, the triggers'
function names).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tfharness import Workspace, toolchain
from tfharness.workspace import example_var_file

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLCHAIN_HOME = REPO_ROOT / ".tf-offline"

_LINKS = {
    "modules/rest-api": """
resource "terraform_data" "local_mode_links" {
  input = {
    method_paths      = { for k, r in local.routes : k => r.path }
    method_validators = local.route_validators
    key_usage_plans   = { for k, key in local.api_keys : k => key.usage_plan }
  }
}
""",
    "modules/s3-triggers": """
resource "terraform_data" "local_mode_links" {
  input = {
    notification_functions = {
      for r in local.notification_rules :
      "${r.key}${r.filter_suffix == null ? "" : "-${trimprefix(r.filter_suffix, ".")}"}" =>
      var.triggers[r.key].function_name
    }
  }
}
""",
}
_LINKS_FILE = "local_mode_links.tf"


class PlanError(RuntimeError):
    """The example does not plan, or plans something local mode cannot serve."""


@dataclass(frozen=True)
class IntegrationResponse:
    selection_pattern: str | None
    status_code: int
    template: str | None
    parameters: dict[str, str]


@dataclass(frozen=True)
class Route:
    """One method of the REST API, with its integration."""

    key: str
    path: str
    method: str
    api_key_required: bool
    authorization: str
    request_parameters: dict[str, bool]
    validate_parameters: bool
    validate_body: bool
    body_schema: dict[str, Any] | None
    integration_type: str
    function_name: str | None
    endpoint_name: str | None
    integration_parameters: dict[str, str]
    request_templates: dict[str, str]
    passthrough_behavior: str | None
    timeout_seconds: float
    responses: dict[str, IntegrationResponse]


@dataclass(frozen=True)
class Throttle:
    rate: float
    burst: int


@dataclass(frozen=True)
class Quota:
    limit: int
    period: str
    offset: int


@dataclass(frozen=True)
class UsagePlan:
    name: str
    stages: tuple[str, ...]
    throttle: Throttle | None
    quota: Quota | None
    method_throttles: dict[tuple[str, str], Throttle]


@dataclass(frozen=True)
class ApiKey:
    name: str
    value: str
    enabled: bool
    usage_plan: str
    generated: bool


@dataclass(frozen=True)
class GatewayResponse:
    status_code: int | None
    template: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Stage:
    name: str
    variables: dict[str, str]
    throttle: Throttle | None
    method_throttles: dict[tuple[str, str], Throttle]


@dataclass(frozen=True)
class Function:
    name: str
    handler: str
    timeout: int
    memory_size: int
    environment: dict[str, str]
    unknown_environment: tuple[str, ...]


@dataclass(frozen=True)
class Trigger:
    id: str
    bucket: str
    prefix: str
    suffix: str
    function_name: str


@dataclass(frozen=True)
class Bucket:
    name: str
    versioned: bool


@dataclass
class Gateway:
    """What local mode serves, all of it from one plan."""

    example: str
    api_name: str | None = None
    routes: list[Route] = field(default_factory=list)
    stages: dict[str, Stage] = field(default_factory=dict)
    usage_plans: dict[str, UsagePlan] = field(default_factory=dict)
    api_keys: dict[str, ApiKey] = field(default_factory=dict)
    gateway_responses: dict[str, GatewayResponse] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    triggers: list[Trigger] = field(default_factory=list)
    buckets: dict[str, Bucket] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)

    def endpoint_names(self) -> set[str]:
        """Every SageMaker endpoint the API routes and the functions' routing tables name."""
        names = {r.endpoint_name for r in self.routes if r.endpoint_name}
        for function in self.functions.values():
            env = function.environment
            if env.get("DEFAULT_ENDPOINT_NAME"):
                names.add(env["DEFAULT_ENDPOINT_NAME"])
            for route in json.loads(env.get("MODELS_JSON") or "{}").values():
                if route.get("endpoint_name"):
                    names.add(route["endpoint_name"])
        return names


def local_key_value(example: str, name: str) -> str:
    """A deterministic stand-in for a key API Gateway would generate (40 characters, as AWS's)."""
    return hashlib.sha256(f"mlgw-local/{example}/{name}".encode()).hexdigest()[:40]


def stage_example(example: Path, scratch: Path) -> tuple[Workspace, str]:
    """Stage the repository with the link resources; an example outside it goes under examples/."""
    workspace = Workspace(toolchain(TOOLCHAIN_HOME), scratch)
    for module, text in _LINKS.items():
        (workspace.path(module) / _LINKS_FILE).write_text(text.lstrip(), encoding="utf-8")
    example = example.resolve()
    try:
        return workspace, example.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        rel = f"examples/{example.name}"
        shutil.rmtree(workspace.path(rel), ignore_errors=True)
        shutil.copytree(
            example, workspace.path(rel), ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*")
        )
        return workspace, rel


def plan_json(example: Path, var_file: Path | None = None) -> dict[str, Any]:
    """``terraform show -json`` of the example's offline plan (with the link resources)."""
    with tempfile.TemporaryDirectory(prefix="mlgw-local-") as scratch:
        workspace, rel = stage_example(example, Path(scratch))
        var_file = var_file or example_var_file(example.resolve())
        try:
            result = workspace.plan(rel, var_file=str(var_file.resolve()) if var_file else None)
        except AssertionError as exc:
            raise PlanError(str(exc)) from exc
        return dict(result.raw._raw)


def _throttle(settings: Mapping[str, Any] | None, rate: str, burst: str) -> Throttle | None:
    if not settings or settings.get(rate) is None:
        return None
    return Throttle(rate=float(settings[rate]), burst=int(settings.get(burst) or 0))


def _quoted(value: str) -> str:
    """The literal of a mapping expression such as ``'application/json'``."""
    return value[1:-1] if len(value) >= 2 and value[0] == value[-1] == "'" else value


@dataclass(frozen=True)
class _Planned:
    module: str
    key: str
    values: dict[str, Any]
    unknown: dict[str, Any]


class _Resources:
    """Planned creates and updates by type, each with its module address and for_each key."""

    def __init__(self, plan: Mapping[str, Any]) -> None:
        self._by_type: dict[str, list[_Planned]] = {}
        for change in plan.get("resource_changes", []):
            actions = change["change"]["actions"]
            if change.get("mode") != "managed" or not ({"create", "update"} & set(actions)):
                continue
            self._by_type.setdefault(change["type"], []).append(
                _Planned(
                    module=change.get("module_address", ""),
                    key=str(change.get("index", "")),
                    values=change["change"]["after"] or {},
                    unknown=change["change"].get("after_unknown") or {},
                )
            )

    def of(self, type_name: str, module: str | None = None) -> list[_Planned]:
        return [p for p in self._by_type.get(type_name, []) if module is None or p.module == module]

    def keyed(self, type_name: str, module: str) -> dict[str, dict[str, Any]]:
        return {p.key: p.values for p in self.of(type_name, module)}


def load_gateway(example: Path, var_file: Path | None = None) -> Gateway:
    resources = _Resources(plan_json(example, var_file))
    gateway = Gateway(example=example.name)
    links = {p.module: p.values["input"] for p in resources.of("terraform_data")}

    for planned in resources.of("aws_lambda_function"):
        values = planned.values
        env = (values.get("environment") or [{}])[0].get("variables") or {}
        unknown = (planned.unknown.get("environment") or [{}])[0].get("variables") or {}
        gateway.functions[values["function_name"]] = Function(
            name=values["function_name"],
            handler=values["handler"],
            timeout=int(values.get("timeout") or 3),
            memory_size=int(values.get("memory_size") or 128),
            environment={k: str(v) for k, v in env.items() if v is not None},
            unknown_environment=tuple(sorted(k for k, v in unknown.items() if v is True)),
        )

    apis = resources.of("aws_api_gateway_rest_api")
    if len(apis) > 1:
        raise PlanError(f"the example plans {len(apis)} REST APIs; local mode serves one")
    if apis:
        gateway.api_name = apis[0].values["name"]
        _load_api(gateway, resources, apis[0].module, links.get(apis[0].module, {}))

    # A bucket's versioning refers to it by ID: modules/data-bucket keeps one bucket per module.
    versioning = {p.module: p.values for p in resources.of("aws_s3_bucket_versioning")}
    for planned in resources.of("aws_s3_bucket"):
        name = planned.values.get("bucket")
        if not isinstance(name, str):
            raise PlanError("a planned bucket has no name: local mode needs names known at plan time")
        config = ((versioning.get(planned.module) or {}).get("versioning_configuration") or [{}])[0]
        gateway.buckets[name] = Bucket(name, config.get("status") == "Enabled")
    for planned in resources.of("aws_s3_bucket_notification"):
        bucket = planned.values["bucket"]
        if planned.values.get("eventbridge"):
            raise PlanError(
                f"bucket {bucket} sends its events to EventBridge, which local mode does not serve"
            )
        functions = links.get(planned.module, {}).get("notification_functions", {})
        gateway.buckets.setdefault(bucket, Bucket(bucket, False))
        for rule in planned.values.get("lambda_function") or []:
            if rule["id"] not in functions:
                raise PlanError(f"notification {rule['id']} of bucket {bucket} names no planned function")
            gateway.triggers.append(
                Trigger(
                    id=rule["id"],
                    bucket=bucket,
                    prefix=rule.get("filter_prefix") or "",
                    suffix=rule.get("filter_suffix") or "",
                    function_name=functions[rule["id"]],
                )
            )
    gateway.secrets = sorted(p.values["name"] for p in resources.of("aws_secretsmanager_secret"))
    return gateway


def _sagemaker_endpoint(route: str, integration: Mapping[str, Any]) -> str | None:
    if integration["type"] == "AWS_PROXY":
        return None
    found = re.search(r":runtime\.sagemaker:path/endpoints/([^/]+)/invocations$", str(integration.get("uri")))
    if integration["type"] != "AWS" or not found:
        raise PlanError(
            f"route {route}: integration {integration['type']} {integration.get('uri')} is not served"
        )
    return found[1]


def _load_api(gateway: Gateway, resources: _Resources, module: str, links: Mapping[str, Any]) -> None:
    method_paths: dict[str, str] = links["method_paths"]
    method_validators: dict[str, str | None] = links["method_validators"]
    validators = resources.keyed("aws_api_gateway_request_validator", module)
    models = {v["name"]: v for v in resources.keyed("aws_api_gateway_model", module).values()}
    integrations = resources.keyed("aws_api_gateway_integration", module)
    permissions = {
        key.split("/", 1)[0]: values
        for key, values in resources.keyed("aws_lambda_permission", module).items()
    }
    responses: dict[str, dict[str, IntegrationResponse]] = {}
    for key, values in resources.keyed("aws_api_gateway_integration_response", module).items():
        route, _, entry = key.partition("/")
        if route not in method_paths:
            continue
        responses.setdefault(route, {})[entry] = IntegrationResponse(
            selection_pattern=values.get("selection_pattern"),
            status_code=int(values["status_code"]),
            template=(values.get("response_templates") or {}).get("application/json"),
            parameters=dict(values.get("response_parameters") or {}),
        )
    for key, method in resources.keyed("aws_api_gateway_method", module).items():
        if key not in method_paths:
            continue  # OPTIONS preflight mocks are keyed by path, not by route
        integration = integrations[key]
        validator = validators.get(method_validators.get(key) or "", {})
        schemas = [
            json.loads(models[name]["schema"]) for name in (method.get("request_models") or {}).values()
        ]
        gateway.routes.append(
            Route(
                key=key,
                path=method_paths[key],
                method=method["http_method"],
                api_key_required=bool(method.get("api_key_required")),
                authorization=method.get("authorization") or "NONE",
                request_parameters={k: bool(v) for k, v in (method.get("request_parameters") or {}).items()},
                validate_parameters=bool(validator.get("validate_request_parameters")),
                validate_body=bool(validator.get("validate_request_body")),
                body_schema=schemas[0] if schemas else None,
                integration_type=integration["type"],
                function_name=(permissions.get(key) or {}).get("function_name"),
                endpoint_name=_sagemaker_endpoint(key, integration),
                integration_parameters={
                    k: str(v) for k, v in (integration.get("request_parameters") or {}).items()
                },
                request_templates=dict(integration.get("request_templates") or {}),
                passthrough_behavior=integration.get("passthrough_behavior"),
                timeout_seconds=int(integration.get("timeout_milliseconds") or 29000) / 1000,
                responses=responses.get(key, {}),
            )
        )

    settings = resources.keyed("aws_api_gateway_method_settings", module).values()
    for stage in resources.keyed("aws_api_gateway_stage", module).values():
        name = stage["stage_name"]
        throttle = None
        method_throttles: dict[tuple[str, str], Throttle] = {}
        for setting in settings:
            if setting["stage_name"] != name:
                continue
            found = _throttle(
                (setting.get("settings") or [{}])[0], "throttling_rate_limit", "throttling_burst_limit"
            )
            if setting["method_path"] == "*/*":
                throttle = found
            elif found is not None:
                # "~1predict~1{model}/POST": the resource path with each "/" escaped as "~1".
                path, _, verb = setting["method_path"].rpartition("/")
                method_throttles[(path.replace("~1", "/").strip("/"), verb)] = found
        gateway.stages[name] = Stage(name, dict(stage.get("variables") or {}), throttle, method_throttles)

    for key, plan in resources.keyed("aws_api_gateway_usage_plan", module).items():
        per_method: dict[tuple[str, str], Throttle] = {}
        for stage in plan.get("api_stages") or []:
            for throttle in stage.get("throttle") or []:
                path, _, verb = throttle["path"].strip("/").rpartition("/")
                per_method[(path, verb)] = Throttle(
                    float(throttle["rate_limit"]), int(throttle["burst_limit"])
                )
        quota = (plan.get("quota_settings") or [None])[0]
        gateway.usage_plans[key] = UsagePlan(
            name=plan["name"],
            stages=tuple(s["stage"] for s in plan.get("api_stages") or []),
            throttle=_throttle((plan.get("throttle_settings") or [None])[0], "rate_limit", "burst_limit"),
            quota=Quota(int(quota["limit"]), quota["period"], int(quota.get("offset") or 0))
            if quota
            else None,
            method_throttles=per_method,
        )
    key_plans: dict[str, str] = links["key_usage_plans"]
    for key, values in resources.keyed("aws_api_gateway_api_key", module).items():
        supplied = values.get("value")
        gateway.api_keys[key] = ApiKey(
            name=values["name"],
            value=supplied if isinstance(supplied, str) else local_key_value(gateway.example, key),
            enabled=bool(values.get("enabled", True)),
            usage_plan=key_plans[key],
            generated=not isinstance(supplied, str),
        )
    for values in resources.keyed("aws_api_gateway_gateway_response", module).values():
        status = values.get("status_code")
        gateway.gateway_responses[values["response_type"]] = GatewayResponse(
            status_code=int(status) if status else None,
            template=(values.get("response_templates") or {}).get("application/json", ""),
            headers={
                name.removeprefix("gatewayresponse.header."): _quoted(value)
                for name, value in (values.get("response_parameters") or {}).items()
            },
        )
