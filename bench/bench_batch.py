"""Benchmark of batch prediction: the handler against one model call per row, then its memory.

Every party runs in its own process: S3 is a moto server, the model is the test suite's
SageMaker-runtime-compatible fake adding 2 ms to every call, and each measured run (the handler,
or the baseline) is a fresh interpreter whose own peak RSS is its footprint. The baseline is the
approach of most published examples: read the object line by line and call InvokeEndpoint once
per row, then put the output. Both sides score the same 10,000-row file in the same run, so the
ratios hold on a busy machine; the handler then runs alone on 100,000 and 1,000,000 rows.

The handler's CPU time on 1,000,000 rows is set beside two floors measured on the same object in
the same run: a bare streaming pass of the csv module over it, and as many bare InvokeEndpoint
calls as the handler made. Its model calls are set beside the fewest the batching rule allows
for the file (rows per call, and row text per call), and from its CPU rate follows the largest
file one invocation of a 1,024 MB function can finish within Lambda's 15 minutes. Rows with a
target say whether this run met it.
"""

from __future__ import annotations

import json
import math
import os
import runpy
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FAKE_MODEL = ROOT / "tests" / "unit" / "batch" / "batch_fake_model.py"
BUCKET = "bench-batch"
INPUT = "batch/in/"
MODEL_DELAY_SECONDS = 0.002
COMPARED_ROWS = 10_000
MEMORY_ROWS = (100_000, 1_000_000)
MARKER = "BENCH-RESULT "
"""How a measured child marks its result line; log lines may come before it."""

# The module's default settings documents, shared with the tests.
_DOCUMENTS = runpy.run_path(str(ROOT / "tests" / "settings_documents.py"))
_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "MLGW_SETTINGS": json.dumps(
        _DOCUMENTS["document"](
            _DOCUMENTS["BATCH"],
            bucket=BUCKET,
            input_prefix=INPUT,
            id_column="id",
            route={"backend": "sagemaker", "endpoint_name": "bench", "content_type": "text/csv"},
        )
    ),
}

_MOTO_SERVER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""

