"""``python -m mlgw_local``: serve an example's gateway on localhost, with bundled models.

Commands:
  serve (default)   plan the example offline, start everything, print the banner, run until Ctrl-C
  batch FILE        upload FILE under the batch input prefix of a running local mode, print the result
  actuals FILE      upload FILE under the actuals prefix (for --deployment), show what the receiver got
  invoke NAME FILE  invoke function NAME of a running local mode with the JSON event in FILE

Each serve keeps its URLs, keys and banner commands in its own state file (see mlgw_local.helpers);
batch, actuals and invoke use the only local mode running, or the one whose API port --port names.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mlgw_local import banner, endpoints, helpers
from mlgw_local.alarms import Evaluator, local_sources
from mlgw_local.functions import LAMBDA_SRC, FunctionWorker, WorkerRetired
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
from mlgw_local.lambda_api import LambdaApi
from mlgw_local.metrics import MetricsFile, emf
from mlgw_local.mlops import ActualsReceiver
from mlgw_local.models import IrisClassifier, Model
from mlgw_local.plan import Function, Gateway, PlanError, load_gateway
from mlgw_local.reload import Reloader
from mlgw_local.sagemaker import RuntimeFront, container
from mlgw_local.storage import LocalAws, Notifications

DEFAULT_EXAMPLE = "examples/local"
ACTUALS_TOKEN = "local-actuals-token"  # noqa: S105 - the local receiver's own token, not a secret
PORTS = {  # name: (default, what it serves)
    "api": (8080, "REST API"),
    "runtime": (8081, "SageMaker runtime front"),
    "s3": (8082, "local S3 and Secrets Manager"),
    "mlops": (8083, "actuals receiver"),
    "iris": (8084, "iris model container"),
    "ratings": (8085, "ratings model container"),
    "binary": (8086, "binary classifier container"),
    "lambda": (8087, "Lambda Invoke API"),
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
        "--watch-root",
        type=Path,
        default=LAMBDA_SRC,
        help="the functions' source: a change under it restarts the workers that loaded it "
        "(default: the repository's lambda_src)",
    )
    parser.add_argument(
        "--endpoint",
        action="append",
        default=[],
        metavar="NAME=MODEL",
        help="serve endpoint NAME with a bundled model (iris, ratings, binary) or a container URL",
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


def _check_port_free(host: str, port: int, what: str, option: str) -> None:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            raise PortInUseError(
                f"port {port} for the {what} is already in use: stop what holds it or pass {option}"
            ) from None


def _invoker(workers: dict[str, FunctionWorker]) -> Any:
    def invoke(name: str, event: dict[str, Any]) -> Any:
        while True:
            try:
                return workers[name].invoke(event)
            except WorkerRetired:
                continue  # replaced by a reload while this call waited: the new worker takes it

    return invoke


def _access_log() -> None:
    """Access lines go to stdout as they are, each with its own time."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger = logging.getLogger("mlgw_local.access")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _serve_models(
    args: argparse.Namespace,
    servers: dict[str, Any],
    front: RuntimeFront,
    choices: dict[str, endpoints.Choice],
    models: dict[str, Model],
) -> dict[str, str]:
    """Bind a container per bundled model and point the runtime front's endpoints at them."""
    for name, model in models.items():
        port = getattr(args, f"{name}_port", 0)
        servers[f"model:{name}"] = bind(
            args.host, port, f"{name} model container", f"--{name}-port", container(model)
        )
    urls = {name: url_of(server) for name, server in servers.items()}
    for name, choice in choices.items():
        front.endpoints[name] = choice.container if choice.is_url else urls[f"model:{choice.container}"]
        front.labels[name] = f"container {choice.container}"
    return urls


def _start_workers(
    gateway: Gateway, urls: dict[str, str], secret_arns: dict[str, str], metrics: MetricsFile, source: Path
) -> dict[str, FunctionWorker]:
    workers = {
        name: FunctionWorker(
            function, _function_environment(function, urls, secret_arns), metrics.record, source
        )
        for name, function in gateway.functions.items()
    }
    for worker in workers.values():
        worker.start()
    for worker in workers.values():
        worker.wait_ready()
    return workers


