"""The dataset path end to end: the handler, local mode's S3 (moto's server) and its actuals receiver.

The receiver fetches the presigned URL over HTTP from the S3 server, as the platform fetches it
from S3, so the URL the reporter hands over is exercised for real.
"""

from __future__ import annotations

import json
import socket
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import settings_documents
import urllib3
from actuals_helpers import DEPLOYMENT, PREFIX, TOKEN, FakeContext, s3_event, sibling_prefixes
from botocore.config import Config

from mlgw.actuals.settings import load_settings
from mlgw.handlers import report_actuals
from mlgw.handlers.report_actuals import ActualsReportingError
from mlgw.pipeline.continuation import Continuation
from mlgw_local.http import bind, serve, url_of
from mlgw_local.mlops import ActualsReceiver, fetch_url
from mlgw_local.storage import LocalAws

BUCKET = "actuals-bucket"
KEY = f"{PREFIX}{DEPLOYMENT}/2024-06-01.csv"
FAILED = f"upload_actuals-failed/{DEPLOYMENT}/2024-06-01.csv"
BUDGET = f"upload_actuals-state/{DEPLOYMENT}.budget.json"
CSV = "associationId,actualValue,wasActedOn\r\n" + "".join(
    f"id-{index:04d},{index % 3},{'true' if index % 2 else 'false'}\r\n" for index in range(40)
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Platform:
    """Local mode's S3 and actuals receiver, and the handler's runtime built against them."""

    aws: LocalAws
    receiver: ActualsReceiver
    receiver_url: str
    monkeypatch: pytest.MonkeyPatch
    secret_arn: str
    fetched: list[str] = field(default_factory=list)
    faults: dict[str, int] = field(default_factory=dict)

    @property
    def s3(self) -> Any:
        return self.aws.client("s3")

    def use(self, *, max_idle_handoffs: int = 3, **dataset_path: Any) -> None:
        fields: dict[str, Any] = {
            "max_idle_handoffs": max_idle_handoffs,
            "bucket": BUCKET,
            "prefix": PREFIX,
            **sibling_prefixes(PREFIX),
            "ground_truth_bucket": BUCKET,
            "api_url": self.receiver_url,
            "http": {"backoff_base_seconds": 0.001, "backoff_max_seconds": 0.01, "read_timeout_seconds": 5},
            "status_poll": {"interval_seconds": 0.01, "max_interval_seconds": 0.05},
            "time_margin_seconds": 1,
            "dataset_path": {"min_bytes": 100, **dataset_path},
        }
        document = settings_documents.document(settings_documents.ACTUALS, **fields)
        env = {"ACTUALS_TOKEN_SECRET_ARN": self.secret_arn, **settings_documents.environment(document)}
        current = report_actuals.build_runtime(load_settings(env))
        self.monkeypatch.setattr(report_actuals, "runtime", lambda: current)

    def put(self, body: str, key: str = KEY) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=key, Body=body.encode())

    def object_keys(self) -> list[str]:
        return sorted(item["Key"] for item in self.s3.list_objects_v2(Bucket=BUCKET).get("Contents", []))

    def invoke(self, key: str = KEY, context: FakeContext | None = None) -> dict[str, Any]:
        return report_actuals.lambda_handler(s3_event(key), context or FakeContext())


