"""The gateway an example describes, read from its offline Terraform plan.

Local mode plans a scratch copy of the example in which the example's root module (never a
module it calls) gains one output per module call, ``mlgw_local_<call> = module.<call>``, and
reads from that plan only what a user of the modules can read too:

- the REST API: the OpenAPI document (output ``openapi`` of ``modules/rest-api``, the API's
  body) and the module's ``stages``, ``usage_plans``, ``api_keys`` and ``api_key_values``
  outputs, found wherever a module call carries them (this project's root passes them on as its
  ``rest_api`` and ``api_key_values`` outputs);
- the S3 triggers: the ``trigger_rules`` output of ``modules/s3-triggers``;
- the Lambda functions (handler, environment), buckets (versioning), secrets, the REST API's
  name (its metrics' ApiName) and the CloudWatch alarms: their planned resources.

Output values are read from the plan's ``output_changes``, where values only apply would know
(IDs, ARNs, generated key values) are left out.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tftest

from mlgw_local.alarms import Alarm, alarms_from_plan
from mlgw_local.openapi import Api, DocumentError, parse
from tfharness import Workspace, toolchain
from tfharness.plan_cache import PlanCache
from tfharness.workspace import example_var_file

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLCHAIN_HOME = REPO_ROOT / ".tf-offline"
OUTPUTS_FILE = "mlgw_local_outputs.tf"
# Plans of unchanged inputs are kept here (``plan_json``); "off" turns the cache off.
PLAN_CACHE_ENV = "MLGW_LOCAL_PLAN_CACHE"
PLAN_CACHE_ENTRIES = 32
OUTPUT_PREFIX = "mlgw_local_"
_MODULE_CALL = re.compile(r'^module\s+"([A-Za-z0-9_-]+)"\s*\{', re.MULTILINE)


class PlanError(RuntimeError):
    """The example does not plan, or plans something local mode cannot serve."""


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
class Stage:
    name: str
    variables: dict[str, str]
    throttle: Throttle | None
    # Keyed by (resource path as the document writes it, METHOD).
    method_throttles: dict[tuple[str, str], Throttle]


@dataclass(frozen=True)
class UsagePlan:
    name: str
    stages: tuple[str, ...]
    throttle: Throttle | None
    quota: Quota | None
    # Keyed by (stage, resource path, METHOD).
    method_throttles: dict[tuple[str, str, str], Throttle]


@dataclass(frozen=True)
class ApiKey:
    name: str
    value: str
    enabled: bool
    usage_plan: str
    generated: bool


@dataclass(frozen=True)
class Function:
    name: str
    handler: str
    timeout: int
    memory_size: int
    environment: dict[str, str]
    unknown_environment: tuple[str, ...]

    @property
    def settings(self) -> dict[str, Any]:
        """The function's settings document (MLGW_SETTINGS), which the module renders for each."""
        return dict(json.loads(self.environment.get("MLGW_SETTINGS") or "{}"))


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
    api: Api | None = None
    stages: dict[str, Stage] = field(default_factory=dict)
    usage_plans: dict[str, UsagePlan] = field(default_factory=dict)
    api_keys: dict[str, ApiKey] = field(default_factory=dict)
    functions: dict[str, Function] = field(default_factory=dict)
    triggers: list[Trigger] = field(default_factory=list)
    buckets: dict[str, Bucket] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    api_name: str | None = None
    alarms: list[Alarm] = field(default_factory=list)
    # The container images of the endpoints the plan creates, by endpoint name.
    endpoint_images: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Each planned endpoint's production variant names, which TargetVariant must name.
    endpoint_variants: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def endpoint_names(self) -> set[str]:
        """Every SageMaker endpoint the API's integrations and the functions' routing tables name."""
        operations = self.api.operations if self.api else []
        names = {op.integration.endpoint_name for op in operations if op.integration.endpoint_name}
        for function in self.functions.values():
            settings = function.settings
            if settings.get("default_endpoint_name"):
                names.add(settings["default_endpoint_name"])
            routes = list((settings.get("models") or {}).values())
            if settings.get("route"):
                routes.append(settings["route"])
            names.update(route["endpoint_name"] for route in routes if route.get("endpoint_name"))
        return names


def local_key_value(example: str, name: str) -> str:
    """A deterministic stand-in for a key API Gateway would generate (40 characters, as AWS's)."""
    return hashlib.sha256(f"mlgw-local/{example}/{name}".encode()).hexdigest()[:40]


