"""Command line: `python -m mlgw_client predict ...` and `python -m mlgw_client smoke ...`.

The API key comes from --api-key or the MLGW_API_KEY variable; the variable keeps it out of
shell history and process listings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from mlgw_client.api import PredictClient, PredictError
from mlgw_client.smoke import plan, read_outputs, report, run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mlgw_client")
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

    smoke = commands.add_parser("smoke", help="call every route of a deployed stack once")
    smoke.add_argument("--outputs", default="-", help="terraform output -json file, or - for stdin")
    smoke.add_argument("--api-key", help="API key (default: the api_key output, then $MLGW_API_KEY)")
    smoke.add_argument("--json", help="request body for routes without a sample in model_routes")
    smoke.add_argument("--csv", help="CSV body for routes without a sample in model_routes")
    return parser


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


def _smoke(args: argparse.Namespace, out: TextIO) -> int:
    if args.outputs == "-":
        outputs = read_outputs(sys.stdin)
    else:
        with open(args.outputs, encoding="utf-8") as stream:
            outputs = read_outputs(stream)
    if not outputs.get("invoke_url"):
        out.write("FAIL: the outputs have no invoke_url\n")
        return 1
    api_key = args.api_key or outputs.get("api_key") or os.environ.get("MLGW_API_KEY")
    fallback = (args.csv, "text/csv") if args.csv is not None else (args.json, "application/json")
    checks = plan(outputs, *fallback)
    return 0 if report(run(PredictClient(outputs["invoke_url"], api_key), checks), out) else 1


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = _parser().parse_args(argv)
    if args.command == "predict":
        return _predict(args, out, err)
    return _smoke(args, out)


if __name__ == "__main__":
    sys.exit(main())
