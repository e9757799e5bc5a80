"""Helpers for the actuals tests: canonical events, CSV builders and a harness around the handler."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
from actuals_fake_api import FakeActualsApi

from mlgw.actuals.settings import ActualsSettings, load_settings
from mlgw.handlers import report_actuals

BUCKET = "actuals-bucket"
PREFIX = "upload_actuals/"
DEPLOYMENT = "5f0c1f2e3d4c5b6a79881234"
TOKEN = "tok-3f9a1c7e5b2d-secret"
EVENTS = Path(__file__).resolve().parents[2] / "events"


@dataclass
class FakeContext:
    """The attributes of Lambda's context object the handler and Powertools read."""

    aws_request_id: str = "req-1"
    remaining: Callable[[], float] = lambda: 600.0
    function_name: str = "churn-report-actuals"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:111122223333:function:churn-report-actuals"

    def get_remaining_time_in_millis(self) -> int:
        return int(self.remaining() * 1000)


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def s3_event(*keys: str, bucket: str = BUCKET) -> dict[str, Any]:
    """A bucket notification with one record per key, encoded the way S3 encodes it."""
    template = load_event("s3_actuals_object_created.json")["Records"][0]
    records = []
    for key in keys:
        record = json.loads(json.dumps(template))
        record["s3"]["bucket"]["name"] = bucket
        record["s3"]["object"]["key"] = quote_plus(key, safe="/")
        records.append(record)
    return {"Records": records}


def eventbridge_event(key: str) -> dict[str, Any]:
    event = load_event("eventbridge_actuals_object_created.json")
    event["detail"]["object"]["key"] = quote_plus(key, safe="/")
    return event


def csv_text(count: int, *, start: int = 0, header: str = "associationId,actualValue") -> str:
    lines = [header] + [f"id-{index:06d},{index % 7}" for index in range(start, start + count)]
    return "\r\n".join(lines) + "\r\n"


class Harness:
    """One moto account, one fake API and a way to build the handler's runtime against them."""

    def __init__(self, api: FakeActualsApi, monkeypatch: pytest.MonkeyPatch) -> None:
        self.api = api
        self.monkeypatch = monkeypatch
        self.s3 = boto3.client("s3", region_name="us-east-1")
        self.s3.create_bucket(Bucket=BUCKET)
        secrets = boto3.client("secretsmanager", region_name="us-east-1")
        self.secrets = secrets
        self.secret_arn = secrets.create_secret(Name="churn/actuals-token", SecretString=TOKEN)["ARN"]
        self.env: dict[str, str] = {
            "ACTUALS_BUCKET": BUCKET,
            "ACTUALS_PREFIX": PREFIX,
            "ACTUALS_API_URL": api.url,
            "ACTUALS_TOKEN_SECRET_ARN": self.secret_arn,
            "ACTUALS_REPORT_ROWS": "10",
            "ACTUALS_BACKOFF_BASE_SECONDS": "0.001",
            "ACTUALS_BACKOFF_MAX_SECONDS": "0.01",
            "ACTUALS_POLL_INTERVAL_SECONDS": "0.001",
            "ACTUALS_POLL_MAX_INTERVAL_SECONDS": "0.005",
            "ACTUALS_HTTP_READ_TIMEOUT": "2",
            "ACTUALS_HTTP_MAX_RETRIES": "3",
            "ACTUALS_TIME_MARGIN_SECONDS": "1",
        }

    def settings(self, **overrides: str) -> ActualsSettings:
        return load_settings({**self.env, **overrides})

    def use(self, **overrides: str) -> report_actuals.Runtime:
        """Build the runtime exactly as a cold start would, with these settings."""
        current = report_actuals.build_runtime(self.settings(**overrides))
        self.monkeypatch.setattr(report_actuals, "runtime", lambda: current)
        return current

    def put(self, key: str, body: str | bytes) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def object_keys(self) -> list[str]:
        response = self.s3.list_objects_v2(Bucket=BUCKET)
        return sorted(item["Key"] for item in response.get("Contents", []))

    def report(self, key: str) -> dict[str, Any]:
        return json.loads(self.get(key + ".report.json"))

    def invoke(self, event: dict[str, Any], context: FakeContext | None = None) -> dict[str, Any]:
        return report_actuals.lambda_handler(event, context or FakeContext())
