"""The banner: what the served plan offers, and a command for each part that fits its model.

Everything comes from the plan local mode serves: the stages and their URLs, each API key with its
usage plan, each route with its method and a sample request that fits the route's request model
(the OpenAPI document's parameters and body schema) and the model behind it (the bundled model's
``Samples``), the pipelines' buckets and prefixes with a sample file written for each, the
receiver, and ``make local-invoke`` for functions no API or bucket calls. A route no sample fits
says why in one line instead of a command.

The commands go into the state file as well, with the status each one is expected to give, so a
test can run them all; so do the routes' sample requests (``samples``), which ``mlgw smoke
--local`` sends (their format is documented in client/mlgw_client/local.py).
"""

from __future__ import annotations

import csv
import io
import json
import shlex
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mlgw_local.endpoints import Choice
from mlgw_local.models import Model, Samples
from mlgw_local.openapi import Operation
from mlgw_local.plan import ApiKey, Function, Gateway, Trigger

DEPLOYMENT_ID = "5f3c9a1b2c3d4e5f6a7b8c9d"
CSV = "text/csv"
JSON = "application/json"


@dataclass(frozen=True)
class Command:
    """One banner command: ``kind`` "http" expects the HTTP status ``expect`` (curl), "exit" the
    exit code ``expect`` (make)."""

    section: str
    label: str
    command: str
    kind: str
    expect: int


@dataclass(frozen=True)
class Skipped:
    section: str
    label: str
    reason: str


@dataclass(frozen=True)
class RouteSample:
    """The sample request of one route: ``route`` as the state file's routes name it ("METHOD
    /path"), the ``path`` below the stage URL with its parameters filled in, and the HTTP
    ``status`` it is expected to give."""

    route: str
    method: str
    path: str
    query: dict[str, str]
    content_type: str | None
    body: str | None
    status: int


class _NoSample(Exception):
    """No sample request fits this part; the message says why."""


def _quote(text: str) -> str:
    if "\n" in text:
        return "$'" + text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n") + "'"
    return shlex.quote(text)


def curl(method: str, url: str, headers: dict[str, str], body: str | None = None) -> str:
    parts = ["curl -sS"]
    if method != "GET" or body is not None:
        parts.append(f"-X {method}")
    parts.append(shlex.quote(url))
    parts += [f"-H {shlex.quote(f'{name}: {value}')}" for name, value in headers.items()]
    if body is not None:
        parts.append(f"--data-binary {_quote(body)}")
    return " ".join(parts)


@dataclass
class Banner:
    gateway: Gateway
    urls: dict[str, str]
    choices: dict[str, Choice]
    containers: dict[str, Model]
    samples_dir: Path
    commands: list[Command | Skipped]
    route_samples: list[RouteSample] = field(default_factory=list)

    # -- what stands behind a route
    def model(self, endpoint: str | None) -> Model:
        choice = self.choices.get(endpoint or "")
        if choice is None:
            raise _NoSample(f"endpoint {endpoint} is not served")
        if choice.is_url:
            raise _NoSample(f"endpoint {endpoint} is served by {choice.container}, whose requests are yours")
        return self.containers[choice.container]

    def stage(self) -> str:
        stages = self.gateway.stages
        return "prod" if "prod" in stages else next(iter(stages), "")

    def key_for(self, stage: str) -> ApiKey | None:
        for key in self.gateway.api_keys.values():
            plan = self.gateway.usage_plans.get(key.usage_plan)
            if key.enabled and plan is not None and stage in plan.stages:
                return key
        return None


def _route_of(function: Function, wants_model: bool) -> tuple[str, dict[str, Any]]:
    """The routing-table entry a sample for the function uses: "default", or for /predict/{model}
    the first other route when there is one."""
    settings = function.settings
    routes = settings.get("models") or {}
    name = "default"
    if wants_model:
        name = next((n for n in sorted(routes) if n != "default"), "default")
    route = dict(routes.get(name) or {})
    route.setdefault("endpoint_name", None)
    route["endpoint_name"] = route["endpoint_name"] or settings.get("default_endpoint_name")
    return name, route


