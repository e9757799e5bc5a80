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
import settings_documents
from batch_fake_model import FakeSageMakerRuntime

from mlgw.backends.clients import CallBudget, build_model_clients
from mlgw.batch.pipeline import BatchPredictor
from mlgw.batch.settings import call_worst_case_seconds, load_settings
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


def batch_fields(base: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
    """`base` (the module's default batch document) with these fields, sections merged; the time
    margin follows model_call as the module's default does, unless it is given."""
    route = fields.pop("route", None)  # a route is replaced whole, never merged
    document = settings_documents.document(base or settings_documents.BATCH, **fields)
    if route is not None:
        document["route"] = route
    if "time_margin_seconds" not in fields and (base is None or "model_call" in fields):
        call = document["model_call"]
        budget = CallBudget(
            call["connect_timeout_seconds"], call["read_timeout_seconds"], call["max_attempts"]
        )
        document["time_margin_seconds"] = call_worst_case_seconds(budget) + 30
    if isinstance(document["transform"], dict):
        document["transform"] = {**settings_documents.TRANSFORM, **document["transform"]}
    return document


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
        self.env: dict[str, str] = {"POWERTOOLS_LOG_LEVEL": "WARNING"}
        self.fields = batch_fields(
            bucket=BUCKET,
            input_prefix=INPUT,
            output_prefix=OUTPUT,
            error_prefix=ERRORS,
            id_column="id",
            batch_size=50,
            batch_retry={"backoff_base_seconds": 0.01},
            route=CSV_MODEL["default"],
            model_call={"max_attempts": 1, "read_timeout_seconds": 5},
        )
        # boto3 reads a service's endpoint URL from the environment, as local mode sets it.
        monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME", model.url)
        self.context = FakeContext()

    def configure(self, **settings: Any) -> None:
        """Document fields by name, or the environment variables tests set (POWERTOOLS_*)."""
        self.env.update({name: value for name, value in settings.items() if name.isupper()})
        self.fields = batch_fields(self.fields, **{n: v for n, v in settings.items() if not n.isupper()})

    def environment(self) -> dict[str, str]:
        return {**self.env, **settings_documents.environment(self.fields)}

    def handler(self) -> ModuleType:
        """The handler as a new container imports it, under the current environment."""
        for name, value in self.environment().items():
            self.monkeypatch.setenv(name, value)
        self.unload()
        return importlib.import_module(HANDLER)

    def unload(self) -> None:
        sys.modules.pop(HANDLER, None)

    def run(self, event: dict[str, Any]) -> dict[str, Any]:
        return dict(self.handler().lambda_handler(event, self.context))

    def predictor(self, sagemaker: Any = None) -> BatchPredictor:
        """The pipeline without the handler, for tests that inject a client."""
        settings = load_settings(self.environment())
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