def _serve(args: argparse.Namespace) -> int:
    started = time.monotonic()
    _access_log()
    host = args.host
    front = RuntimeFront({})
    receiver = ActualsReceiver(ACTUALS_TOKEN)
    api = _Deferred()
    lambda_api = _Deferred()
    servers = {
        "api": bind(host, args.api_port, "REST API", "--api-port", api),
        "runtime": bind(host, args.runtime_port, "SageMaker runtime front", "--runtime-port", front),
        "mlops": bind(host, args.mlops_port, "actuals receiver", "--mlops-port", receiver),
        "lambda": bind(host, args.lambda_port, "Lambda Invoke API", "--lambda-port", lambda_api),
    }
    if args.s3_port:
        _check_port_free(host, args.s3_port, "local S3", "--s3-port")
    s3_port = args.s3_port or _free_port(host)

    with ThreadPoolExecutor(max_workers=2) as pool:
        planned = pool.submit(load_gateway, args.example, args.var_file)
        # The iris classifier stands in for most endpoints: trained while the plan runs.
        trained: dict[str, Model] = {"iris": IrisClassifier()}
        gateway = planned.result()
    choices = endpoints.choose(gateway, args.endpoint)
    models = endpoints.containers(gateway, choices, trained)
    urls = _serve_models(args, servers, front, choices, models)
    front.variants = {n: v for n, v in gateway.endpoint_variants.items() if v}

    aws = LocalAws(host, s3_port)
    aws.start()
    urls["s3"] = aws.url
    secret_arns = aws.create(list(gateway.buckets.values()), dict.fromkeys(gateway.secrets, ACTUALS_TOKEN))

    state_file = args.state_file or state_file_for(
        args.state_dir or state_dir(), servers["api"].server_address[1]
    )
    alarms, metrics = _alarms_and_metrics(gateway, args, state_file)
    workers = _start_workers(gateway, urls, secret_arns, metrics, args.watch_root.resolve())
    invoke = _invoker(workers)
    if gateway.api is not None:
        api.target = RestApi(gateway, invoke, urls["runtime"], f"{host}:{servers['api'].server_address[1]}")
        api.metrics = _ApiMetrics(gateway, metrics)
    else:
        api.absent = True
    lambda_api.target = LambdaApi(workers, invoke)
    notifications = Notifications(aws, gateway.triggers, invoke)
    notifications.start()
    for server in servers.values():
        serve(server)
    reloader = Reloader(
        workers,
        args.watch_root.resolve(),
        example=args.example,
        gateway=gateway,
        replan=lambda: load_gateway(args.example, args.var_file),
        say=lambda line: print(line, flush=True),
    )
    reloader.start()

    shown = banner.Banner(
        gateway, urls, choices, models, state_file.with_name(f"{state_file.stem}-samples"), []
    )
    extra = {
        "pid": os.getpid(),
        "metrics_file": str(metrics.path),
        "alarms": {"evaluated": [a.name for a in alarms.evaluated], "not_evaluated": alarms.skipped},
    }
    _serve_until_stopped(state_file, shown, alarms, example=args.example, extra=extra, started=started)
    print("\nmlgw_local: stopping", flush=True)
    reloader.stop()
    notifications.stop()
    for server in servers.values():
        server.shutdown()
        server.server_close()
    for worker in workers.values():
        worker.stop()
    aws.stop()
    return 0


def _serve_until_stopped(
    state_file: Path,
    shown: banner.Banner,
    alarms: Evaluator,
    *,
    example: Path,
    extra: dict[str, Any],
    started: float,
) -> None:
    """Write the sample files and the state file, print the banner, evaluate alarms until SIGINT
    or SIGTERM, then remove the state file and the sample files so helpers never find a stopped
    instance."""
    stop = threading.Event()
    alarms.run(stop)
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        banner.build(shown)
        state = {**banner.state(shown, example), **extra}
        write_state(state_file, state)
        print(banner.text(shown, state, example, time.monotonic() - started), flush=True)
        if alarms.evaluated or alarms.skipped:
            log.info("%s", alarms.summary())
        stop.wait()
    finally:
        state_file.unlink(missing_ok=True)
        shutil.rmtree(shown.samples_dir, ignore_errors=True)


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class _Deferred:
    """A server's handler: its port is bound first, so a taken port fails before anything starts."""

    target: RestApi | LambdaApi | None = None
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