def _proxy_body(route: dict[str, Any], samples: Samples) -> tuple[str, str]:
    """(content type, body) of a POST to the prediction function for a route."""
    content_type = route.get("content_type") or JSON
    if content_type not in samples.content_types:
        raise _NoSample(f"the route sends {content_type}, which the bundled model does not read")
    names = route.get("feature_names")
    if names:
        if len(names) != len(samples.features):
            raise _NoSample(
                f"the route names {len(names)} features, the bundled model reads {len(samples.features)}"
            )
        return JSON, json.dumps(dict(zip(names, samples.rows[0], strict=True)))
    if content_type == CSV:
        return CSV, samples.csv()
    return JSON, json.dumps(samples.json_body)


def _check_body(operation: Operation, content_type: str, body: str) -> None:
    validator = operation.body_schemas.get(content_type) or operation.body_schemas.get("$default")
    if validator is None or content_type != JSON:
        return
    error = next(iter(validator.iter_errors(json.loads(body))), None)
    if error is not None:
        raise _NoSample(f"the bundled sample does not fit the route's request model: {error.message}")


@dataclass
class _Sample:
    label: str
    samples: Samples | None = None
    values: dict[str, str] | None = None
    content_type: str | None = None
    body: str | None = None
    expect: int = 200


def _method(operation: Operation) -> str:
    """The method a sample uses: an ANY route is shown with GET."""
    return "GET" if operation.method == "ANY" else operation.method


def _integration_sample(banner: Banner, operation: Operation) -> _Sample:
    """What the route's integration reaches, and a body that fits it."""
    integration = operation.integration
    writes = _method(operation) in ("POST", "PUT", "PATCH")
    if integration.type == "AWS_PROXY":
        function = banner.gateway.functions[str(integration.function_name)]
        route_name, route = _route_of(function, any(p.name == "model" for p in operation.parameters))
        if route.get("backend", "sagemaker") != "sagemaker":
            raise _NoSample(
                f"route {route_name} calls a {route['backend']} backend, which local mode does not bundle"
            )
        found = _Sample(
            f"function {function.name} (route {route_name}, endpoint {route['endpoint_name']})",
            banner.model(route["endpoint_name"]).samples,
            {"model": route_name},
        )
        if writes and found.samples is not None:
            found.content_type, found.body = _proxy_body(route, found.samples)
        return found
    if integration.type == "AWS":
        samples = banner.model(integration.endpoint_name).samples
        found = _Sample(f"SageMaker endpoint {integration.endpoint_name}", samples)
        templates = [t.lower() for t in integration.request_templates] or list(samples.content_types)
        if writes:
            found.content_type = next((t for t in templates if t in samples.content_types), None)
            if found.content_type is None:
                raise _NoSample(
                    f"the route takes {', '.join(templates)}, which the bundled model does not read"
                )
            found.body = samples.csv() if found.content_type == CSV else json.dumps(samples.json_body)
        return found
    statuses = [r.status_code for r in integration.responses.values()]
    return _Sample("mock integration", expect=200 if 200 in statuses or not statuses else statuses[0])


def _operation_command(banner: Banner, operation: Operation, stage: str, key: ApiKey | None) -> Command:
    """The route's curl; its request is kept in ``banner.route_samples`` as well."""
    found = _integration_sample(banner, operation)
    parameters = {**(found.samples.parameters if found.samples else {}), **(found.values or {})}
    path = operation.path
    query: list[tuple[str, str]] = []
    for parameter in operation.parameters:
        if parameter.location == "header" or (parameter.location == "querystring" and not parameter.required):
            continue
        if parameter.name not in parameters:
            raise _NoSample(f"no sample value for its {parameter.location} parameter {parameter.name}")
        if parameter.location == "path":
            path = path.replace(f"{{{parameter.name}}}", urllib.parse.quote(parameters[parameter.name]))
        else:
            query.append((parameter.name, parameters[parameter.name]))
    headers: dict[str, str] = {}
    if operation.api_key_required:
        if key is None:
            raise _NoSample(f"no API key's usage plan covers stage {stage}")
        headers["x-api-key"] = key.value
    if found.content_type is not None and found.body is not None:
        _check_body(operation, found.content_type, found.body)
        headers["Content-Type"] = found.content_type
    url = f"{banner.urls['api']}/{stage}{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query, safe=",")
    route = f"{operation.method} {operation.path}"
    content_type = headers.get("Content-Type")
    sample = RouteSample(route, _method(operation), path, dict(query), content_type, found.body, found.expect)
    banner.route_samples.append(sample)
    label = f"{route} -> {found.label}"
    return Command("routes", label, curl(_method(operation), url, headers, found.body), "http", found.expect)