def module_calls(root: Path) -> list[str]:
    """The names of the module calls in a root module's files."""
    return sorted(
        {name for path in sorted(root.glob("*.tf")) for name in _MODULE_CALL.findall(path.read_text("utf-8"))}
    )


def outputs_text(calls: list[str]) -> str:
    """One output per module call, the whole call object (sensitive: it holds the key values)."""
    return "".join(
        f'output "{OUTPUT_PREFIX}{call}" {{\n  value     = module.{call}\n  sensitive = true\n}}\n\n'
        for call in calls
    )


def stage_example(example: Path, scratch: Path) -> tuple[Workspace, str]:
    """Stage the repository, the example under examples/ if it lives elsewhere, and add the
    module-call outputs to the staged example's root."""
    workspace = Workspace(toolchain(TOOLCHAIN_HOME), scratch, plan_cache())
    example = example.resolve()
    try:
        rel = example.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        rel = f"examples/{example.name}"
        shutil.rmtree(workspace.path(rel), ignore_errors=True)
        shutil.copytree(
            example, workspace.path(rel), ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*")
        )
    root = workspace.path(rel)
    (root / OUTPUTS_FILE).write_text(outputs_text(module_calls(root)).rstrip() + "\n", encoding="utf-8")
    return workspace, rel


def plan_json(example: Path, var_file: Path | None = None) -> dict[str, Any]:
    """``terraform show -json`` of the example's offline plan (with the module-call outputs).

    A plan of exactly the inputs of an earlier one (``tfharness.plan_cache``) is read back from
    the plan cache instead of planned again; a failed plan is never kept."""
    with tempfile.TemporaryDirectory(prefix="mlgw-local-") as scratch:
        workspace, rel = stage_example(example, Path(scratch))
        var_file = var_file or example_var_file(example.resolve())
        try:
            result = workspace.plan(rel, var_file=str(var_file.resolve()) if var_file else None)
        except AssertionError as exc:
            raise PlanError(_diagnostics(exc)) from exc
        finally:
            # each plan (a .tf change re-plans) stops the stand-in provider it started
            workspace.close()
        return dict(result.raw._raw)


def plan_cache_dir() -> Path | None:
    """Where plans are kept: ``MLGW_LOCAL_PLAN_CACHE``, else ``.tf-offline/local-plans``."""
    value = os.environ.get(PLAN_CACHE_ENV, "").strip()
    if value.lower() == "off":
        return None
    return Path(value) if value else TOOLCHAIN_HOME / "local-plans"


def plan_cache() -> PlanCache | None:
    """Local mode's plan cache: its newest ``PLAN_CACHE_ENTRIES`` plans."""
    directory = plan_cache_dir()
    return None if directory is None else PlanCache(directory, PLAN_CACHE_ENTRIES)


def _diagnostics(exc: AssertionError) -> str:
    """Terraform's diagnostics of a failed plan, once. A failed ``terraform plan`` also prints the
    partial plan on stdout, and the harness's message nests stdout and stderr; Terraform writes
    its diagnostics to stderr, which tftest keeps apart as the error's ``cmd_error``."""
    cause = exc.__cause__
    if isinstance(cause, tftest.TerraformTestError) and isinstance(cause.cmd_error, str) and cause.cmd_error:
        return "the example does not plan:\n" + cause.cmd_error.strip()
    return str(exc)


def _throttle(rate: Any, burst: Any) -> Throttle | None:
    """A throttle, or None where it is not set: hashicorp/aws plans -1 for a method setting's
    unset throttling_rate_limit and throttling_burst_limit
    (https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/apigateway/method_settings.go)."""
    if rate is None or float(rate) < 0:
        return None
    return Throttle(rate=float(rate), burst=max(0, int(burst or 0)))


def _method_key(method_path: str, escaped: bool) -> tuple[str, str]:
    """(resource path, METHOD) of a method path: a method setting's "~1predict~1{model}/POST"
    (each "/" of the resource path escaped as "~1") or a usage plan's "/predict/{model}/POST"."""
    path, _, method = method_path.rpartition("/")
    if escaped:
        path = path.replace("~1", "/")
    return "/" + path.strip("/"), method.upper()


@dataclass
class _Found:
    apis: list[tuple[dict[str, Any], dict[str, Any]]] = field(default_factory=list)
    trigger_rules: list[dict[str, Any]] = field(default_factory=list)


