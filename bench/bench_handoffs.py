"""An actuals file 20 times longer than one invocation can send, reported through hand-offs.

The local mode's receiver holds a quota of 5,000 actuals per 3 s window (100,000 a minute, the
platform's 10,000,000 an hour scaled down); each invocation has a 20 s deadline, of which the
time margin keeps back all but 2.8 s, so that the twenty-odd invocations of the chain fit in
about a minute (each returns when its margin starts, and the next one starts at once). The
harness (tests/unit/actuals/actuals_chain.py) runs every hand-off's asynchronous self-invoke by
calling the handler again with the payload captured by a local fake of Lambda's Invoke API.

It reports the rows, the hand-offs, the wall time, the most actuals the receiver took in any
window against the quota, the actuals it refused with 429, and the invocations that raised
(Lambda's retry path). The chain runs in a child process, so its patched runtime stays there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CHAIN = ROOT / "tests" / "unit" / "actuals" / "actuals_chain.py"
SETUP = {
    "ratio": 20,
    "deadline_seconds": 20.0,
    "margin_seconds": 17.2,
    "quota": 5_000,
    "window_seconds": 3,
    "report_rows": 100,
    "max_in_flight": 4,
}


def run() -> list[dict[str, Any]]:
    paths = [ROOT / "lambda_src", ROOT / "tests", ROOT / "local", CHAIN.parent]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "PYTHONPATH": os.pathsep.join(map(str, paths)),
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    completed = subprocess.run(
        [sys.executable, str(CHAIN), json.dumps(SETUP)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the chain failed: {completed.stderr[-2000:]}")
    answer = json.loads(completed.stdout.strip().splitlines()[-1])
    rows = _rows(answer["result"])
    if answer["problems"]:
        numbers = ", ".join(f"{row['metric']}={row['value']:g}" for row in rows)
        raise RuntimeError("; ".join(answer["problems"]) + f" ({numbers})")
    return rows


def _rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    def row(metric: str, value: float, unit: str, target: str | None = None) -> dict[str, Any]:
        return {"benchmark": "handoffs", "metric": metric, "value": value, "unit": unit, "target": target}

    invocations = len(result["statuses"])
    most = max(result["rows_per_invocation"], default=0)
    return [
        row("file_rows", result["rows"], "rows"),
        row("rows_received_once", result["distinct"], "rows", "= file_rows"),
        row("rows_received_twice", result["duplicates"], "rows", "0"),
        row("rows_missing", result["missing"], "rows", "0"),
        row("invocation_limit_rows", result["per_invocation_limit"], "rows"),
        row("most_rows_in_one_invocation", most, "rows"),
        row("file_vs_invocation_limit", result["rows"] / result["per_invocation_limit"], "x", ">= 20"),
        row("file_vs_most_in_one_invocation", result["rows"] / most if most else 0.0, "x", ">= 20"),
        row("invocations", invocations, "invocations"),
        row("handoffs", result["handoffs"], "hand-offs"),
        row("lambda_retry_path", len(result["raised"]), "invocations", "0"),
        row("wall", result["wall_seconds"], "s"),
        row("quota_per_window", result["quota"], "actuals"),
        row("window", result["window_seconds"], "s"),
        row("windows_used", result["windows"], "windows"),
        row("max_actuals_in_a_window", result["max_window_actuals"], "actuals", "<= quota"),
        row("quota_use_peak", result["max_window_actuals"] / result["quota"], "ratio", "<= 1"),
        row("actuals_refused_429", result["refused_actuals"], "actuals", "0"),
    ]


if __name__ == "__main__":
    for found in run():
        print(json.dumps(found))