def _trigger(gateway: Gateway, setting: str) -> Trigger | None:
    """The first trigger of a pipeline (its function's settings hold ``setting``), a .csv one
    when there is one."""
    found = [t for t in gateway.triggers if setting in gateway.functions[t.function_name].settings]
    return next((t for t in found if t.suffix.lower() == ".csv"), found[0] if found else None)


def _batch_file(banner: Banner, trigger: Trigger) -> Path:
    settings = banner.gateway.functions[trigger.function_name].settings
    samples = banner.model((settings.get("route") or {}).get("endpoint_name")).samples
    columns = list(settings.get("feature_columns") or samples.features)
    if len(columns) != len(samples.features):
        raise _NoSample(
            f"the batch settings name {len(columns)} features, the model reads {len(samples.features)}"
        )
    id_column = settings.get("id_column")
    ids = [f"r-{n:03d}" for n in range(1, len(samples.rows) + 1)]
    suffix = trigger.suffix or ".csv"
    out = io.StringIO()
    if suffix.lower() in (".jsonl", ".ndjson"):
        for row_id, row in zip(ids, samples.rows, strict=True):
            record = dict(zip(columns, row, strict=True))
            out.write(json.dumps({id_column: row_id, **record} if id_column else record) + "\n")
    else:
        writer = csv.writer(out, lineterminator="\n")
        if settings.get("csv_header", True):
            writer.writerow([id_column, *columns] if id_column else columns)
        for row_id, row in zip(ids, samples.rows, strict=True):
            writer.writerow([row_id, *row] if id_column else list(row))
    path = banner.samples_dir / f"batch{suffix}"
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def _actuals_file(banner: Banner, trigger: Trigger) -> Path:
    settings = banner.gateway.functions[trigger.function_name].settings
    endpoint = settings.get("ground_truth_endpoint")
    values = banner.model(endpoint).samples.actual_values if endpoint else ("0", "1")
    lines = ["associationId,actualValue"] + [
        f"r-{n:03d},{values[(n - 1) % len(values)]}" for n in range(1, 6)
    ]
    suffix = trigger.suffix or ".csv"
    path = banner.samples_dir / f"actuals{suffix}"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def predict_event(content_type: str, body: str) -> dict[str, Any]:
    """A REST API proxy event of POST /predict, as API Gateway would send the prediction function."""
    return {
        "resource": "/predict",
        "path": "/predict",
        "httpMethod": "POST",
        "headers": {"Content-Type": content_type},
        "multiValueHeaders": {"Content-Type": [content_type]},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {"resourcePath": "/predict", "httpMethod": "POST", "stage": "local"},
        "body": body,
        "isBase64Encoded": False,
    }


def _invoke_file(banner: Banner, function: Function) -> Path:
    if not function.handler.endswith("handlers.predict.lambda_handler"):
        raise _NoSample(f"local mode has no sample event for handler {function.handler}")
    _, route = _route_of(function, wants_model=False)
    content_type, body = _proxy_body(route, banner.model(route["endpoint_name"]).samples)
    path = banner.samples_dir / f"{function.name}-event.json"
    path.write_text(json.dumps(predict_event(content_type, body), indent=2) + "\n", encoding="utf-8")
    return path


def _attempt(banner: Banner, section: str, label: str, make: Callable[[], Command]) -> None:
    try:
        banner.commands.append(make())
    except _NoSample as reason:
        banner.commands.append(Skipped(section, label, str(reason)))