_HANDLER = """
import json, resource, sys, time
from urllib.parse import quote_plus
from mlgw.handlers import batch_predict

class Context:
    aws_request_id = "bench"
    function_name = "bench"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:us-east-1:111122223333:function:bench"
    def get_remaining_time_in_millis(self):
        return 900_000

event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put",
          "s3": {"bucket": {"name": sys.argv[1]}, "object": {"key": quote_plus(sys.argv[2], safe="/")}}}]}
start, cpu = time.perf_counter(), time.process_time()
outcome = batch_predict.lambda_handler(event, Context())["results"][0]
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
settings = batch_predict.runtime().settings
print("BENCH-RESULT " + json.dumps({"wall": wall, "cpu": cpu, "rows": outcome["rows"],
                        "errors": outcome["error_rows"],
                        "margin": settings.time_margin, "batch_size": settings.batch_size,
                        "max_payload_bytes": settings.route.max_payload_bytes,
                        "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

# The floor the handler's CPU is compared with: one plain streaming pass of the csv module over
# the same S3 object, nothing done with the rows.
_PARSE_FLOOR = """
import csv, io, json, resource, sys, time
import boto3
bucket, key = sys.argv[1:3]
start, cpu = time.perf_counter(), time.process_time()
body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"]
rows = sum(1 for _ in csv.reader(io.TextIOWrapper(body, encoding="utf-8", newline=""))) - 1
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
print("BENCH-RESULT " + json.dumps({"wall": wall, "cpu": cpu, "rows": rows, "errors": 0,
                        "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

# What the SDK alone costs for the handler's model calls: as many bare InvokeEndpoint calls, one
# after another, each with a body of one batch of the file's rows.
_CALL_FLOOR = """
import json, resource, sys, time
import boto3
bucket, key, model_url = sys.argv[1:4]
calls, rows = int(sys.argv[4]), int(sys.argv[5])
runtime = boto3.client("sagemaker-runtime", endpoint_url=model_url)
head = boto3.client("s3").get_object(Bucket=bucket, Key=key, Range="bytes=0-262143")["Body"].read()
lines = head.decode().split("\\n")[1:-1]
per_call = -(-rows // calls)
batch = (lines * (per_call // len(lines) + 1))[:per_call]
body = ("\\n".join(line.split(",", 1)[1] for line in batch) + "\\n").encode()
start, cpu = time.perf_counter(), time.process_time()
for _ in range(calls):
    answer = runtime.invoke_endpoint(EndpointName="bench", Body=body, ContentType="text/csv",
                                     Accept="application/json")
    json.loads(answer["Body"].read())
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
print("BENCH-RESULT " + json.dumps({"wall": wall, "cpu": cpu, "rows": rows, "errors": 0,
                        "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""

_BASELINE = """
import json, resource, sys, time
import boto3
bucket, key, model_url = sys.argv[1:4]
s3 = boto3.client("s3")
runtime = boto3.client("sagemaker-runtime", endpoint_url=model_url)
start = time.perf_counter()
lines = s3.get_object(Bucket=bucket, Key=key)["Body"].iter_lines()
header = next(lines).decode()
out = [header + ",prediction"]
for line in lines:
    text = line.decode()
    features = text.split(",", 1)[1]
    answer = runtime.invoke_endpoint(EndpointName="bench", Body=features, ContentType="text/csv",
                                     Accept="application/json", InferenceId=text.split(",", 1)[0])
    out.append(text + "," + str(json.loads(answer["Body"].read())["predictions"][0]))
s3.put_object(Bucket=bucket, Key="batch/baseline/" + key, Body="\\n".join(out).encode())
wall = time.perf_counter() - start
print("BENCH-RESULT " + json.dumps({"wall": wall, "rows": len(out) - 1, "errors": 0,
                        "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


class _Service:
    """A child process that prints its port first and stops when its stdin closes."""

    def __init__(self, *command: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, *command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env={**os.environ, **_ENV},
        )
        assert self.process.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.process.stdout.readline())}"

    def ask(self, question: str) -> str:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(question + "\n")
        self.process.stdin.flush()
        return self.process.stdout.readline().strip()

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


def _write_csv(path: Path, rows: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("id,tenure,monthly_charges,plan\n")
        block = 10_000
        for start in range(0, rows, block):
            out.write(
                "".join(
                    f"cust-{i:09d},{i % 72},{(i * 7919) % 10000 / 100},{i % 3}\n"
                    for i in range(start, min(rows, start + block))
                )
            )


def _measure(code: str, args: list[str], env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False, timeout=900
    )
    for line in reversed(done.stdout.splitlines()):
        if line.startswith(MARKER):
            return dict(json.loads(line[len(MARKER) :]))
    raise RuntimeError(f"benchmark child failed: {done.stderr[-2000:]}")


def run() -> list[dict[str, Any]]:
    import boto3

    moto = _Service("-c", _MOTO_SERVER)
    model = _Service(str(FAKE_MODEL), "--delay", str(MODEL_DELAY_SECONDS))
    try:
        env = {
            **{name: os.environ[name] for name in ("PATH", "HOME") if name in os.environ},
            **_ENV,
            "PYTHONPATH": str(ROOT / "lambda_src"),
            "AWS_ENDPOINT_URL_S3": moto.url,
            "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": model.url,
        }
        s3 = boto3.client(
            "s3",
            endpoint_url=moto.url,
            region_name="us-east-1",
            aws_access_key_id="bench",
            aws_secret_access_key="bench",
        )
        s3.create_bucket(Bucket=BUCKET)
        results: dict[str, dict[str, Any]] = {}
        with tempfile.TemporaryDirectory() as scratch:
            for rows in (COMPARED_ROWS, *MEMORY_ROWS):
                path = Path(scratch) / f"rows-{rows}.csv"
                _write_csv(path, rows)
                s3.upload_file(str(path), BUCKET, f"{INPUT}rows-{rows}.csv")
                path.unlink()

        def measure(name: str, code: str, rows: int, *extra: str) -> None:
            before = int(model.ask("calls"))
            result = _measure(code, [BUCKET, f"{INPUT}rows-{rows}.csv", *extra], env)
            result["calls"] = int(model.ask("calls")) - before
            if result["rows"] != rows:
                raise RuntimeError(f"{name} scored {result['rows']} of {rows} rows")
            results[name] = result

        measure("baseline", _BASELINE, COMPARED_ROWS, model.url)
        measure("handler", _HANDLER, COMPARED_ROWS)
        for rows in MEMORY_ROWS:
            measure(f"handler_{rows}", _HANDLER, rows)
        # Side by side with the 1M-row handler run, on the same object.
        large = MEMORY_ROWS[1]
        measure("parse_floor", _PARSE_FLOOR, large)
        calls = str(results[f"handler_{large}"]["calls"])
        measure("call_floor", _CALL_FLOOR, large, model.url, calls, str(large))
        key = f"{INPUT}rows-{large}.csv"
        head = s3.head_object(Bucket=BUCKET, Key=key)
        first = s3.get_object(Bucket=BUCKET, Key=key, Range="bytes=0-4095")["Body"].read()
        results["input_bytes"] = {"bytes": head["ContentLength"], "header_bytes": first.index(b"\n") + 1}
    finally:
        model.close()
        moto.close()
    return _rows(results)


LAMBDA_VCPU_AT_1024_MB = 1024 / 1769
"""Lambda gives one vCPU's worth of CPU at 1,769 MB and scales it with memory:
https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html"""
LAMBDA_TIMEOUT_SECONDS = 900


CPU_RATIO_TARGET = 3.0
"""Handler CPU per row at most this many times a bare streaming parse of the same object."""
CALL_RATIO_TARGET = 1.05
"""Model calls at most this many times the fewest the settings allow for the file."""


def minimum_calls(rows: int, row_bytes: int, batch_size: int, max_payload_bytes: int) -> int:
    """The fewest calls the batching rule allows: at most `batch_size` rows a call, and at most
    half the route's payload limit of row text (each row counted with its line break)."""
    return max(math.ceil(rows / batch_size), math.ceil(row_bytes / (max_payload_bytes // 2)))


def _rows(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    def row(
        metric: str, value: float, unit: str, target: str | None = None, met: bool | None = None
    ) -> dict[str, Any]:
        return {
            "benchmark": "batch",
            "metric": metric,
            "value": round(value, 4),
            "unit": unit,
            "target": target,
            **({} if met is None else {"met": met}),
        }

    handler, baseline = results["handler"], results["baseline"]
    small, large = (results[f"handler_{rows}"] for rows in MEMORY_ROWS)
    parse_floor, call_floor = results["parse_floor"], results["call_floor"]
    input_bytes = results["input_bytes"]["bytes"]
    fewest_calls = minimum_calls(
        MEMORY_ROWS[1],
        input_bytes - results["input_bytes"]["header_bytes"],
        large["batch_size"],
        large["max_payload_bytes"],
    )
    call_ratio = large["calls"] / fewest_calls
    cpu_ratio = large["cpu"] / parse_floor["cpu"]
    handler_rate = COMPARED_ROWS / handler["wall"]
    # CPU-bound estimate: the 1M-row run's input bytes per CPU second, at the vCPU share of a
    # 1,024 MB function, over the time a 15-minute invocation leaves before its margin.
    bytes_per_cpu_second = input_bytes / large["cpu"]
    usable_seconds = LAMBDA_TIMEOUT_SECONDS - large["margin"]
    max_file_mb = bytes_per_cpu_second * LAMBDA_VCPU_AT_1024_MB * usable_seconds / 1e6
    max_file_rows = MEMORY_ROWS[1] / large["cpu"] * LAMBDA_VCPU_AT_1024_MB * usable_seconds
    baseline_rate = COMPARED_ROWS / baseline["wall"]
    speedup = handler_rate / baseline_rate
    fewer = baseline["calls"] / handler["calls"]
    growth = large["rss_kb"] / small["rss_kb"]
    return [
        row("handler_rows_per_s_10k", handler_rate, "rows/s"),
        row("baseline_rows_per_s_10k", baseline_rate, "rows/s"),
        row("throughput_vs_baseline", speedup, "x", ">= 10", speedup >= 10),
        row("handler_model_calls_10k", handler["calls"], "calls"),
        row("baseline_model_calls_10k", baseline["calls"], "calls"),
        row("fewer_calls_vs_baseline", fewer, "x", ">= 50", fewer >= 50),
        row("handler_rows_per_s_1m", MEMORY_ROWS[1] / large["wall"], "rows/s"),
        row(
            "handler_peak_rss_100k_rows", small["rss_kb"] / 1024, "MB", "< 150", small["rss_kb"] < 150 * 1024
        ),
        row("handler_peak_rss_1m_rows", large["rss_kb"] / 1024, "MB", "< 150", large["rss_kb"] < 150 * 1024),
        row("handler_rss_growth_100k_to_1m", growth, "ratio", "<= 1.15", growth <= 1.15),
        row("handler_cpu_s_1m", large["cpu"], "s"),
        row("parse_floor_cpu_s_1m", parse_floor["cpu"], "s"),
        row(
            "handler_cpu_vs_parse_floor_1m",
            cpu_ratio,
            "x",
            f"<= {CPU_RATIO_TARGET:g}",
            cpu_ratio <= CPU_RATIO_TARGET,
        ),
        row("handler_model_calls_1m", large["calls"], "calls"),
        row("minimum_model_calls_1m", fewest_calls, "calls"),
        row(
            "handler_calls_vs_minimum_1m",
            call_ratio,
            "x",
            f"<= {CALL_RATIO_TARGET:g}",
            call_ratio <= CALL_RATIO_TARGET,
        ),
        row("sdk_call_floor_cpu_s_1m", call_floor["cpu"], "s"),
        row(
            "handler_cpu_vs_parse_and_call_floor_1m",
            large["cpu"] / (parse_floor["cpu"] + call_floor["cpu"]),
            "x",
        ),
        row("max_file_mb_15min_1024mb", max_file_mb, "MB"),
        row("max_file_rows_15min_1024mb", max_file_rows, "rows"),
    ]


if __name__ == "__main__":
    for result in run():
        print(json.dumps(result))
