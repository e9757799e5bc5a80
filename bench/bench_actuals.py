"""Benchmark of the actuals reporter against the approach common in published examples.

S3 (and Secrets Manager) come from a moto server and the actuals API from the test
suite's fake server, each in its own process, the API adding 50 ms to every request, so
the figures measured in the child process are the handler's own. Each measured run is
a fresh interpreter: its peak RSS is the whole footprint of one invocation. The
baseline is the approach common in published examples: it reads the object's lines
one after another, splits each on commas, builds each chunk as a pandas DataFrame,
``json.dumps`` its records and POSTs them with requests, one chunk at a time, without
polling the ingestion status. It needs pandas, and refuses to run without it.
"""

from __future__ import annotations

import contextlib
import json
import os
import runpy
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FAKE_API = ROOT / "tests" / "unit" / "actuals" / "actuals_fake_api.py"
BUCKET = "bench-actuals"
PREFIX = "upload_actuals/"
DEPLOYMENT = "5f0c1f2e3d4c5b6a79881234"
TOKEN = "bench-token"
LATENCY_SECONDS = 0.05
LARGE_ROWS = 1_000_000
SMALL_ROWS = 100_000
TRACED_ROWS = (SMALL_ROWS, LARGE_ROWS)
"""The small file must outgrow the in-flight window (8 chunks), or the pair compares different things."""
REPORT_ROWS = 10_000

# The module's default settings documents, shared with the tests.
_DOCUMENTS = runpy.run_path(str(ROOT / "tests" / "settings_documents.py"))
_BASE_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
}

_HANDLER_CHILD = """
import json, resource, sys, time, tracemalloc
from urllib.parse import quote_plus
key, trace, bucket = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
from mlgw.handlers import report_actuals

class Context:
    aws_request_id = "bench"
    function_name = "bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:111122223333:function:bench"
    def get_remaining_time_in_millis(self):
        return 900_000

event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
          "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key, safe="/")}}}]}
if trace:
    tracemalloc.start()
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime
start = time.perf_counter()
result = report_actuals.lambda_handler(event, Context())
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
peak_traced = tracemalloc.get_traced_memory()[1] if trace else 0
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime - cpu,
                  "rss_kb": usage.ru_maxrss, "traced": peak_traced,
                  "rows": result["results"][0]["rows_sent"]}))
"""

