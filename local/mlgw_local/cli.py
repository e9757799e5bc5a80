"""``python -m mlgw_local``: serve an example's gateway on localhost, with bundled models.

Commands:
  serve (default)   plan the example offline, start everything, print the banner, run until Ctrl-C
  batch FILE        upload FILE under the batch input prefix of a running local mode, print the result
  actuals FILE      upload FILE under the actuals prefix (for --deployment), show what the receiver got

Each serve keeps its URLs and keys in its own state file (see mlgw_local.helpers); batch and
actuals use the only local mode running, or the one whose API port --port names.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mlgw_local import helpers
from mlgw_local.alarms import Evaluator, local_sources
from mlgw_local.functions import FunctionWorker
from mlgw_local.gateway import RestApi
from mlgw_local.helpers import (
    HELPER_COMMANDS,
    add_helper_commands,
    state_arguments,
    state_dir,
    state_file_for,
    write_state,
)
from mlgw_local.http import PortInUseError, Request, Response, bind, serve, url_of
from mlgw_local.metrics import MetricsFile, emf
from mlgw_local.mlops import ActualsReceiver
from mlgw_local.models import bundled_models
from mlgw_local.plan import REPO_ROOT, Function, Gateway, PlanError, Trigger, load_gateway
from mlgw_local.sagemaker import RuntimeFront, container
from mlgw_local.storage import LocalAws, Notifications

DEFAULT_EXAMPLE = "examples/local"
RATINGS_TEMPLATE = REPO_ROOT / "modules" / "rest-api" / "templates" / "ratings_request.vtl"
ACTUALS_TOKEN = "local-actuals-token"  # noqa: S105 - the local receiver's own token, not a secret
PORTS = {  # name: (default, what it serves)
    "api": (8080, "REST API"),
    "runtime": (8081, "SageMaker runtime front"),
    "s3": (8082, "local S3 and Secrets Manager"),
    "mlops": (8083, "actuals receiver"),
    "iris": (8084, "iris model container"),
    "ratings": (8085, "ratings model container"),
}
log = logging.getLogger("mlgw_local")


def _env_port(name: str, default: int) -> int:
    return int(os.environ.get(f"MLGW_LOCAL_{name.upper()}_PORT", default))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mlgw_local", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    common = state_arguments()
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve", parents=[common], help="serve the gateway (the default)")
    _serve_arguments(serve_cmd)
    add_helper_commands(sub, common)
    return parser


def _serve_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--example",
        type=Path,
        default=Path(DEFAULT_EXAMPLE),
        help=f"Terraform root to plan and serve (default {DEFAULT_EXAMPLE})",
    )
    parser.add_argument("--var-file", type=Path, help="tfvars file for the plan")
    parser.add_argument("--host", default=os.environ.get("MLGW_LOCAL_HOST", "127.0.0.1"))
    for name, (default, what) in PORTS.items():
        parser.add_argument(
            f"--{name}-port",
            type=int,
            default=_env_port(name, default),
            help=f"port of the {what} (default {default}, or $MLGW_LOCAL_{name.upper()}_PORT; 0 = any)",
        )
    parser.add_argument(
        "--metrics-file",
        type=Path,
        help="where the functions' and the gateway's metrics go, one EMF document a line "
        "(default: beside the state file, <state file name>-metrics.jsonl)",
    )
    parser.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="NAME=MODEL",
        help="serve endpoint NAME with a bundled model (iris, ratings) or a container URL",
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not set(argv) & {"serve", *HELPER_COMMANDS, "-h", "--help"}:
        argv.insert(0, "serve")
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # tftest logs a failed command's whole output (a partial plan) as critical; the PlanError
    # raised from it carries Terraform's diagnostics instead.
    logging.getLogger("tftest").setLevel(logging.CRITICAL + 1)
    if args.command in HELPER_COMMANDS:
        return helpers.run(args)
    try:
        return _serve(args)
    except (PortInUseError, PlanError) as exc:
        print(f"mlgw_local: {exc}", file=sys.stderr)
        return 2


def _endpoint_targets(gateway: Gateway, overrides: list[str], containers: dict[str, str]) -> dict[str, str]:
    """Each endpoint's container: the ratings model behind routes with the bundled ratings
    template, the iris model behind every other endpoint, unless --endpoint says otherwise."""
    ratings_template = RATINGS_TEMPLATE.read_text(encoding="utf-8")
    targets = dict.fromkeys(gateway.endpoint_names(), containers["iris"])
    for operation in gateway.api.operations if gateway.api else []:
        integration = operation.integration
        if integration.endpoint_name and ratings_template in integration.request_templates.values():
            targets[integration.endpoint_name] = containers["ratings"]
    for item in overrides:
        name, _, model = item.partition("=")
        if model not in containers and not model.startswith(("http://", "https://")):
            raise PlanError(f"--endpoint {item}: the model must be one of {', '.join(containers)} or a URL")
        targets[name] = containers.get(model, model.rstrip("/"))
    return targets


def _check_port_free(host: str, port: int, what: str, option: str) -> None:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            raise PortInUseError(
                f"port {port} for the {what} is already in use: stop what holds it or pass {option}"
            ) from None


def _serve(args: argparse.Namespace) -> int:
    started = time.monotonic()
    host = args.host
    front = RuntimeFront({})
    receiver = ActualsReceiver(ACTUALS_TOKEN)
    api = _Deferred()
    servers = {
        "api": bind(host, args.api_port, "REST API", "--api-port", api),
        "runtime": bind(host, args.runtime_port, "SageMaker runtime front", "--runtime-port", front),
        "mlops": bind(host, args.mlops_port, "actuals receiver", "--mlops-port", receiver),
    }
    if args.s3_port:
        _check_port_free(host, args.s3_port, "local S3", "--s3-port")
    s3_port = args.s3_port or _free_port(host)

    with ThreadPoolExecutor(max_workers=2) as pool:
        planned = pool.submit(load_gateway, args.example, args.var_file)
        models = bundled_models()
        gateway = planned.result()
    for name in ("iris", "ratings"):
        servers[name] = bind(
            host,
            getattr(args, f"{name}_port"),
            f"{name} model container",
            f"--{name}-port",
            container(models[name]),
        )
    urls = {name: url_of(server) for name, server in servers.items()}
    front.endpoints.update(
        _endpoint_targets(gateway, args.endpoint, {n: urls[n] for n in ("iris", "ratings")})
    )

    aws = LocalAws(host, s3_port)
    aws.start()
    urls["s3"] = aws.url
    secret_arns = aws.create(list(gateway.buckets.values()), dict.fromkeys(gateway.secrets, ACTUALS_TOKEN))

    state_file = args.state_file or state_file_for(
        args.state_dir or state_dir(), servers["api"].server_address[1]
    )
    alarms, metrics = _alarms_and_metrics(gateway, args, state_file)
    workers = {
        name: FunctionWorker(function, _function_environment(function, urls, secret_arns), metrics.record)
        for name, function in gateway.functions.items()
    }
    for worker in workers.values():
        worker.start()
    for worker in workers.values():
        worker.wait_ready()

    def invoke(name: str, event: dict[str, Any]) -> Any:
        return workers[name].invoke(event)

    if gateway.api is not None:
        api.target = RestApi(gateway, invoke, urls["runtime"], f"{host}:{servers['api'].server_address[1]}")
        api.metrics = _ApiMetrics(gateway, metrics)
    else:
        api.absent = True
    notifications = Notifications(aws, gateway.triggers, invoke)
    notifications.start()
    for server in servers.values():
        serve(server)

    state = {
        **_state(gateway, urls, args.example),
        "metrics_file": str(metrics.path),
        "alarms": {"evaluated": [a.name for a in alarms.evaluated], "not_evaluated": alarms.skipped},
    }
    _serve_until_stopped(state_file, state, alarms, started)
    print("\nmlgw_local: stopping", flush=True)
    notifications.stop()
    for server in servers.values():
        server.shutdown()
        server.server_close()
    for worker in workers.values():
        worker.stop()
    aws.stop()
    return 0


def _serve_until_stopped(state_file: Path, state: dict[str, Any], alarms: Evaluator, started: float) -> None:
    """Publish the state file and the banner, evaluate alarms until SIGINT or SIGTERM, then
    remove the state file so helpers never find a stopped instance."""
    stop = threading.Event()
    alarms.run(stop)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        write_state(state_file, state)
        print(_banner(state, time.monotonic() - started), flush=True)
        if alarms.evaluated or alarms.skipped:
            log.info("%s", alarms.summary())
        stop.wait()
    finally:
        state_file.unlink(missing_ok=True)


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class _Deferred:
    """The API's handler: its port is bound first, so a taken port fails before anything starts."""

    target: RestApi | None = None
    metrics: _ApiMetrics | None = None
    absent = False

    def __call__(self, request: Request) -> Response:
        if self.absent:
            return Response.json(404, {"message": "the example plans no REST API"})
        if self.target is None:
            return Response.json(503, {"message": "local mode is starting"})
        started = time.monotonic()
        response = self.target(request)
        if self.metrics is not None:
            self.metrics.record(request, response, time.monotonic() - started)
        return response


