"""``python -m mlgw_local``: serve an example's gateway on localhost, with bundled models.

Commands:
  serve (default)   plan the example offline, start everything, print the banner, run until Ctrl-C
  batch FILE        upload FILE under the batch input prefix of a running local mode, print the result
  actuals FILE      upload FILE under the actuals prefix (for --deployment), show what the receiver got
  invoke NAME FILE  invoke function NAME of a running local mode with the JSON event in FILE
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
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from mlgw_local import banner, endpoints
from mlgw_local.functions import FunctionWorker
from mlgw_local.gateway import RestApi
from mlgw_local.helpers import upload_actuals, upload_batch
from mlgw_local.http import PortInUseError, Request, Response, bind, serve, url_of
from mlgw_local.lambda_api import LambdaApi
from mlgw_local.mlops import ActualsReceiver
from mlgw_local.models import IrisClassifier, Model
from mlgw_local.plan import Function, PlanError, load_gateway
from mlgw_local.sagemaker import RuntimeFront, container
from mlgw_local.storage import LocalAws, Notifications

DEFAULT_EXAMPLE = "examples/local"
DEFAULT_STATE = Path(tempfile.gettempdir()) / "mlgw-local.json"
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
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-file",
        type=Path,
        default=Path(os.environ.get("MLGW_LOCAL_STATE", DEFAULT_STATE)),
        help="where serve writes its URLs and keys as JSON, and batch/actuals read them",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve_cmd = sub.add_parser("serve", parents=[common], help="serve the gateway (the default)")
    _serve_arguments(serve_cmd)
    batch = sub.add_parser("batch", parents=[common], help="upload a batch file and print its predictions")
    batch.add_argument("file", type=Path)
    actuals = sub.add_parser(
        "actuals", parents=[common], help="upload an actuals file and show what the receiver got"
    )
    actuals.add_argument("file", type=Path)
    actuals.add_argument(
        "--deployment", default="5f3c9a1b2c3d4e5f6a7b8c9d", help="deployment id (24 hex digits)"
    )
    for helper in (batch, actuals):
        helper.add_argument("--timeout", type=float, default=60.0)
    invoke = sub.add_parser(
        "invoke", parents=[common], help="invoke a function of the running local mode with a JSON event"
    )
    invoke.add_argument("function")
    invoke.add_argument("event", type=Path)
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
        "--endpoint",
        action="append",
        default=[],
        metavar="NAME=MODEL",
        help="serve endpoint NAME with a bundled model (iris, ratings, binary) or a container URL",
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not set(argv) & {"serve", "batch", "actuals", "invoke", "-h", "--help"}:
        argv.insert(0, "serve")
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("tftest", "werkzeug"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.command in ("batch", "actuals", "invoke"):
        state = json.loads(args.state_file.read_text(encoding="utf-8"))
        if args.command == "batch":
            return upload_batch(state, args.file, args.timeout)
        if args.command == "invoke":
            return invoke_function(state, args.function, args.event)
        return upload_actuals(state, args.file, args.deployment, args.timeout)
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


def invoke_function(state: dict[str, Any], name: str, event_file: Path) -> int:
    """Invoke a function through local mode's Invoke API; print its result, exit 1 on an error."""
    url = f"{state['urls']['lambda']}/2015-03-31/functions/{name}/invocations"
    request = urllib.request.Request(  # noqa: S310 - local mode's own URL
        url, data=event_file.read_bytes(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310
            body, failed = answer.read(), answer.headers.get("X-Amz-Function-Error")
    except urllib.error.HTTPError as exc:
        print(f"{name}: {json.loads(exc.read()).get('message')}", file=sys.stderr)
        return 1
    print(json.dumps(json.loads(body), indent=2))
    if failed:
        print(f"{name} failed ({failed})", file=sys.stderr)
        return 1
    return 0


def _invoker(workers: dict[str, FunctionWorker]) -> Any:
    def invoke(name: str, event: dict[str, Any]) -> Any:
        return workers[name].invoke(event)

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


def _announce(args: argparse.Namespace, shown: banner.Banner, started: float) -> None:
    """Write the sample files and the state file, then print the banner."""
    banner.build(shown)
    state = banner.state(shown, args.example)
    args.state_file.write_text(json.dumps(state, indent=2), encoding="utf-8")
    print(banner.text(shown, state, args.example, time.monotonic() - started), flush=True)


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

    aws = LocalAws(host, s3_port)
    aws.start()
    urls["s3"] = aws.url
    secret_arns = aws.create(list(gateway.buckets.values()), dict.fromkeys(gateway.secrets, ACTUALS_TOKEN))

    workers = {
        name: FunctionWorker(function, _function_environment(function, urls, secret_arns))
        for name, function in gateway.functions.items()
    }
    for worker in workers.values():
        worker.start()
    for worker in workers.values():
        worker.wait_ready()

    invoke = _invoker(workers)
    if gateway.api is not None:
        api.target = RestApi(gateway, invoke, urls["runtime"], f"{host}:{servers['api'].server_address[1]}")
    else:
        api.absent = True
    lambda_api.target = LambdaApi(workers, invoke)
    notifications = Notifications(aws, gateway.triggers, invoke)
    notifications.start()
    for server in servers.values():
        serve(server)

    samples_dir = args.state_file.with_name(f"{args.state_file.stem}-samples")
    _announce(args, banner.Banner(gateway, urls, choices, models, samples_dir, []), started)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    print("\nmlgw_local: stopping", flush=True)
    notifications.stop()
    for server in servers.values():
        server.shutdown()
        server.server_close()
    for worker in workers.values():
        worker.stop()
    aws.stop()
    args.state_file.unlink(missing_ok=True)
    shutil.rmtree(samples_dir, ignore_errors=True)
    return 0


def _free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


class _Deferred:
    """A server's handler: its port is bound first, so a taken port fails before anything starts."""

    target: RestApi | LambdaApi | None = None
    absent = False

    def __call__(self, request: Request) -> Response:
        if self.absent:
            return Response.json(404, {"message": "the example plans no REST API"})
        if self.target is None:
            return Response.json(503, {"message": "local mode is starting"})
        return self.target(request)


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
