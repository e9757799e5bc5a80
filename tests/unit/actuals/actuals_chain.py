"""A file far longer than one invocation, reported by a chain of them under a quota.

The harness behind the hand-off benchmark (bench/bench_handoffs.py) and its fast test
(test_actuals_handoff_chain.py). S3 and Secrets Manager are moto; the actuals API is the local
mode's receiver with a quota of ``quota`` actuals per ``window_seconds``; Lambda's Invoke API is
the local HTTP fake the redrive tests use. Each invocation gets a context whose remaining time
counts down from ``deadline_seconds``; after it returns, the harness takes the asynchronous
invoke it queued (the continuation event) from the fake and calls the handler again with that
payload under a new request id, as Lambda would. An invocation that raises is Lambda's retry
path: the harness records it and stops.

The reporter's budget is the configured hourly one (``pacing.actuals_per_hour``), counted in
windows of ``window_seconds`` instead of the 60 s or more the settings allow, so that many
windows pass in a short run. Windows of the budget and of the receiver are then short enough for
a chunk reserved at the end of one window to reach the receiver in the next; at most
``max_in_flight`` chunks are ever between their reservation and the receiver, so a budget of
the quota less ``max_in_flight * report_rows`` can never take the receiver over its quota.

Every invocation works for ``deadline_seconds - margin_seconds``, at most one window, so it
can send at most one budget's worth: a file of ``ratio`` budgets is ``ratio`` times what one
invocation can send. Run as a script with a ChainSetup as JSON, it prints the chain's result and
its problems as JSON.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any
from unittest import mock
from urllib.parse import quote_plus

import boto3
import settings_documents
from botocore.config import Config
from lambda_invoke_fake import serve_fake_lambda
from moto import mock_aws

from mlgw.actuals.quota import SharedBudget
from mlgw.actuals.settings import TOKEN_SECRET_VARIABLE, load_settings
from mlgw.handlers import report_actuals
from mlgw.pipeline.continuation import SelfInvoker
from mlgw_local.http import bind, serve, url_of
from mlgw_local.mlops import ActualsReceiver, Quota

REGION = "us-east-1"
BUCKET = "actuals-bucket"
PREFIX = "upload_actuals/"
DEPLOYMENT = "5f0c1f2e3d4c5b6a79881234"
KEY = f"{PREFIX}{DEPLOYMENT}/long.csv"
TOKEN = "chain-token"
FUNCTION = "churn-report-actuals"
_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_METRICS_NAMESPACE": "MlGateway",
}


@dataclass(frozen=True)
class ChainSetup:
    ratio: int
    deadline_seconds: float
    margin_seconds: float
    quota: int
    window_seconds: int
    report_rows: int
    max_in_flight: int
    max_invocations: int = 100

    @property
    def budget(self) -> int:
        """What the reporter may reserve per window: the quota less what can be in flight."""
        return self.quota - self.max_in_flight * self.report_rows

    @property
    def per_invocation(self) -> int:
        """The most one invocation can send: a budget per window it works through."""
        work = self.deadline_seconds - self.margin_seconds
        return self.budget * math.ceil(work / self.window_seconds)

    @property
    def rows(self) -> int:
        return self.ratio * self.per_invocation


@dataclass
class ChainResult:
    rows: int
    per_invocation_limit: int
    quota: int
    window_seconds: int
    received: int = 0
    distinct: int = 0
    duplicates: int = 0
    missing: int = 0
    statuses: list[str] = field(default_factory=list)
    rows_per_invocation: list[int] = field(default_factory=list)
    handoffs: int = 0
    raised: list[str] = field(default_factory=list)
    stray_invokes: list[str] = field(default_factory=list)
    wall_seconds: float = 0.0
    max_window_actuals: int = 0
    windows: int = 0
    refused_actuals: int = 0
    leftover_keys: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        """What breaks the chain's promises; empty when it kept them all."""
        found = []
        if self.raised:
            found.append(f"an invocation raised (Lambda's retry path): {self.raised}")
        if self.stray_invokes:
            found.append(f"unexpected invokes: {self.stray_invokes}")
        if self.duplicates or self.missing or self.distinct != self.rows:
            found.append(
                f"rows: {self.distinct} of {self.rows}, {self.duplicates} twice, {self.missing} missing"
            )
        if self.max_window_actuals > self.quota or self.refused_actuals:
            found.append(
                f"quota: {self.max_window_actuals} of {self.quota} in one window, "
                f"{self.refused_actuals} refused with 429"
            )
        if not self.statuses or self.statuses[-1] != "reported" or set(self.statuses[:-1]) - {"handed-off"}:
            found.append(f"statuses: {self.statuses}")
        if self.leftover_keys:
            found.append(f"left behind: {self.leftover_keys}")
        return found


class CountdownContext:
    """Lambda's context object, its remaining time counting down from ``deadline_seconds``."""

    function_name = FUNCTION
    memory_limit_in_mb = 512
    invoked_function_arn = f"arn:aws:lambda:{REGION}:111122223333:function:{FUNCTION}"

    def __init__(self, request_id: str, deadline_seconds: float) -> None:
        self.aws_request_id = request_id
        self._ends = time.monotonic() + deadline_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._ends - time.monotonic()) * 1000))