_BASELINE_CHILD = """
import json, resource, sys, time
import boto3, pandas, requests
key, api_url, bucket, deployment, report_rows = sys.argv[1:6]
s3 = boto3.client("s3")
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime
start = time.perf_counter()
token = boto3.client("secretsmanager").get_secret_value(SecretId="bench/actuals-token")["SecretString"]
url = api_url + "/api/v2/deployments/" + deployment + "/actuals/fromJSON/"
lines = s3.get_object(Bucket=bucket, Key=key)["Body"].iter_lines()
header = next(lines).decode().split(",")
sent = 0
def post(rows):
    global sent
    frame = pandas.DataFrame(rows, columns=header)
    response = requests.post(url, data=json.dumps({"data": frame.to_dict("records")}),
                             headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    assert response.status_code == 202, response.status_code
    sent += len(frame)
rows = []
for line in lines:
    rows.append(line.decode().split(","))
    if len(rows) == int(report_rows):
        post(rows)
        rows = []
if rows:
    post(rows)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime - cpu, "rss_kb": usage.ru_maxrss,
                  "traced": 0, "rows": sent, "pandas": pandas.__version__}))
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _moto_server() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.1):
                break
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


class _FakeApiProcess:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(FAKE_API), "--latency", str(LATENCY_SECONDS), "--token", TOKEN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}"

    def requests(self) -> int:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("stats\n")
        self.process.stdin.flush()
        return int(json.loads(self.process.stdout.readline())["requests"])

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=10)


def _write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("associationId,actualValue\r\n")
        block = 10_000
        for start in range(0, rows, block):
            out.write(
                "".join(f"assoc-{i:010d},{(i * 7919) % 1000 / 10}\r\n" for i in range(start, start + block))
            )


def _child(code: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    completed = subprocess.run(
        [sys.executable, "-c", code, *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark child failed: {completed.stderr[-2000:]}")
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def run() -> list[dict[str, Any]]:
    import boto3

    with tempfile.TemporaryDirectory() as scratch, _moto_server() as moto_url:
        api = _FakeApiProcess()
        try:
            env = {**_BASE_ENV, "AWS_ENDPOINT_URL": moto_url, "PYTHONPATH": str(ROOT / "lambda_src")}
            for name in ("PATH", "HOME"):
                env[name] = os.environ.get(name, "")
            session = boto3.Session(
                aws_access_key_id="bench", aws_secret_access_key="bench", region_name="us-east-1"
            )
            s3 = session.client("s3", endpoint_url=moto_url)
            s3.create_bucket(Bucket=BUCKET)
            secret = session.client("secretsmanager", endpoint_url=moto_url).create_secret(
                Name="bench/actuals-token", SecretString=TOKEN
            )
            handler_env = {
                **env,
                "ACTUALS_TOKEN_SECRET_ARN": secret["ARN"],
                "MLGW_SETTINGS": json.dumps(
                    _DOCUMENTS["document"](
                        _DOCUMENTS["ACTUALS"],
                        bucket=BUCKET,
                        ground_truth_bucket=BUCKET,
                        api_url=api.url,
                        report_rows=REPORT_ROWS,
                        status_poll={"interval_seconds": 0.05},
                    )
                ),
            }
            files = {}
            for rows in (SMALL_ROWS, LARGE_ROWS):
                path = Path(scratch) / f"actuals-{rows}.csv"
                _write_csv(path, rows)
                files[rows] = path

            def upload(rows: int) -> str:
                key = f"{PREFIX}{DEPLOYMENT}/bench-{rows}.csv"
                s3.upload_file(str(files[rows]), BUCKET, key)
                return key

            def measure(kind: str, rows: int, trace: bool = False) -> dict[str, Any]:
                key = upload(rows)
                before = api.requests()
                if kind == "handler":
                    result = _child(_HANDLER_CHILD, [key, "1" if trace else "0", BUCKET], handler_env)
                else:
                    result = _child(
                        _BASELINE_CHILD, [key, api.url, BUCKET, DEPLOYMENT, str(REPORT_ROWS)], env
                    )
                    s3.delete_object(Bucket=BUCKET, Key=key)
                result["requests"] = api.requests() - before
                if result["rows"] != rows:
                    raise RuntimeError(f"{kind} delivered {result['rows']} of {rows} rows")
                return result

            baseline = measure("baseline", LARGE_ROWS)
            large = measure("handler", LARGE_ROWS)
            small = measure("handler", SMALL_ROWS)
            traced = [measure("handler", rows, trace=True) for rows in TRACED_ROWS]
        finally:
            api.close()
    return _rows(baseline, large, small, traced)


def _rows(
    baseline: dict[str, Any], large: dict[str, Any], small: dict[str, Any], traced: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    def row(metric: str, value: float, unit: str, target: str | None = None) -> dict[str, Any]:
        return {"benchmark": "actuals", "metric": metric, "value": value, "unit": unit, "target": target}

    million = LARGE_ROWS
    return [
        row("handler_wall_1m_rows", large["wall"], "s"),
        row("handler_cpu_1m_rows", large["cpu"], "s"),
        row("handler_throughput", million / large["wall"], "rows/s"),
        row("handler_requests_1m_rows", large["requests"], "requests"),
        row("handler_peak_rss_1m_rows", large["rss_kb"] / 1024, "MB", "< 80"),
        row("handler_peak_rss_100k_rows", small["rss_kb"] / 1024, "MB"),
        row("handler_rss_growth_100k_to_1m", large["rss_kb"] / small["rss_kb"], "ratio", "<= 1.15"),
        row("handler_traced_peak_100k_rows", traced[0]["traced"] / 2**20, "MB"),
        row("handler_traced_peak_1m_rows", traced[1]["traced"] / 2**20, "MB"),
        row(
            "handler_traced_peak_growth_10x_rows",
            traced[1]["traced"] / traced[0]["traced"],
            "ratio",
            "<= 1.15",
        ),
        row("baseline_wall_1m_rows", baseline["wall"], "s"),
        row("baseline_cpu_1m_rows", baseline["cpu"], "s"),
        row("baseline_throughput", million / baseline["wall"], "rows/s"),
        row("baseline_requests_1m_rows", baseline["requests"], "requests"),
        row("baseline_peak_rss_1m_rows", baseline["rss_kb"] / 1024, "MB"),
        row("baseline_uses_pandas", float(bool(baseline.get("pandas"))), "bool"),
        row("throughput_vs_baseline", baseline["wall"] / large["wall"], "x", ">= 4"),
        row("cpu_vs_baseline", large["cpu"] / baseline["cpu"], "ratio", "<= 0.5"),
    ]


if __name__ == "__main__":
    for result in run():
        print(json.dumps(result))