class _ApiMetrics:
    """The metrics API Gateway publishes for each request to a stage: Count, 4XXError,
    5XXError and Latency (ms), dimensions ApiName and Stage
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-metrics-and-dimensions.html)."""

    def __init__(self, gateway: Gateway, metrics: MetricsFile) -> None:
        self._api_name = gateway.api_name
        self._stages = set(gateway.stages)
        self._metrics = metrics

    def record(self, request: Request, response: Response, seconds: float) -> None:
        stage = request.path.lstrip("/").partition("/")[0]
        if self._api_name is None or stage not in self._stages:
            return
        values = {
            "Count": 1,
            "4XXError": int(400 <= response.status < 500),
            "5XXError": int(response.status >= 500),
            "Latency": round(seconds * 1000, 3),
        }
        self._metrics.record([emf("AWS/ApiGateway", {"ApiName": self._api_name, "Stage": stage}, values)])


def _alarms_and_metrics(
    gateway: Gateway, args: argparse.Namespace, state_file: Path
) -> tuple[Evaluator, MetricsFile]:
    """The plan's alarms, evaluated on the metrics file every function and the gateway write to.
    Local mode produces the metrics the handlers publish in their namespaces, Lambda's
    invocation metrics and the REST API's per-stage metrics (alarms.local_sources)."""
    namespaces = {
        f.environment["POWERTOOLS_METRICS_NAMESPACE"]
        for f in gateway.functions.values()
        if f.environment.get("POWERTOOLS_METRICS_NAMESPACE")
    }
    sources = local_sources(namespaces, gateway.functions, gateway.api_name, gateway.stages)
    alarms = Evaluator(gateway.alarms, sources, _report_alarm)
    path = args.metrics_file or state_file.with_name(f"{state_file.stem}-metrics.jsonl")
    return alarms, MetricsFile(path, alarms.add)


