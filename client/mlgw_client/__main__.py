"""Command line: `mlgw predict|smoke|redrive ...` (or `python -m mlgw_client ...`).

The API key comes from --api-key or the MLGW_API_KEY variable; the variable keeps it out of
shell history and process listings. `redrive` needs boto3 and AWS credentials, found the way
the AWS CLI finds them; `predict` and `smoke` need neither.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import requests

from mlgw_client import local
from mlgw_client.api import PredictClient, PredictError
from mlgw_client.smoke import local_plan, plan, read_outputs, report, run, run_local


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlgw")
    commands = parser.add_subparsers(dest="command", required=True)

    predict = commands.add_parser("predict", help="send one prediction request")
    predict.add_argument("--url", required=True, help="stage URL, without /predict")
    predict.add_argument("--api-key", help="API key (default: $MLGW_API_KEY)")
    predict.add_argument("--model", help="route name; omit for the default route")
    predict.add_argument("--inference-id", help="id to quote later when reporting actuals")
    body = predict.add_mutually_exclusive_group(required=True)
    body.add_argument("--json", help='one JSON record, or {"instances": [...]}')
    body.add_argument("--csv", help="CSV text, one record per line")
    body.add_argument("--data", help="comma-separated features, sent as GET ?data=")

    smoke = commands.add_parser(
        "smoke", help="call every route of a deployed stack, or of the running local mode, once"
    )
    smoke.add_argument(
        "--local",
        action="store_true",
        help="check the running local mode (make local): every route with a sample that fits it",
    )
    smoke.add_argument("--port", type=int, help="with --local: API port of the local mode, when several run")
    smoke.add_argument("--state-file", type=Path, help="with --local: that local mode's state file")
    smoke.add_argument("--outputs", default="-", help="terraform output -json file, or - for stdin")
    smoke.add_argument("--api-key", help="API key (default: the api_key output, then $MLGW_API_KEY)")
    smoke.add_argument("--json", help="request body for routes without a sample in model_routes")
    smoke.add_argument("--csv", help="CSV body for routes without a sample in model_routes")

    redrive = commands.add_parser(
        "redrive", help="invoke a pipeline function again with the events of its failure queue"
    )
    redrive.add_argument("--queue", choices=["batch", "actuals"], help="which pipeline's failure queue")
    redrive.add_argument(
        "--actuals-failed",
        metavar="S3_URI",
        help="instead: move this file from the actuals failed prefix back to its input key",
    )
    redrive.add_argument(
        "--outputs", default="-", help="terraform output -json file, or - for stdin (default)"
    )
    redrive.add_argument("--queue-url", help="failure queue URL (default: the *_failure_queue_arn output)")
    redrive.add_argument("--function", help="function name (default: from the *_function_name output)")
    redrive.add_argument("--region", help="AWS region (default: the queue's)")
    redrive.add_argument("--dry-run", action="store_true", help="list what would be done; change nothing")
    redrive.add_argument("--max", type=_positive, help="handle at most this many messages")
    redrive.add_argument(
        "--visibility-timeout",
        type=_visibility,
        help="seconds a received message stays hidden; must outlast the run (default: 300)",
    )
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _visibility(text: str) -> int:
    value = int(text)
    # 12 hours is the longest visibility timeout SQS takes
    # (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ChangeMessageVisibility.html).
    if not 1 <= value <= 43200:
        raise argparse.ArgumentTypeError("must be between 1 and 43200")
    return value


def _predict(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    client = PredictClient(args.url, args.api_key or os.environ.get("MLGW_API_KEY"))
    try:
        if args.json is not None:
            answer = client.predict(json.loads(args.json), model=args.model, inference_id=args.inference_id)
        elif args.csv is not None:
            answer = client.predict(csv=args.csv, model=args.model, inference_id=args.inference_id)
        else:
            answer = client.predict(data=args.data, model=args.model, inference_id=args.inference_id)
    except PredictError as exc:
        err.write(
            json.dumps(
                {"status": exc.status, "code": exc.code, "message": exc.message, "requestId": exc.request_id}
            )
            + "\n"
        )
        return 1
    except json.JSONDecodeError as exc:
        err.write(f"--json is not valid JSON: {exc}\n")
        return 2
    out.write(answer.text if answer.text.endswith("\n") else answer.text + "\n")
    err.write(f"requestId={answer.request_id} inferenceId={answer.inference_id} route={answer.route}\n")
    return 0


def _outputs(path: str) -> dict[str, Any]:
    if path == "-":
        return read_outputs(sys.stdin)
    with open(path, encoding="utf-8") as stream:
        return read_outputs(stream)


def _smoke(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if args.local:
        try:
            state = local.find(args.state_file, args.port)
        except local.LocalModeError as exc:
            err.write(f"mlgw smoke: {exc}\n")
            return 2
        out.write(f"local mode {state.get('example', '')} at {state['invoke_url']}\n")
        return 0 if report(run_local(state, local_plan(state), args.api_key), out) else 1
    outputs = _outputs(args.outputs)
    if not outputs.get("invoke_url"):
        out.write("FAIL: the outputs have no invoke_url\n")
        return 1
    api_key = args.api_key or outputs.get("api_key") or os.environ.get("MLGW_API_KEY")
    fallback = (args.csv, "text/csv") if args.csv is not None else (args.json, "application/json")
    checks = plan(outputs, *fallback)
    return 0 if report(run(PredictClient(outputs["invoke_url"], api_key), checks), out) else 1


def _redrive(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from mlgw_client import redrive  # noqa: PLC0415 - boto3 is needed by this command only

    if (args.queue is None) == (args.actuals_failed is None):
        err.write("redrive: pass --queue batch|actuals, or --actuals-failed s3://<bucket>/<key>\n")
        return 2
    if args.actuals_failed is not None:
        try:
            _, _, s3 = redrive.clients(args.region)
            redrive.move_back(s3, args.actuals_failed, out, dry_run=args.dry_run)
        except redrive.RedriveError as exc:
            err.write(f"redrive: {exc}\n")
            return 2
        return 0
    try:
        outputs = {} if args.queue_url and args.function else _outputs(args.outputs)
    except (OSError, ValueError) as exc:
        err.write(f"redrive: cannot read the outputs: {exc}\n")
        return 2
    try:
        target = redrive.target(outputs, args.queue, queue_url=args.queue_url, function=args.function)
        sqs, lambda_, s3 = redrive.clients(args.region or target.region)
        summary = redrive.redrive(
            target,
            sqs,
            lambda_,
            s3,
            out,
            dry_run=args.dry_run,
            max_messages=args.max,
            visibility_timeout=args.visibility_timeout or redrive.DEFAULT_VISIBILITY_SECONDS,
        )
    except redrive.RedriveError as exc:
        err.write(f"redrive: {exc}\n")
        return 2
    return 0 if summary.ok else 1


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "predict":
            return _predict(args, out, err)
        if args.command == "redrive":
            return _redrive(args, out, err)
        return _smoke(args, out, err)
    except requests.ConnectionError as exc:
        err.write(f"mlgw {args.command}: cannot connect to {_where(exc)}: is the URL right and the API up?\n")
        return 2
    except requests.Timeout as exc:
        err.write(f"mlgw {args.command}: no answer from {_where(exc)} in time\n")
        return 2


def _where(exc: requests.RequestException) -> str:
    request = exc.request
    url = getattr(request, "url", None)
    return str(url).split("?", 1)[0] if url else "the API"


def cli() -> None:
    """The `mlgw` console script."""
    sys.exit(main())


if __name__ == "__main__":
    cli()