@pytest.fixture
def platform(monkeypatch: pytest.MonkeyPatch) -> Iterator[Platform]:
    aws = LocalAws("127.0.0.1", _free_port())
    aws.start()
    # moto's backends live as long as the process: start from an empty account.
    urllib.request.urlopen(
        urllib.request.Request(f"{aws.url}/moto-api/reset", method="POST"), timeout=10
    ).close()
    for name, value in {
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_S3": aws.url,
        "AWS_ENDPOINT_URL_SECRETS_MANAGER": aws.url,
        "POWERTOOLS_METRICS_NAMESPACE": "MlGateway",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    aws.client("s3").create_bucket(Bucket=BUCKET)
    secret_arn = aws.client("secretsmanager").create_secret(Name="churn/actuals-token", SecretString=TOKEN)[
        "ARN"
    ]
    fetched: list[str] = []
    faults = {"fetch": 0}

    def fetch(url: str) -> bytes:
        fetched.append(url)
        if faults["fetch"] > 0:
            faults["fetch"] -= 1
            raise OSError("403 Forbidden: the request has expired")
        return fetch_url(url)

    receiver = ActualsReceiver(TOKEN, fetch=fetch)
    server = bind("127.0.0.1", 0, "actuals receiver", "--mlops-port", receiver)
    serve(server)
    yield Platform(aws, receiver, url_of(server), monkeypatch, secret_arn, fetched, faults)
    server.shutdown()
    server.server_close()
    aws.stop()


def expected_rows() -> list[dict[str, Any]]:
    return [
        {"associationId": f"id-{index:04d}", "actualValue": str(index % 3), "wasActedOn": bool(index % 2)}
        for index in range(40)
    ]


def test_a_large_file_goes_through_a_presigned_url_and_actuals_from_the_dataset(platform: Platform) -> None:
    # Given a file above dataset_path.min_bytes
    platform.use(url_expiry_seconds=900)
    platform.put(CSV)

    # When it is reported
    result = platform.invoke()

    # Then the platform read it from S3 itself through a SigV4 URL signed by the function's
    # credentials, every row arrived once from the dataset, and the input is gone with its state
    assert result["results"][0]["status"] == "reported"
    [url] = platform.fetched
    assert url.startswith(f"{platform.aws.url}/{BUCKET}/{KEY}?")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url
    assert "X-Amz-Expires=900" in url
    assert "X-Amz-Credential=local%2F" in url
    [submission] = platform.receiver.submissions
    assert submission["datasetId"] in platform.receiver.datasets
    assert submission["data"] == expected_rows()
    assert platform.object_keys() == [BUDGET]
    # and the dataset's rows were charged to the deployment's shared hourly budget
    budget = json.loads(platform.s3.get_object(Bucket=BUCKET, Key=BUDGET)["Body"].read())
    assert sum(budget["slots"].values()) == 40


def test_where_the_platform_cannot_fetch_urls_the_file_is_uploaded(platform: Platform) -> None:
    platform.use(fetch="upload")
    platform.put(CSV)

    platform.invoke()

    assert platform.fetched == []
    [dataset] = platform.receiver.datasets.values()
    assert dataset.content == CSV.encode()
    assert dataset.name == "2024-06-01.csv"
    assert platform.receiver.rows(DEPLOYMENT) == expected_rows()
    assert platform.object_keys() == [BUDGET]


def test_a_file_below_the_threshold_is_streamed(platform: Platform) -> None:
    platform.use(min_bytes=len(CSV) + 1)
    platform.put(CSV)

    platform.invoke()

    assert platform.fetched == []
    assert platform.receiver.datasets == {}
    assert len(platform.receiver.rows(DEPLOYMENT)) == 40


def test_a_file_the_platform_refuses_goes_to_failed_with_its_message(platform: Platform) -> None:
    platform.use()
    platform.put(CSV.replace("id-0003,0,true", "id-0003,0,maybe"))

    with pytest.raises(ActualsReportingError):
        platform.invoke()

    report = json.loads(platform.s3.get_object(Bucket=BUCKET, Key=FAILED + ".report.json")["Body"].read())
    assert report["reason"] == "the platform refused the file on its dataset path"
    assert report["path"] == "dataset"
    assert report["status"] == 422
    assert "wasActedOn must be a boolean" in report["responseText"]
    assert platform.object_keys() == [FAILED, FAILED + ".report.json", BUDGET]
    assert platform.receiver.rows() == []


def test_a_header_without_the_required_columns_fails_before_the_platform_is_asked(platform: Platform) -> None:
    platform.use()
    platform.put(CSV.replace("associationId", "association_id", 1))

    with pytest.raises(ActualsReportingError):
        platform.invoke()

    report = json.loads(platform.s3.get_object(Bucket=BUCKET, Key=FAILED + ".report.json")["Body"].read())
    assert report["reason"].startswith("header lacks associationId")
    assert platform.fetched == []
    assert platform.receiver.datasets == {}


def test_an_invocation_out_of_time_leaves_the_next_one_to_resume_without_registering_again(
    platform: Platform,
) -> None:
    # Given a platform that keeps the dataset registration running past the first invocation
    platform.receiver.running_polls = 10_000
    platform.use()
    platform.put(CSV)

    with pytest.raises(ActualsReportingError):
        platform.invoke(context=FakeContext(remaining=lambda: 1.6))
    assert platform.receiver.rows() == []
    assert KEY in platform.object_keys()

    # When the registration finishes and the retry comes
    platform.receiver.running_polls = 1
    for job in platform.receiver._jobs.values():
        job.polls_left = 0
    platform.invoke(context=FakeContext(aws_request_id="req-2"))

    # Then the file was registered once and its rows arrived once
    assert len(platform.fetched) == 1
    assert len(platform.receiver.datasets) == 1
    assert platform.receiver.rows(DEPLOYMENT) == expected_rows()
    assert platform.object_keys() == [BUDGET]


class _Invoker:
    """Captures the continuation a hand-off queues, as Lambda's asynchronous Invoke would."""

    def __init__(self) -> None:
        self.queued: list[dict[str, Any]] = []

    def hand_off(self, function_name: str, continuation: Continuation) -> None:
        self.queued.append(json.loads(json.dumps(continuation.event())))


def test_polling_a_registration_the_platform_is_still_running_is_progress_not_idleness(
    platform: Platform,
) -> None:
    # Given a platform still ingesting the file through more hand-offs than max_idle_handoffs
    platform.receiver.running_polls = 10_000
    platform.use(max_idle_handoffs=1)
    invoker = _Invoker()
    report_actuals.runtime().reporter.invoker = invoker
    platform.put(CSV)

    # When each invocation runs out of time while polling and hands off
    results = [platform.invoke(context=FakeContext(remaining=lambda: 1.6))]
    for number in range(3):
        event = invoker.queued[-1]
        context = FakeContext(aws_request_id=f"req-c{number}", remaining=lambda: 1.6)
        results.append(report_actuals.lambda_handler(event, context))

    # Then the chain goes on while the platform works: the file is never quarantined
    assert [result["results"][0]["status"] for result in results] == ["handed-off"] * 4
    assert KEY in platform.object_keys()
    assert FAILED not in platform.object_keys()
    assert len(platform.fetched) == 1


def test_a_registration_whose_fetch_failed_is_signed_and_registered_again_once(platform: Platform) -> None:
    # Given a platform whose first fetch of the URL fails, as with a URL past its credentials
    platform.faults["fetch"] = 1
    platform.use()
    platform.put(CSV)

    # When the file is reported
    result = platform.invoke()

    # Then the URL was signed again and the second registration delivered every row once
    assert result["results"][0]["status"] == "reported"
    assert len(platform.fetched) == 2
    assert platform.receiver.rows(DEPLOYMENT) == expected_rows()


def test_a_registration_whose_fetch_fails_twice_fails_the_file(platform: Platform) -> None:
    platform.faults["fetch"] = 2
    platform.use()
    platform.put(CSV)

    with pytest.raises(ActualsReportingError):
        platform.invoke()

    report = json.loads(platform.s3.get_object(Bucket=BUCKET, Key=FAILED + ".report.json")["Body"].read())
    assert "403 Forbidden" in report["responseText"]
    assert len(platform.fetched) == 2
    assert platform.receiver.rows() == []


@pytest.mark.parametrize("region", ["eu-north-1", "us-east-1"])
def test_urls_are_signed_for_the_buckets_regional_endpoint(
    monkeypatch: pytest.MonkeyPatch, region: str
) -> None:
    # Without an endpoint override, as in Lambda
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    client = report_actuals.presigning_client(Config(region_name=region))

    url = client.generate_presigned_url("get_object", Params={"Bucket": "churn-data", "Key": "a.csv"})

    # Then the URL names the regional host, which S3 does not redirect
    assert url.startswith(f"https://churn-data.s3.{region}.amazonaws.com/a.csv?")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url


def test_a_from_dataset_post_that_may_have_arrived_is_not_sent_again_and_fails_the_file(
    platform: Platform,
) -> None:
    # Given a platform that took the submission but whose answer was lost (a 502 from a proxy)
    platform.use()
    api = report_actuals.runtime().reporter._dataset_path._api  # type: ignore[union-attr]
    real = api._http.request
    posts: list[str] = []

    def lossy(method: str, url: str, **kwargs: Any) -> Any:
        response = real(method, url, **kwargs)
        if method == "POST" and "/actuals/fromDataset/" in url:
            posts.append(url)
            return urllib3.HTTPResponse(body=b"Bad Gateway", status=502, preload_content=True)
        return response

    api._http.request = lossy
    platform.put(CSV)

    # When the file is reported
    with pytest.raises(ActualsReportingError):
        platform.invoke()

    # Then the submission was sent once, and the report says its actuals may have arrived
    assert len(posts) == 1
    assert len(platform.receiver.submissions) == 1
    report = json.loads(platform.s3.get_object(Bucket=BUCKET, Key=FAILED + ".report.json")["Body"].read())
    assert "may have reached the platform" in report["reason"]
    assert report["status"] == 502