def _report_alarm(change: str) -> None:
    """An alarm's change of state, on a line of its own: ALARM <name>: why, or OK <name>."""
    print(change, flush=True)


def _function_environment(
    function: Function, urls: dict[str, str], secret_arns: dict[str, str]
) -> dict[str, str]:
    """The planned environment, with endpoint URLs pointing at local mode and the values only
    apply would know (a created secret's ARN) filled in."""
    env = {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": function.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
        "AWS_ENDPOINT_URL_S3": urls["s3"],
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": urls["s3"],
        "PATH": os.environ.get("PATH", ""),
        **function.environment,
        # boto3 reads service-specific endpoint URLs from the environment itself
        # (https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html).
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": urls["runtime"],
    }
    settings = function.settings
    if settings.get("api_url"):
        env["MLGW_SETTINGS"] = json.dumps({**settings, "api_url": urls["mlops"]})
    for name in function.unknown_environment:
        if name.endswith("_SECRET_ARN") and len(secret_arns) == 1:
            env[name] = next(iter(secret_arns.values()))
        else:
            raise PlanError(
                f"{function.name}: {name} is only known after apply and local mode cannot fill it in"
            )
    return env


def _state(gateway: Gateway, urls: dict[str, str], example: Path) -> dict[str, Any]:
    stage = "prod" if "prod" in gateway.stages else next(iter(gateway.stages), "")
    batch = next((t for t in gateway.triggers if "output_prefix" in _settings_of(gateway, t)), None)
    actuals = next((t for t in gateway.triggers if "processed_prefix" in _settings_of(gateway, t)), None)
    return {
        "example": str(example),
        "pid": os.getpid(),
        "urls": urls,
        "invoke_url": f"{urls['api']}/{stage}",
        "api_keys": {name: key.value for name, key in gateway.api_keys.items()},
        "routes": [f"{op.method} {op.path}" for op in gateway.api.operations] if gateway.api else [],
        "samples": _samples(gateway),
        "batch": batch
        and {
            "bucket": batch.bucket,
            "input_prefix": batch.prefix,
            "suffix": batch.suffix,
            "output_prefix": _settings_of(gateway, batch)["output_prefix"],
            "error_prefix": _settings_of(gateway, batch)["error_prefix"],
        },
        "actuals": actuals
        and {
            "bucket": actuals.bucket,
            "prefix": actuals.prefix,
            "suffix": actuals.suffix,
            **{
                name: _settings_of(gateway, actuals)[name]
                for name in ("processed_prefix", "failed_prefix", "state_prefix")
            },
        },
    }


IRIS_RECORD = [5.1, 3.5, 1.4, 0.2]


