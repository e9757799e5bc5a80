"""Benchmarks of the prediction function: warm overhead, cold import cost, package size.

Every timing runs in a fresh interpreter with its own environment, so the figures do not
depend on what the calling process imported, and the two sides of each ratio are measured
alternately in the same run: on a busy machine only a ratio taken side by side means much.
"""

from __future__ import annotations

import io
import json
import os
import runpy
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LAMBDA_SRC = ROOT / "lambda_src"
EVENT = ROOT / "tests" / "events" / "apigw_predict_post_record.json"
COLD_RUNS = 9
WARM_REQUESTS = 3000

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
    "MLGW_SETTINGS": json.dumps(
        _DOCUMENTS["document"](
            _DOCUMENTS["PREDICT"], models={"default": {"backend": "sagemaker", "endpoint_name": "bench"}}
        )
    ),
    "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    # Lambda cannot write bytecode next to the package, so the handler's own modules compile
    # on every cold start while the runtime's boto3 has its bytecode cached; the same here.
    "PYTHONDONTWRITEBYTECODE": "1",
}
# The routing table read from an SSM parameter instead: the import builds the parameter reader.
_PARAMETER_SETTINGS = json.dumps(
    _DOCUMENTS["document"](
        _DOCUMENTS["PREDICT"], models_parameter={"name": "/bench/models", "cache_ttl_seconds": 60}
    )
)

_BASELINE = """
import time
start = time.perf_counter()
import boto3
boto3.client("sagemaker-runtime")
print(time.perf_counter() - start)
"""

_HANDLER = """
import time
start = time.perf_counter()
import mlgw.handlers.predict
print(time.perf_counter() - start)
"""

_WARM = """
import contextlib, json, os, sys, time
from mlgw.backends.base import ModelResponse
import mlgw.handlers.predict as handler

class FixedBackend:
    def predict(self, payload, *, inference_id):
        return ModelResponse(b'{"predictions": [0.82]}', "application/json")

type(handler.CLIENTS).backend_for = lambda self, route: FixedBackend()

class Context:
    function_name = "bench"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id = "bench"

event = json.loads(open(sys.argv[1]).read())
context = Context()
samples = []
with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
    for index in range(int(sys.argv[2])):
        start = time.perf_counter()
        result = handler.lambda_handler(event, context)
        samples.append(time.perf_counter() - start)
        assert result["statusCode"] == 200, result
print(json.dumps(samples))
"""


def _python(code: str, package: Path, *args: str, extra_env: dict[str, str] | None = None) -> str:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_"))}, **_ENV}
    env.update({"PYTHONPATH": str(package), **(extra_env or {})})
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True, timeout=300
    )
    return done.stdout.strip().splitlines()[-1]


def _cold_import(package: Path, tracing: bool, *, parameter: bool = False) -> tuple[float, float]:
    """Median handler import and median baseline, alternating runs so load hits both alike.
    LAMBDA_TASK_ROOT makes Powertools believe it runs in Lambda, where tracing is not skipped."""
    extra = {"TRACING_ENABLED": "true", "LAMBDA_TASK_ROOT": str(package)} if tracing else {}
    if parameter:
        extra["MLGW_SETTINGS"] = _PARAMETER_SETTINGS
    handler, baseline = [], []
    for _ in range(COLD_RUNS):
        baseline.append(float(_python(_BASELINE, package)))
        handler.append(float(_python(_HANDLER, package, extra_env=extra)))
    return statistics.median(handler), statistics.median(baseline)


def _warm(package: Path) -> list[float]:
    return json.loads(_python(_WARM, package, str(EVENT), str(WARM_REQUESTS)))[WARM_REQUESTS // 10 :]


def package_zip(source: Path = LAMBDA_SRC) -> bytes:
    """The deployment package, byte-for-byte reproducible: sorted names, fixed timestamps."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts or path.suffix == ".pyc":
                continue
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return buffer.getvalue()


def _row(metric: str, value: float, unit: str, target: str | None) -> dict[str, Any]:
    return {
        "benchmark": "predict",
        "metric": metric,
        "value": round(value, 4),
        "unit": unit,
        "target": target,
    }


def run() -> list[dict[str, Any]]:
    archive = package_zip()
    with tempfile.TemporaryDirectory() as unpacked:
        # Measure the deployment package itself, not the working tree with its bytecode caches.
        package = Path(unpacked)
        with zipfile.ZipFile(io.BytesIO(archive)) as extracted:
            extracted.extractall(package)
        warm = sorted(_warm(package))
        off_handler, off_baseline = _cold_import(package, tracing=False)
        on_handler, on_baseline = _cold_import(package, tracing=True)
        ssm_handler, ssm_baseline = _cold_import(package, tracing=False, parameter=True)
    p50 = statistics.median(warm) * 1000
    p99 = warm[int(len(warm) * 0.99) - 1] * 1000
    size = len(archive)
    return [
        _row("warm_overhead_p50", p50, "ms", "< 1 ms"),
        _row("warm_overhead_p99", p99, "ms", None),
        _row(
            "cold_import_ratio_tracing_off", off_handler / off_baseline, "x", "<= 1.5x import boto3 + client"
        ),
        _row("cold_import_ms_tracing_off", off_handler * 1000, "ms", None),
        _row("cold_import_baseline_ms", off_baseline * 1000, "ms", None),
        _row("cold_import_ratio_tracing_on", on_handler / on_baseline, "x", None),
        _row("cold_import_ms_tracing_on", on_handler * 1000, "ms", None),
        _row("cold_import_ratio_models_parameter", ssm_handler / ssm_baseline, "x", None),
        _row("cold_import_ms_models_parameter", ssm_handler * 1000, "ms", None),
        _row("deployment_zip_size", size / 1024, "KB", "< 200 KB"),
    ]


if __name__ == "__main__":
    for row in run():
        print(json.dumps(row))
