"""The ``batch`` and ``actuals`` commands: drop a file into a running local mode and show the outcome;
``invoke``: call one of its functions with an event through its Lambda Invoke API; and the state
files through which they find that local mode.

Every ``serve`` writes its URLs, keys and pipelines to its own state file,
``<state dir>/api-<API port>.json`` (two instances cannot hold one API port, so they never share a
file), with its process id, and removes it when it stops. The state directory is
``$MLGW_LOCAL_STATE_DIR``, by default ``mlgw-local`` in the temporary directory. The helpers read
the one state file there whose process is alive; with several, ``--port`` picks one. A state file
whose process is gone (a local mode that was killed) is reported in one line and removed.

Exit codes of the helpers: 0 when every row was predicted or delivered (the function returned),
1 when the file or any row was rejected or failed, or no report came in time (the function
raised), 2 when they cannot run at all (no local mode, no such file, no such pipeline or function).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, TextIO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

HELPER_COMMANDS = ("batch", "actuals", "invoke")
STATE_DIR_VARIABLE = "MLGW_LOCAL_STATE_DIR"
STATE_FILE_VARIABLE = "MLGW_LOCAL_STATE"
POLL_SECONDS = 0.2
NOT_FOUND = frozenset({"404", "NoSuchKey", "NotFound"})


class HelperError(Exception):
    """A helper cannot run; the message is one line that says what to do."""


def state_arguments() -> argparse.ArgumentParser:
    """The options every command takes: where the state file is."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-file",
        type=Path,
        default=Path(os.environ[STATE_FILE_VARIABLE]) if os.environ.get(STATE_FILE_VARIABLE) else None,
        help="where serve writes its URLs and keys as JSON, and the helpers read them "
        f"(default: api-<API port>.json in the state directory, ${STATE_FILE_VARIABLE} if set)",
    )
    common.add_argument(
        "--state-dir", type=Path, default=None, help=f"directory of the state files (default {state_dir()})"
    )
    return common


def add_helper_commands(sub: Any, common: argparse.ArgumentParser) -> None:
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
        helper.add_argument(
            "--timeout", type=float, default=60.0, help="seconds to wait for the pipeline's report"
        )
    invoke = sub.add_parser(
        "invoke", parents=[common], help="invoke a function of the running local mode with a JSON event"
    )
    invoke.add_argument("function", help="the function's name")
    invoke.add_argument("file", metavar="event", type=Path, help="a file holding the event as JSON")
    for helper in (batch, actuals, invoke):
        helper.add_argument("--port", type=int, help="API port of the local mode to use, when several run")


def main(argv: list[str]) -> int:
    """The helpers alone, without importing what serving needs (models, moto, Terraform)."""
    parser = argparse.ArgumentParser(prog="python -m mlgw_local")
    add_helper_commands(parser.add_subparsers(dest="command", required=True), state_arguments())
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    try:
        state = find_state(args.state_file, args.port, args.state_dir, err)
        return run_helper(args.command, state, args, out)
    except HelperError as exc:
        err.write(f"mlgw_local {args.command}: {exc}\n")
        return 2


def state_dir() -> Path:
    return Path(os.environ.get(STATE_DIR_VARIABLE) or Path(tempfile.gettempdir()) / "mlgw-local")


def state_file_for(directory: Path, api_port: int) -> Path:
    return directory / f"api-{api_port}.json"


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Written whole under another name, then renamed: a helper never reads half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.write_text(json.dumps(state, indent=2), encoding="utf-8")
    partial.replace(path)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    return True