def _samples(gateway: Gateway) -> list[dict[str, Any]]:
    """One request per route that fits the bundled model behind it, for `mlgw smoke --local`:
    the route ("METHOD /path" as in "routes"), the path with its parameters filled in (below the
    stage URL), query, content type, body and the expected status. Routes whose model local mode
    cannot tell get none, and smoke reports them."""
    ratings_template = RATINGS_TEMPLATE.read_text(encoding="utf-8")
    samples: list[dict[str, Any]] = []
    for op in gateway.api.operations if gateway.api else []:
        integration = op.integration
        route = f"{op.method} {op.path}"
        if integration.endpoint_name and ratings_template in integration.request_templates.values():
            path = re.sub(r"\{[^}/]+\}", "321", op.path)
            samples.append(_sample(route, "GET", path, query={"items": "101,131,162"}))
            continue
        function = gateway.functions.get(integration.function_name or "")
        if function is None or op.method not in ("GET", "POST"):
            continue
        models = function.settings.get("models") or {"default": {}}
        name = "default"
        if "{model}" in op.path:
            name = next((m for m in sorted(models) if m != "default"), "default")
        path = op.path.replace("{model}", name)
        if op.method == "GET":
            samples.append(_sample(route, "GET", path, query={"data": ",".join(map(str, IRIS_RECORD))}))
        elif (models.get(name) or {}).get("content_type") == "text/csv":
            samples.append(_sample(route, "POST", path, body="6.2,2.9,4.3,1.3", content_type="text/csv"))
        else:
            body = json.dumps({"instances": [IRIS_RECORD, [6.7, 3.0, 5.2, 2.3]]})
            samples.append(_sample(route, "POST", path, body=body, content_type="application/json"))
    return samples


def _sample(
    route: str,
    method: str,
    path: str,
    *,
    query: dict[str, str] | None = None,
    body: str | None = None,
    content_type: str | None = None,
) -> dict[str, Any]:
    return {
        "route": route,
        "method": method,
        "path": path,
        "query": query or {},
        "content_type": content_type,
        "body": body,
        "status": 200,
    }


def _settings_of(gateway: Gateway, trigger: Trigger) -> dict[str, Any]:
    return gateway.functions[trigger.function_name].settings


def _banner(state: dict[str, Any], seconds: float) -> str:
    urls = state["urls"]
    key = next(iter(state["api_keys"].values()), "")
    api = state["invoke_url"]
    lines = [
        "",
        f"mlgw local mode: {state['example']} ready in {seconds:.1f} s (Ctrl-C stops)",
        "",
        f"  REST API        {api}   routes: {', '.join(state['routes'])}",
        f"  API key         {key}"
        + "".join(f"\n                  {n}: {v}" for n, v in list(state["api_keys"].items())[1:]),
        f"  SageMaker front {urls['runtime']}   containers: iris {urls['iris']}, ratings {urls['ratings']}",
        f"  S3 (moto)       {urls['s3']}",
        f"  actuals         {urls['mlops']}/received",
        f"  metrics         {state['metrics_file']}   "
        f"alarms evaluated here: {len(state['alarms']['evaluated'])} (ALARM and OK print below)",
        "",
        "Predict an iris:",
        f"  curl -sS -X POST {api}/predict -H 'x-api-key: {key}' -H 'Content-Type: application/json' \\",
        "       -d '{\"instances\": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'",
        f"  curl -sS -X POST {api}/predict/csv -H 'x-api-key: {key}' -H 'Content-Type: text/csv' \\",
        "       --data-binary '6.2,2.9,4.3,1.3'",
        "Get ratings:",
        f"  curl -sS '{api}/predicted-ratings/321?items=101,131,162' -H 'x-api-key: {key}'",
    ]
    if state["batch"]:
        batch = state["batch"]
        lines += [
            "Upload a batch file and read its result:",
            "  make local-batch FILE=local/samples/iris-batch.csv",
            f"  aws --endpoint-url {urls['s3']} s3 cp local/samples/iris-batch.csv s3://{batch['bucket']}/{batch['input_prefix']}iris.csv",
            f"  aws --endpoint-url {urls['s3']} s3 cp "
            f"s3://{batch['bucket']}/{batch['output_prefix']}iris.csv -",
        ]
    if state["actuals"]:
        actuals = state["actuals"]
        lines += [
            "Upload actuals and see them received:",
            "  make local-actuals FILE=local/samples/actuals.csv",
            f"  aws --endpoint-url {urls['s3']} s3 cp local/samples/actuals.csv "
            f"s3://{actuals['bucket']}/{actuals['prefix']}5f3c9a1b2c3d4e5f6a7b8c9d/actuals.csv",
            f"  curl -sS {urls['mlops']}/received",
        ]
    lines += [
        "  (the aws commands need AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local "
        "AWS_DEFAULT_REGION=us-east-1)",
        "",
    ]
    return "\n".join(lines)