def csv_body(rows: int) -> bytes:
    lines = ["associationId,actualValue", *(f"assoc-{index:08d},{index % 7}" for index in range(rows))]
    return ("\r\n".join(lines) + "\r\n").encode()


def s3_event(key: str) -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": REGION,
                "eventName": "ObjectCreated:Put",
                "s3": {"bucket": {"name": BUCKET}, "object": {"key": quote_plus(key, safe="/")}},
            }
        ]
    }


@contextmanager
def _receiver(quota: Quota) -> Iterator[tuple[ActualsReceiver, str]]:
    receiver = ActualsReceiver(TOKEN, quota)
    server = bind("127.0.0.1", 0, "actuals receiver", "--mlops-port", receiver)
    serve(server)
    try:
        yield receiver, url_of(server)
    finally:
        server.shutdown()
        server.server_close()


def run_chain(setup: ChainSetup) -> ChainResult:
    result = ChainResult(setup.rows, setup.per_invocation, setup.quota, setup.window_seconds)
    with (
        mock.patch.dict(os.environ, _ENV),
        mock_aws(),
        serve_fake_lambda() as fake_lambda,
        _receiver(Quota(setup.quota, setup.window_seconds)) as (receiver, api_url),
    ):
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="churn/actuals-token", SecretString=TOKEN
        )
        s3.put_object(Bucket=BUCKET, Key=KEY, Body=csv_body(setup.rows))
        fields = {
            "bucket": BUCKET,
            "prefix": PREFIX,
            "processed_prefix": "upload_actuals-processed/",
            "failed_prefix": "upload_actuals-failed/",
            "state_prefix": "upload_actuals-state/",
            "ground_truth_prefix": "upload_actuals-ground-truth/",
            "ground_truth_bucket": BUCKET,
            "api_url": api_url,
            "report_rows": setup.report_rows,
            "max_in_flight": setup.max_in_flight,
            "time_margin_seconds": setup.margin_seconds,
            "status_poll": {"interval_seconds": 0.01, "max_interval_seconds": 0.05},
            "pacing": {"actuals_per_hour": setup.budget * 3600 // setup.window_seconds},
        }
        env = {
            TOKEN_SECRET_VARIABLE: secret["ARN"],
            **settings_documents.environment(settings_documents.ACTUALS, **fields),
        }
        settings = load_settings(env)

        def scaled_budget(s3: Any, bucket: str, prefix: str, per_hour: int, window: int) -> SharedBudget:
            return SharedBudget(s3, bucket, prefix, per_hour, setup.window_seconds)

        with mock.patch.object(report_actuals, "SharedBudget", scaled_budget):
            current = report_actuals.build_runtime(settings)
        lambda_client = boto3.client(
            "lambda",
            region_name=REGION,
            endpoint_url=fake_lambda.url,
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        )
        current.reporter.invoker = SelfInvoker(lambda_client)

        started = time.monotonic()
        event = s3_event(KEY)
        with mock.patch.object(report_actuals, "runtime", return_value=current):
            for number in range(setup.max_invocations):
                context = CountdownContext(f"req-{number}", setup.deadline_seconds)
                try:
                    answer = report_actuals.lambda_handler(event, context)
                except Exception as exc:  # the invocation failed: Lambda would retry it
                    result.raised.append(repr(exc)[:500])
                    break
                outcome = answer["results"][0]
                result.statuses.append(outcome["status"])
                result.rows_per_invocation.append(outcome["rows_sent"])
                result.handoffs = outcome["handoffs"]
                if not fake_lambda.received:
                    break
                invoke = fake_lambda.received.pop(0)
                if (invoke.function, invoke.invocation_type) != (FUNCTION, "Event") or fake_lambda.received:
                    result.stray_invokes.append(f"{invoke.function} {invoke.invocation_type}")
                event = invoke.payload
        result.wall_seconds = time.monotonic() - started

        ids = Counter(str(row["associationId"]) for row in receiver.rows(DEPLOYMENT))
        expected = {f"assoc-{index:08d}" for index in range(setup.rows)}
        result.received = sum(ids.values())
        result.distinct = len(ids.keys() & expected)
        result.duplicates = sum(count - 1 for count in ids.values())
        result.missing = len(expected - ids.keys())
        windows = receiver.window_counts(DEPLOYMENT)
        result.windows = len(windows)
        result.max_window_actuals = max((counts["accepted"] for counts in windows.values()), default=0)
        result.refused_actuals = sum(counts["refused"] for counts in windows.values())
        listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        # The input is archived under the processed prefix; the budget outlives files by design.
        keys = [item["Key"] for item in listed]
        processed = "upload_actuals-processed/"
        kept = [key for key in keys if key.startswith(processed) or key.endswith(".budget.json")]
        result.leftover_keys = sorted(set(keys) - set(kept))
    return result


if __name__ == "__main__":
    chain = run_chain(ChainSetup(**json.loads(sys.argv[1])))
    print(json.dumps({"result": asdict(chain), "problems": chain.problems()}))