def _read(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HelperError(f"no local mode state at {path}: is `make local` running?") from None
    except (OSError, ValueError) as exc:
        raise HelperError(f"cannot read the local mode state {path}: {exc}") from None
    if not isinstance(state, dict) or not isinstance(state.get("urls"), dict):
        raise HelperError(f"{path} is not a local mode state file")
    return state


def _stale(path: Path, state: dict[str, Any]) -> bool:
    pid = state.get("pid")
    return isinstance(pid, int) and not alive(pid)


def find_state(
    state_file: Path | None = None,
    port: int | None = None,
    directory: Path | None = None,
    err: TextIO = sys.stderr,
) -> dict[str, Any]:
    """The state of the local mode to talk to: the given file, the one serving API port `port`,
    or the only one running."""
    if state_file is None and os.environ.get(STATE_FILE_VARIABLE):
        state_file = Path(os.environ[STATE_FILE_VARIABLE])
    directory = directory or state_dir()
    if state_file is None and port is not None:
        state_file = state_file_for(directory, port)
    if state_file is not None:
        state = _read(state_file)
        if _stale(state_file, state):
            raise HelperError(
                f"{state_file} is stale: the local mode that wrote it (pid {state['pid']}) is gone; "
                "start one with `make local`"
            )
        return state
    running: list[tuple[Path, dict[str, Any]]] = []
    for path in sorted(directory.glob("api-*.json")):
        try:
            state = _read(path)
        except HelperError as exc:
            err.write(f"ignoring {exc}\n")
            continue
        if _stale(path, state):
            err.write(f"removed the stale state file {path}: its local mode (pid {state['pid']}) is gone\n")
            path.unlink(missing_ok=True)
            continue
        running.append((path, state))
    if not running:
        raise HelperError(
            f"no local mode is running (no state file in {directory}): start one with `make local`"
        )
    if len(running) > 1:
        ports = ", ".join(str(_api_port(state)) for _, state in running)
        raise HelperError(
            f"{len(running)} local modes are running (API ports {ports}): "
            "choose one with PORT=<API port> (make) or --port"
        )
    return running[0][1]


def _api_port(state: dict[str, Any]) -> str:
    return str(state.get("urls", {}).get("api", "?")).rsplit(":", 1)[-1]


def _s3(state: dict[str, Any]) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=state["urls"]["s3"],
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106
        config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}),
    )


def _get(s3: Any, bucket: str, key: str) -> bytes | None:
    try:
        return bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in NOT_FOUND:
            return None
        raise


def _exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in NOT_FOUND:
            return False
        raise
    return True