def _walk(value: Any, found: _Found, key_values: dict[str, Any]) -> None:
    """Find the REST API module's outputs (openapi beside stages) and the S3 triggers module's
    (trigger_rules) in a module call's outputs, however deep the calls nest them."""
    if isinstance(value, list):
        for item in value:
            _walk(item, found, key_values)
        return
    if not isinstance(value, dict):
        return
    if isinstance(value.get("api_key_values"), dict):
        key_values = value["api_key_values"]
    if isinstance(value.get("openapi"), str) and isinstance(value.get("stages"), dict):
        found.apis.append((value, key_values))
        return
    if isinstance(value.get("trigger_rules"), dict):
        found.trigger_rules.append(value["trigger_rules"])
        return
    for item in value.values():
        _walk(item, found, key_values)


def module_outputs(plan: Mapping[str, Any]) -> Iterator[Any]:
    """The planned value of each module call (values only apply would know are left out)."""
    for name, change in (plan.get("output_changes") or {}).items():
        if name.startswith(OUTPUT_PREFIX):
            yield change.get("after")


@dataclass(frozen=True)
class _Planned:
    module: str
    values: dict[str, Any]
    unknown: dict[str, Any]


def _planned(plan: Mapping[str, Any], type_name: str) -> list[_Planned]:
    """Planned creates and updates of one resource type."""
    found = []
    for change in plan.get("resource_changes", []):
        actions = set(change["change"]["actions"])
        if change.get("mode") == "managed" and change["type"] == type_name and {"create", "update"} & actions:
            found.append(
                _Planned(
                    module=change.get("module_address", ""),
                    values=change["change"]["after"] or {},
                    unknown=change["change"].get("after_unknown") or {},
                )
            )
    return found


def load_gateway(example: Path, var_file: Path | None = None) -> Gateway:
    return gateway_from_plan(example.name, plan_json(example, var_file))


def gateway_from_plan(example: str, plan: Mapping[str, Any]) -> Gateway:
    gateway = Gateway(example=example)
    for planned in _planned(plan, "aws_lambda_function"):
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

    found = _Found()
    for value in module_outputs(plan):
        _walk(value, found, {})
    documents = {outputs["openapi"]: (outputs, keys) for outputs, keys in found.apis}
    if len(documents) > 1:
        raise PlanError(f"the example plans {len(documents)} REST APIs; local mode serves one")
    if documents:
        outputs, key_values = next(iter(documents.values()))
        _load_api(gateway, outputs, key_values)

    # A bucket's versioning refers to it by ID: modules/data-bucket keeps one bucket per module.
    versioning = {p.module: p.values for p in _planned(plan, "aws_s3_bucket_versioning")}
    for planned in _planned(plan, "aws_s3_bucket"):
        name = planned.values.get("bucket")
        if not isinstance(name, str):
            raise PlanError("a planned bucket has no name: local mode needs names known at plan time")
        config = ((versioning.get(planned.module) or {}).get("versioning_configuration") or [{}])[0]
        gateway.buckets[name] = Bucket(name, config.get("status") == "Enabled")
    for rules in found.trigger_rules:
        for rule_id, rule in sorted(rules.items()):
            _add_trigger(gateway, rule_id, rule)
    gateway.secrets = sorted(p.values["name"] for p in _planned(plan, "aws_secretsmanager_secret"))
    if gateway.api is not None:
        names = {p.values.get("name") for p in _planned(plan, "aws_api_gateway_rest_api")}
        gateway.api_name = next(iter(names)) if len(names) == 1 else None
    gateway.alarms = alarms_from_plan(plan)
    gateway.endpoint_images = _endpoint_images(plan)
    gateway.endpoint_variants = _endpoint_variants(plan)
    return gateway


