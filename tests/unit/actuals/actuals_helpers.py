"""Helpers for the actuals tests: canonical events, CSV builders and a harness around the handler."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
import settings_documents
from actuals_fake_api import FakeActualsApi

from mlgw.actuals.settings import ActualsSettings, load_settings
from mlgw.handlers import report_actuals

BUCKET = "actuals-bucket"
PREFIX = "upload_actuals/"
PROCESSED = "upload_actuals-processed/"
FAILED = "upload_actuals-failed/"
STATE = "upload_actuals-state/"
GROUND_TRUTH = "upload_actuals-ground-truth/"
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


def sibling_prefixes(prefix: str) -> dict[str, str]:
    """The output prefixes the module puts next to a trigger prefix."""
    base = prefix.rstrip("/")
    return {
        "processed_prefix": f"{base}-processed/",
        "failed_prefix": f"{base}-failed/",
        "state_prefix": f"{base}-state/",
        "ground_truth_prefix": f"{base}-ground-truth/",
    }


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
        self.env: dict[str, str] = {"ACTUALS_TOKEN_SECRET_ARN": self.secret_arn}
        # Powertools reads the metrics namespace from the environment, where the module sets it.
        monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "MlGateway")
        # The module's defaults, made quick: short backoff, polls and margin, small requests.
        self.fields: dict[str, Any] = {
            "bucket": BUCKET,
            "prefix": PREFIX,
            **sibling_prefixes(PREFIX),
            "ground_truth_bucket": BUCKET,
            "api_url": api.url,
            "report_rows": 10,
            "http": {
                "backoff_base_seconds": 0.001,
                "backoff_max_seconds": 0.01,
                "read_timeout_seconds": 2,
                "max_retries": 3,
            },
            "status_poll": {"interval_seconds": 0.001, "max_interval_seconds": 0.005},
            "time_margin_seconds": 1,
        }

    def environment(self, **fields: Any) -> dict[str, str]:
        merged = settings_documents.document(settings_documents.ACTUALS, **self.fields)
        return {**self.env, **settings_documents.environment(merged, **fields)}

    def settings(self, **fields: Any) -> ActualsSettings:
        return load_settings(self.environment(**fields))

    def use(self, **fields: Any) -> report_actuals.Runtime:
        """Build the runtime exactly as a cold start would, with these settings fields."""
        current = report_actuals.build_runtime(self.settings(**fields))
        self.monkeypatch.setattr(report_actuals, "runtime", lambda: current)
        return current

    def put(self, key: str, body: str | bytes) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=data)

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()

    def object_keys(self) -> list[str]:
        """Every key but the deployments' budget objects, which outlive the files by design."""
        return [key for key in self.all_keys() if not key.endswith(".budget.json")]

    def all_keys(self) -> list[str]:
        response = self.s3.list_objects_v2(Bucket=BUCKET)
        return sorted(item["Key"] for item in response.get("Contents", []))

    def report(self, key: str) -> dict[str, Any]:
        return json.loads(self.get(key + ".report.json"))

    def invoke(self, event: dict[str, Any], context: FakeContext | None = None) -> dict[str, Any]:
        return report_actuals.lambda_handler(event, context or FakeContext())


def assert_each_delivered_once(received: list[str], expected: list[str]) -> None:
    """The receiver got exactly the ``expected`` associationIds, none of them twice."""
    counts = Counter(received)
    assert sorted(counts) == sorted(expected)
    assert set(counts.values()) <= {1}, {k: v for k, v in counts.items() if v > 1}


def ids_by_line(body: str | bytes) -> dict[int, str]:
    """The associationId each physical data line starts with, by line number (the header is
    line 1): the ids a user would count in the file, whatever its quoting does to the rows."""
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    lines = text.splitlines()
    header = next(csv.reader(io.StringIO(lines[0])), []) if lines else []
    position = header.index("associationId") if "associationId" in header else 0
    ids: dict[int, str] = {}
    for number, line in enumerate(lines[1:], start=2):
        if line.strip():
            fields = line.split(",")
            ids[number] = fields[position] if position < len(fields) else fields[0]
    return ids


def ground_truth_ids(harness: Harness) -> list[str]:
    """eventIds of every ground-truth record the Model Monitor sink wrote."""
    return [
        json.loads(line)["eventMetadata"]["eventId"]
        for key in harness.object_keys()
        if key.startswith(GROUND_TRUTH)
        for line in harness.get(key).decode().splitlines()
    ]