def _report(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    body = _get(s3, bucket, key)
    return None if body is None else dict(json.loads(body))


def run_helper(command: str, state: dict[str, Any], args: Any, out: TextIO = sys.stdout) -> int:
    """Run `batch`, `actuals` or `invoke`; a local mode that went away is one line, not a traceback."""
    if not args.file.is_file():
        raise HelperError(f"no such file: {args.file}")
    try:
        if command == "invoke":
            return invoke_function(state, args.function, args.file, out)
        if command == "batch":
            return upload_batch(state, args.file, args.timeout, out)
        return upload_actuals(state, args.file, args.deployment, args.timeout, out)
    except (BotoCoreError, ClientError, urllib.error.URLError, ConnectionError) as exc:
        where = state["urls"].get("lambda" if command == "invoke" else "s3")
        raise HelperError(f"the local mode at {where} does not answer: {exc}") from None


def invoke_function(state: dict[str, Any], name: str, event_file: Path, out: TextIO = sys.stdout) -> int:
    """Invoke a function through local mode's Lambda Invoke API and print its result; exit 1 when
    the function raised (the answer carries X-Amz-Function-Error)."""
    url = state["urls"].get("lambda")
    if not url:
        raise HelperError(f"{state.get('example', 'the local mode')} serves no Lambda Invoke API")
    try:
        event = json.loads(event_file.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise HelperError(f"{event_file} is not JSON: {exc}") from None
    request = urllib.request.Request(  # noqa: S310 - local mode's own URL
        f"{url}/2015-03-31/functions/{name}/invocations",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310
            body, failed = answer.read(), answer.headers.get("X-Amz-Function-Error")
    except urllib.error.HTTPError as exc:
        try:
            message = json.loads(exc.read()).get("message")
        except ValueError:
            message = f"HTTP {exc.code}"
        raise HelperError(f"{name}: {message}") from None
    out.write(json.dumps(json.loads(body), indent=2) + "\n")
    if failed:
        out.write(f"{name} failed ({failed})\n")
        return 1
    return 0


def upload_batch(state: dict[str, Any], file: Path, timeout: float, out: TextIO = sys.stdout) -> int:
    """Upload, then wait for the run's report (the pipeline writes it for every outcome)."""
    batch = state.get("batch")
    if not batch:
        raise HelperError(f"{state.get('example', 'the example')} has no batch prediction")
    s3 = _s3(state)
    bucket = batch["bucket"]
    name = file.name if file.name.endswith(batch["suffix"]) else f"{file.name}{batch['suffix']}"
    output = f"{batch['output_prefix']}{name}"
    report_key = f"{batch['error_prefix']}{name}.report.json"
    for stale in (output, report_key, f"{batch['error_prefix']}{name}.errors.jsonl"):
        s3.delete_object(Bucket=bucket, Key=stale)
    s3.upload_file(str(file), bucket, f"{batch['input_prefix']}{name}")
    out.write(f"uploaded s3://{bucket}/{batch['input_prefix']}{name}\n")
    deadline = time.monotonic() + timeout
    report = None
    while time.monotonic() < deadline:
        report = _report(s3, bucket, report_key)
        # A completed report is written just before the output is closed: wait for both.
        if report is not None and (report.get("status") != "completed" or _exists(s3, bucket, output)):
            break
        report = None
        time.sleep(POLL_SECONDS)
    if report is None:
        out.write(f"no report at s3://{bucket}/{report_key} after {timeout:.0f} s\n")
        return 1
    status = report.get("status")
    if status == "completed":
        predictions = (_get(s3, bucket, output) or b"").decode()
        out.write(f"s3://{bucket}/{output}:\n{predictions}")
        if not predictions.endswith("\n"):
            out.write("\n")
        errors_key = report.get("errorsKey")
        if report.get("errorRows") and errors_key:
            errors = (_get(s3, bucket, errors_key) or b"").decode()
            out.write(f"error rows, s3://{bucket}/{errors_key}:\n{errors}")
    out.write(
        f"{status}: {report.get('predictedRows', 0)} rows predicted, {report.get('errorRows', 0)} error rows"
        + (f"; {report['reason']}" if report.get("reason") else "")
        + f"\nreport: s3://{bucket}/{report_key}\n"
    )
    return 0 if status == "completed" and not report.get("errorRows") else 1


def _received(state: dict[str, Any], deployment: str) -> list[dict[str, Any]] | None:
    """The rows the local receiver holds for the deployment, or None if it cannot tell."""
    url = f"{state['urls']['mlops']}/received/{deployment}"
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - the local receiver
            return list(json.load(answer)["data"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def upload_actuals(
    state: dict[str, Any], file: Path, deployment: str, timeout: float, out: TextIO = sys.stdout
) -> int:
    """Upload, then wait for the file's end: its failure report beside the failed copy, or the
    input gone (deleted or archived) with its progress state removed, the last step of a success,
    after the report of skipped rows if there were any."""
    actuals = state.get("actuals")
    if not actuals:
        raise HelperError(f"{state.get('example', 'the example')} has no actuals reporting")
    s3 = _s3(state)
    bucket = actuals["bucket"]
    relative = f"{deployment}/{file.name}"
    key = f"{actuals['prefix']}{relative}"
    failed_report = f"{actuals.get('failed_prefix', '')}{relative}.report.json"
    skipped_report = f"{actuals.get('processed_prefix', '')}{relative}.report.json"
    progress = f"{actuals.get('state_prefix', '')}{relative}.json"
    for stale in (failed_report, skipped_report):
        s3.delete_object(Bucket=bucket, Key=stale)
    before = _received(state, deployment)
    s3.upload_file(str(file), bucket, key)
    rows = sum(1 for line in file.read_text(encoding="utf-8").splitlines()[1:] if line.strip())
    out.write(f"uploaded s3://{bucket}/{key} ({rows} rows)\n")
    deadline = time.monotonic() + timeout
    report, report_key = None, None
    finished = False
    while time.monotonic() < deadline:
        report = _report(s3, bucket, failed_report)
        if report is not None:
            report_key, finished = failed_report, True
            break
        if not _exists(s3, bucket, key) and not _exists(s3, bucket, progress):
            report = _report(s3, bucket, skipped_report)
            report_key, finished = (skipped_report if report else None), True
            break
        time.sleep(POLL_SECONDS)
    if not finished:
        out.write(f"s3://{bucket}/{key} was not reported within {timeout:.0f} s\n")
        return 1
    after = _received(state, deployment)
    if before is not None and after is not None:
        out.write(json.dumps({"deploymentId": deployment, "data": after[len(before) :]}, indent=2) + "\n")
    if report is None:
        out.write(f"reported: {rows} of {rows} rows delivered\n")
        return 0
    bad = report.get("badRows") or []
    if bad:
        out.write("error rows:\n" + "".join(json.dumps(row) + "\n" for row in bad))
    out.write(
        f"{report.get('status')}: {report.get('reason')}; {report.get('rowsAccepted', 0)} rows accepted, "
        f"{report.get('badRowCount', 0)} bad rows\nreport: s3://{bucket}/{report_key}\n"
    )
    return 1