def build(banner: Banner) -> list[Command | Skipped]:
    """Every command of the banner, in the order it prints them; sample files are written."""
    gateway = banner.gateway
    banner.samples_dir.mkdir(parents=True, exist_ok=True)
    if gateway.api is not None:
        stage = banner.stage()
        key = banner.key_for(stage)
        for operation in gateway.api.operations:
            _attempt(
                banner,
                "routes",
                f"{operation.method} {operation.path}",
                lambda op=operation: _operation_command(banner, op, stage, key),
            )
        keyed = next(
            (c for c in banner.commands if isinstance(c, Command) and "x-api-key" in c.command), None
        )
        if keyed is not None and key is not None:
            refused = keyed.command.replace(f" -H {shlex.quote(f'x-api-key: {key.value}')}", "")
            response = gateway.api.gateway_responses.get("INVALID_API_KEY")
            status = response.status_code if response and response.status_code else 403
            banner.commands.append(
                Command(
                    "routes",
                    f"{keyed.label.split(' -> ')[0]} without a key: refused",
                    refused,
                    "http",
                    status,
                )
            )
    batch = _trigger(gateway, "output_prefix")
    if batch is not None:
        _attempt(
            banner,
            "batch",
            "batch file",
            lambda: Command(
                "batch",
                f"a batch file for s3://{batch.bucket}/{batch.prefix}",
                f"make local-batch FILE={_batch_file(banner, batch)}",
                "exit",
                0,
            ),
        )
    actuals = _trigger(gateway, "processed_prefix")
    if actuals is not None:
        _attempt(
            banner,
            "actuals",
            "actuals file",
            lambda: Command(
                "actuals",
                f"actuals for s3://{actuals.bucket}/{actuals.prefix}{DEPLOYMENT_ID}/",
                f"make local-actuals FILE={_actuals_file(banner, actuals)}",
                "exit",
                0,
            ),
        )
        banner.commands.append(
            Command(
                "actuals",
                "what the receiver got",
                curl("GET", f"{banner.urls['mlops']}/received", {}),
                "http",
                200,
            )
        )
    called = {op.integration.function_name for op in (gateway.api.operations if gateway.api else [])}
    called |= {t.function_name for t in gateway.triggers}
    for function in gateway.functions.values():
        if function.name in called:
            continue
        _attempt(
            banner,
            "invoke",
            function.name,
            lambda f=function: Command(
                "invoke",
                f"function {f.name} (no API or bucket calls it)",
                f"make local-invoke FUNCTION={f.name} EVENT={_invoke_file(banner, f)}",
                "exit",
                0,
            ),
        )
    return banner.commands


def state(banner: Banner, example: Path) -> dict[str, Any]:
    """The state file: URLs, keys and pipelines for the helpers, and every banner command."""
    gateway = banner.gateway
    stage = banner.stage()
    batch = _trigger(gateway, "output_prefix")
    actuals = _trigger(gateway, "processed_prefix")

    def settings(trigger: Trigger) -> dict[str, Any]:
        return gateway.functions[trigger.function_name].settings

    return {
        "example": str(example),
        "urls": banner.urls,
        "invoke_url": f"{banner.urls['api']}/{stage}",
        "stages": {name: f"{banner.urls['api']}/{name}" for name in gateway.stages},
        "api_keys": {name: key.value for name, key in gateway.api_keys.items()},
        "keys": [
            {
                "id": name,
                "name": key.name,
                "value": key.value,
                "usage_plan": gateway.usage_plans[key.usage_plan].name
                if key.usage_plan in gateway.usage_plans
                else key.usage_plan,
                "stages": list(gateway.usage_plans[key.usage_plan].stages)
                if key.usage_plan in gateway.usage_plans
                else [],
            }
            for name, key in gateway.api_keys.items()
        ],
        "routes": [f"{op.method} {op.path}" for op in gateway.api.operations] if gateway.api else [],
        "models": {
            name: {"served_by": choice.container, "because": choice.reason}
            for name, choice in banner.choices.items()
        },
        "batch": batch
        and {
            "bucket": batch.bucket,
            "input_prefix": batch.prefix,
            "suffix": batch.suffix,
            "output_prefix": settings(batch)["output_prefix"],
            "error_prefix": settings(batch)["error_prefix"],
        },
        "actuals": actuals
        and {
            "bucket": actuals.bucket,
            "prefix": actuals.prefix,
            "suffix": actuals.suffix,
            **{
                name: settings(actuals)[name]
                for name in ("processed_prefix", "failed_prefix", "state_prefix")
                if name in settings(actuals)
            },
        },
        "samples": [asdict(sample) for sample in banner.route_samples],
        "sample_files": str(banner.samples_dir),
        "commands": [{"type": type(c).__name__.lower(), **asdict(c)} for c in banner.commands],
    }