def _endpoint_variants(plan: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Each planned endpoint's production variant names, through its configuration."""
    names = {
        str(config.values.get("name")): tuple(
            str(v["variant_name"])
            for v in config.values.get("production_variants") or []
            if isinstance(v.get("variant_name"), str)
        )
        for config in _planned(plan, "aws_sagemaker_endpoint_configuration")
    }
    return {
        str(endpoint.values.get("name")): names.get(str(endpoint.values.get("endpoint_config_name")), ())
        for endpoint in _planned(plan, "aws_sagemaker_endpoint")
    }


def _endpoint_images(plan: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Each planned endpoint's container images: endpoint -> its configuration's production
    variants -> their models' containers, joined by the names the plan knows."""
    images: dict[str, list[str]] = {}
    for model in _planned(plan, "aws_sagemaker_model"):
        containers = [*(model.values.get("primary_container") or []), *(model.values.get("container") or [])]
        images[str(model.values.get("name"))] = [c["image"] for c in containers if c.get("image")]
    variants = {
        str(config.values.get("name")): [
            str(v.get("model_name")) for v in config.values.get("production_variants") or []
        ]
        for config in _planned(plan, "aws_sagemaker_endpoint_configuration")
    }
    found = {}
    for endpoint in _planned(plan, "aws_sagemaker_endpoint"):
        models = variants.get(str(endpoint.values.get("endpoint_config_name")), [])
        found[str(endpoint.values.get("name"))] = tuple(i for m in models for i in images.get(m, []))
    return found


def _add_trigger(gateway: Gateway, rule_id: str, rule: Mapping[str, Any]) -> None:
    bucket = rule.get("bucket")
    function = rule.get("function_name")
    if not isinstance(bucket, str) or not isinstance(function, str):
        raise PlanError(f"trigger {rule_id}: its bucket and function names must be known at plan time")
    if rule.get("mode") != "notification":
        raise PlanError(
            f"trigger {rule_id} of bucket {bucket} is delivered through EventBridge, "
            "which local mode does not serve"
        )
    if function not in gateway.functions:
        raise PlanError(f"trigger {rule_id} of bucket {bucket} names no planned function ({function})")
    gateway.buckets.setdefault(bucket, Bucket(bucket, False))
    gateway.triggers.append(
        Trigger(
            id=rule_id,
            bucket=bucket,
            prefix=rule.get("filter_prefix") or "",
            suffix=rule.get("filter_suffix") or "",
            function_name=function,
        )
    )


def _load_api(gateway: Gateway, outputs: Mapping[str, Any], key_values: Mapping[str, Any]) -> None:
    try:
        gateway.api = parse(json.loads(outputs["openapi"]))
    except (ValueError, KeyError) as exc:
        reason = exc if isinstance(exc, DocumentError) else f"the openapi output is not a document: {exc!r}"
        raise PlanError(str(reason)) from exc
    for operation in gateway.api.operations:
        function = operation.integration.function_name
        if function is not None and function not in gateway.functions:
            raise PlanError(
                f"{operation.method} {operation.path} invokes function {function}, "
                "which the example does not plan"
            )

    for name, stage in (outputs.get("stages") or {}).items():
        settings = stage.get("method_settings") or {}
        every = settings.get("*/*") or {}
        method_throttles = {}
        for method_path, setting in settings.items():
            found = _throttle(setting.get("throttling_rate_limit"), setting.get("throttling_burst_limit"))
            if method_path != "*/*" and found is not None:
                method_throttles[_method_key(method_path, escaped=True)] = found
        gateway.stages[name] = Stage(
            name=stage.get("name") or name,
            variables={k: str(v) for k, v in (stage.get("variables") or {}).items()},
            throttle=_throttle(every.get("throttling_rate_limit"), every.get("throttling_burst_limit")),
            method_throttles=method_throttles,
        )

    for key, plan in (outputs.get("usage_plans") or {}).items():
        per_method = {}
        for api_stage in plan.get("api_stages") or []:
            for method_path, limits in (api_stage.get("throttle") or {}).items():
                found = _throttle(limits.get("rate_limit"), limits.get("burst_limit"))
                if found is not None:
                    per_method[(api_stage["stage"], *_method_key(method_path, escaped=False))] = found
        throttle = plan.get("throttle") or {}
        quota = plan.get("quota")
        gateway.usage_plans[key] = UsagePlan(
            name=plan.get("name") or key,
            stages=tuple(s["stage"] for s in plan.get("api_stages") or []),
            throttle=_throttle(throttle.get("rate_limit"), throttle.get("burst_limit")),
            quota=Quota(int(quota["limit"]), str(quota["period"]), int(quota.get("offset") or 0))
            if quota
            else None,
            method_throttles=per_method,
        )

    for key, api_key in (outputs.get("api_keys") or {}).items():
        supplied = key_values.get(key)
        gateway.api_keys[key] = ApiKey(
            name=api_key.get("name") or key,
            value=supplied if isinstance(supplied, str) else local_key_value(gateway.example, key),
            enabled=api_key.get("enabled") is not False,
            usage_plan=api_key["usage_plan"],
            generated=not isinstance(supplied, str),
        )
