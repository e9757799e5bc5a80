"""Helpers for the batch prediction tests (imported by name; conftest only wires fixtures)."""

from __future__ import annotations

import copy
import importlib
import json
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from batch_fake_model import FakeSageMakerRuntime

from mlgw.backends.clients import build_model_clients
from mlgw.batch.pipeline import BatchPredictor
from mlgw.batch.settings import load_settings
from mlgw.pipeline.objects import Invocation

EVENTS = Path(__file__).resolve().parents[2] / "events"
BUCKET = "batch-bucket"
INPUT = "batch/in/"
OUTPUT = "batch/out/"
ERRORS = "batch/errors/"
HANDLER = "mlgw.handlers.batch_predict"
CSV_MODEL = {"default": {"backend": "sagemaker", "endpoint_name": "churn-prod", "content_type": "text/csv"}}


@dataclass
class FakeContext:
    remaining_ms: int = 900_000
    function_name: str = "churn-batch-predict"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:churn-batch-predict"
    memory_limit_in_mb: int = 1024
    aws_request_id: str = "7a1e9a2c-0000-4000-8000-batchrequest"
    log_group_name: str = "/aws/lambda/churn-batch-predict"
    log_stream_name: str = "2025/03/12/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def load_event(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EVENTS / name).read_text()))


def notification(*keys: str, bucket: str = BUCKET) -> dict[str, Any]:
    """An S3 notification with URL-encoded keys, as S3 sends them."""
    return {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key, safe="/")}},
            }
            for key in keys
        ]
    }


def csv_rows(count: int, *, start: int = 1) -> list[str]:
    """`id,x,y` rows whose prediction (x + y, the id is not a feature) is easy to check."""
    return [f"id-{index},{index},{index * 0.5}" for index in range(start, start + count)]


def expected(index: int) -> float:
    return round(index + index * 0.5, 6)


class Harness:
    def __init__(self, model: FakeSageMakerRuntime, monkeypatch: pytest.MonkeyPatch) -> None:
        self.model = model
        self.monkeypatch = monkeypatch
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.s3.create_bucket(Bucket=BUCKET)
        self.env: dict[str, str] = {
            "BATCH_BUCKET": BUCKET,
            "BATCH_INPUT_PREFIX": INPUT,
            "BATCH_OUTPUT_PREFIX": OUTPUT,
            "BATCH_ERROR_PREFIX": ERRORS,
            "BATCH_ID_COLUMN": "id",
            "BATCH_SIZE": "50",
            "BATCH_BACKOFF_BASE_SECONDS": "0.01",
            "MODELS_JSON": json.dumps(CSV_MODEL),
            "MODEL_MAX_ATTEMPTS": "1",
            "MODEL_READ_TIMEOUT_SECONDS": "5",
            "SAGEMAKER_RUNTIME_ENDPOINT_URL": model.url,
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        self.context = FakeContext()

    def configure(self, **env: str) -> None:
        self.env.update(env)

    def handler(self) -> ModuleType:
        """The handler as a new container imports it, under the current environment."""
        for name, value in self.env.items():
            self.monkeypatch.setenv(name, value)
        self.unload()
        return importlib.import_module(HANDLER)

    def unload(self) -> None:
        sys.modules.pop(HANDLER, None)

    def run(self, event: dict[str, Any]) -> dict[str, Any]:
        return dict(self.handler().lambda_handler(event, self.context))

    def predictor(self, sagemaker: Any = None) -> BatchPredictor:
        """The pipeline without the handler, for tests that inject a client."""
        settings = load_settings(self.env)
        clients = build_model_clients(
            settings.model_budget, retry_after=1, sagemaker_runtime_endpoint_url=self.model.url
        )
        return BatchPredictor(
            settings,
            self.s3,
            clients.backend_for(settings.route),
            logging.getLogger("test"),
            sagemaker=sagemaker,
        )

    def invocation(self, remaining: float = 900.0) -> Invocation:
        return Invocation("test-request", lambda: remaining)

    def put(self, key: str, body: bytes | str, **extra: Any) -> str:
        data = body.encode("utf-8") if isinstance(body, str) else body
        return str(self.s3.put_object(Bucket=BUCKET, Key=key, Body=data, **extra)["ETag"])

    def get(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())

    def text(self, key: str) -> str:
        return self.get(key).decode("utf-8")

    def metadata(self, key: str) -> dict[str, str]:
        return dict(self.s3.head_object(Bucket=BUCKET, Key=key)["Metadata"])

    def exists(self, key: str) -> bool:
        return "Contents" in self.s3.list_objects_v2(Bucket=BUCKET, Prefix=key)

    def errors(self, relative_key: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text(f"{ERRORS}{relative_key}.errors.jsonl").splitlines()]

    def report(self, relative_key: str) -> dict[str, Any]:
        return dict(json.loads(self.get(f"{ERRORS}{relative_key}.report.json")))

    def output_rows(self, relative_key: str) -> list[str]:
        return self.text(f"{OUTPUT}{relative_key}").splitlines()