_SECTIONS = {
    "routes": "Routes (stage {stage}{key}):",
    "batch": "Batch prediction: {batch}",
    "actuals": "Actuals reporting: {actuals}",
    "invoke": "Functions without an API (Lambda's Invoke API at {lambda_url}):",
}


def text(banner: Banner, state_doc: dict[str, Any], example: Path, seconds: float) -> str:
    gateway = banner.gateway
    urls = state_doc["urls"]
    stage = banner.stage()
    key = banner.key_for(stage) if gateway.api else None
    lines = ["", f"mlgw local mode: {example} ready in {seconds:.1f} s (Ctrl-C stops)", ""]
    if gateway.api is None:
        lines.append("  REST API         none: the example plans no API")
    for name, url in state_doc["stages"].items():
        lines.append(f"  stage {name:<10} {url}")
    for item in state_doc["keys"]:
        lines.append(
            f"  API key          {item['name']} (usage plan {item['usage_plan']}: "
            f"{', '.join(item['stages']) or 'no stage'}) {item['value']}"
        )
    for endpoint, choice in banner.choices.items():
        served = choice.container if choice.is_url else f"bundled {choice.container} model"
        where = choice.container if choice.is_url else urls.get(f"model:{choice.container}", "")
        lines.append(f"  endpoint         {endpoint}: {served} ({choice.reason}) {where}".rstrip())
    lines.append(f"  SageMaker front  {urls['runtime']}")
    lines.append(f"  S3 (moto)        {urls['s3']}   buckets: {', '.join(gateway.buckets) or 'none'}")
    lines.append(f"  actuals receiver {urls['mlops']}/received")
    lines.append(f"  Lambda Invoke    {urls['lambda']}   functions: {', '.join(gateway.functions) or 'none'}")
    if state_doc.get("metrics_file"):
        evaluated = len(state_doc.get("alarms", {}).get("evaluated", []))
        lines.append(
            f"  metrics          {state_doc['metrics_file']}   "
            f"alarms evaluated here: {evaluated} (ALARM and OK print below)"
        )
    batch, actuals = state_doc["batch"], state_doc["actuals"]
    context = {
        "stage": stage,
        "key": f", key {key.name}" if key else "",
        "batch": batch
        and (
            f"s3://{batch['bucket']}/{batch['input_prefix']}*{batch['suffix']} -> "
            f"{batch['output_prefix']}, rejected rows and the report under {batch['error_prefix']}"
        ),
        "actuals": actuals
        and f"s3://{actuals['bucket']}/{actuals['prefix']}<deployment id>/*{actuals['suffix']}",
        "lambda_url": urls["lambda"],
    }
    section = None
    for item in banner.commands:
        if item.section != section:
            section = item.section
            lines += ["", _SECTIONS[section].format(**context)]
        if isinstance(item, Skipped):
            lines.append(f"  {item.label}: no sample, {item.reason}")
            continue
        expect = f"HTTP {item.expect}" if item.kind == "http" else f"exit {item.expect}"
        lines += [f"  # {item.label} (expect {expect})", f"  {item.command}"]
    lines += [
        "",
        f"Sample files: {banner.samples_dir}. S3 takes any client with --endpoint-url {urls['s3']} and",
        "AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION=us-east-1.",
        "Access log: one line per request below (time, stage, method, path, key, status, latency, target).",
        "",
    ]
    return "\n".join(lines)
