"""The local actuals receiver answers the official ``datarobot`` client as DataRobot does.

The package cannot be installed here, so ``OfficialClientReplay`` sends exactly the requests its
source sends (datarobot 3.x, files named at each step): the same methods, paths, headers
(``Authorization: Token <key>`` by default), JSON bodies, and the same handling of ``Location``.
"""

from __future__ import annotations

import io
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from mlgw_local.http import bind, serve, url_of
from mlgw_local.mlops import ActualsReceiver

TOKEN = "local-actuals-token"
DEPLOYMENT = "5f0c1f2e3d4c5b6a79881234"


class ClientError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"{status} client error: {body}")
        self.status = status
        self.body = body


class OfficialClientReplay:
    """The official client's requests, reduced to what it puts on the wire.

    - datarobot/rest.py, RESTClientObject.__init__: a requests Session whose headers carry a
      ``User-Agent`` of ``DataRobotPythonClient/<version> ...`` and ``Authorization:
      <authentication_type or "Token"> <token>``.
    - datarobot/rest.py, request/_join_endpoint: a URL that does not start with "http" is joined to
      the endpoint, and one that starts with "/" raises "Cannot add absolute path".
    - datarobot/rest.py, post: ``json=`` body; handle_http_error raises on any 4xx.
    - datarobot/utils/waiters.py, wait_for_async_resolution: GET the location without following
      redirects until a 303 (its Location is the result) or a 200 whose status is completed;
      an "error"/"abort" status fails.
    """

    def __init__(self, endpoint: str, token: str, token_type: str = "Token") -> None:
        self.endpoint = endpoint
        self.session = requests.Session()
        self.session.headers.update(
            {
                "User-Agent": "DataRobotPythonClient/3.5.0 (Linux 6.1 x86_64) Python-3.12.0",
                "Authorization": f"{token_type} {token}",
            }
        )
        self.polls: list[str] = []

    def _join_endpoint(self, url: str) -> str:
        if url.startswith("/"):
            raise ValueError(f"Cannot add absolute path {url} to endpoint")
        return urljoin(self.endpoint.rstrip("/") + "/", url)

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if not url.startswith("http"):
            url = self._join_endpoint(url)
        response = self.session.request(method, url, timeout=(6.05, 60), **kwargs)
        if 400 <= response.status_code < 600:
            raise ClientError(response.status_code, response.json())
        return response

    def post(self, url: str, data: Any = None, **kwargs: Any) -> requests.Response:
        if data:
            kwargs["json"] = data
        return self.request("post", url, **kwargs)

    def connect(self) -> dict[str, Any]:
        """datarobot/client.py, _is_compatible_client: client.get("version/") and its versionString."""
        version = self.request("get", "version/").json()
        major = int(version["versionString"].split(".")[0])
        assert major <= 3, "a server major version above the client's makes Client() fail"
        return version

    def wait_for_async_resolution(self, location: str) -> Any:
        for _ in range(20):
            response = self.request("get", location, allow_redirects=False)
            if response.status_code == 307:
                response = self.request("get", response.headers["Location"], allow_redirects=False)
            if response.status_code == 303:
                return response.headers["Location"]
            status = response.json()["status"]
            self.polls.append(status)
            if status.lower()[:5] in ("error", "abort"):
                raise RuntimeError(f"The job did not complete successfully. Job Data: {response.json()}")
            if status.lower() == "completed":
                return response.json()
        raise TimeoutError(location)

    def submit_actuals(self, deployment_id: str, rows: list[dict[str, Any]]) -> None:
        """datarobot/models/deployment/deployment.py, Deployment.submit_actuals (one batch)."""
        response = self.post(f"deployments/{deployment_id}/actuals/fromJSON/", data={"data": rows})
        self.wait_for_async_resolution(response.headers["Location"])

    def create_dataset_from_url(self, url: str) -> dict[str, Any]:
        """datarobot/models/dataset.py, Dataset.create_from_url, then from_location."""
        response = self.post("datasets/fromURL/", data={"url": url})
        location = self.wait_for_async_resolution(response.headers["Location"])
        return dict(self.request("get", location).json())

    def create_dataset_from_file(self, name: str, content: bytes) -> dict[str, Any]:
        """datarobot/models/dataset.py, Dataset.create_from_file: build_request_with_file posts a
        multipart form whose field ``file`` holds the file."""
        response = self.request("post", "datasets/fromFile/", files={"file": (name, io.BytesIO(content))})
        location = self.wait_for_async_resolution(response.headers["Location"])
        return dict(self.request("get", location).json())

    def submit_actuals_from_catalog(self, deployment_id: str, dataset: dict[str, Any]) -> None:
        """datarobot/models/deployment/deployment.py, submit_actuals_from_catalog_async, then waited."""
        config = {
            "actualValueColumn": "actualValue",
            "associationIdColumn": "associationId",
            "datasetId": dataset["datasetId"],
            "datasetVersionId": dataset["versionId"],
            "wasActedOnColumn": "wasActedOn",
        }
        response = self.post(f"deployments/{deployment_id}/actuals/fromDataset/", data=config)
        self.wait_for_async_resolution(response.headers["Location"])


@pytest.fixture
def receiver() -> Iterator[tuple[ActualsReceiver, str]]:
    mlops = ActualsReceiver(TOKEN)
    server = bind("127.0.0.1", 0, "actuals receiver", "--mlops-port", mlops)
    serve(server)
    yield mlops, url_of(server)
    server.shutdown()
    server.server_close()


@pytest.fixture
def client(receiver: tuple[ActualsReceiver, str]) -> OfficialClientReplay:
    return OfficialClientReplay(f"{receiver[1]}/api/v2", TOKEN)


def row(index: int, **extra: Any) -> dict[str, Any]:
    return {"associationId": f"id-{index}", "actualValue": index % 3, **extra}


def test_the_client_connects_and_submits_with_its_default_token_header(
    receiver: tuple[ActualsReceiver, str], client: OfficialClientReplay
) -> None:
    assert client.session.headers["Authorization"] == f"Token {TOKEN}"

    assert client.connect()["versionString"].startswith("2.")
    client.submit_actuals(DEPLOYMENT, [row(1, wasActedOn=True, timestamp="2024-05-01T12:00:00Z"), row(2)])

    assert [r["associationId"] for r in receiver[0].rows(DEPLOYMENT)] == ["id-1", "id-2"]
    assert client.polls == ["RUNNING", "COMPLETED"]


def test_bearer_is_accepted_too_and_a_wrong_token_is_not(receiver: tuple[ActualsReceiver, str]) -> None:
    OfficialClientReplay(f"{receiver[1]}/api/v2", TOKEN, token_type="Bearer").connect()

    with pytest.raises(ClientError) as refused:
        OfficialClientReplay(f"{receiver[1]}/api/v2", "other").connect()
    assert refused.value.status == 401


def test_the_location_is_absolute(receiver: tuple[ActualsReceiver, str]) -> None:
    answer = requests.post(
        f"{receiver[1]}/api/v2/deployments/{DEPLOYMENT}/actuals/fromJSON/",
        json={"data": [row(1)]},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=5,
    )

    assert answer.status_code == 202
    assert answer.headers["Location"].startswith(f"{receiver[1]}/api/v2/status/")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"data": [row(i) for i in range(10_001)]}, "at most 10000"),
        ({"data": []}, "must not be empty"),
        ({"rows": [row(1)]}, 'body must be {"data"'),
        ({"data": [{"associationId": "x" * 129, "actualValue": 1}]}, "longer than 128"),
        ({"data": [{"associationId": "a"}]}, "actualValue is required"),
        ({"data": [{"associationId": "a", "actualValue": None}]}, "actualValue is required"),
        ({"data": [row(1, timestamp="yesterday")]}, "RFC 3339"),
        ({"data": [row(1, timestamp="2024-02-30T00:00:00Z")]}, "RFC 3339"),
        ({"data": [row(1, wasActedOn="maybe")]}, "wasActedOn must be a boolean"),
        ({"data": [{"actualValue": 1}]}, "associationId is required"),
    ],
)
def test_submissions_are_validated_as_documented(
    receiver: tuple[ActualsReceiver, str], client: OfficialClientReplay, body: Any, message: str
) -> None:
    with pytest.raises(ClientError) as refused:
        client.request("post", f"deployments/{DEPLOYMENT}/actuals/fromJSON/", json=body)

    assert refused.value.status == 422
    assert message in refused.value.body["message"]
    assert receiver[0].rows() == []


def test_the_limits_themselves_are_accepted(
    receiver: tuple[ActualsReceiver, str], client: OfficialClientReplay
) -> None:
    rows = [row(i) for i in range(9_999)] + [{"associationId": "x" * 128, "actualValue": "yes"}]

    client.submit_actuals(DEPLOYMENT, rows)

    assert len(receiver[0].rows(DEPLOYMENT)) == 10_000


CSV = b"associationId,actualValue,wasActedOn\r\nid-1,1,true\r\nid-2,0,false\r\n"


class _Files:
    """A plain HTTP server holding one file, standing in for the URL the platform fetches."""

    def __init__(self, content: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/actuals.csv?X-Amz-Signature=x"


Served = tuple[ActualsReceiver, str]


def test_the_dataset_path_from_a_url(receiver: Served, client: OfficialClientReplay) -> None:
    files = _Files(CSV)
    try:
        dataset = client.create_dataset_from_url(files.url)
    finally:
        files.server.shutdown()
    client.submit_actuals_from_catalog(DEPLOYMENT, dataset)

    assert dataset["name"] == "actuals.csv"
    assert receiver[0].rows(DEPLOYMENT) == [
        {"associationId": "id-1", "actualValue": "1", "wasActedOn": True},
        {"associationId": "id-2", "actualValue": "0", "wasActedOn": False},
    ]


def test_the_dataset_path_from_a_file(receiver: Served, client: OfficialClientReplay) -> None:
    dataset = client.create_dataset_from_file("actuals.csv", CSV)
    client.submit_actuals_from_catalog(DEPLOYMENT, dataset)

    assert [r["associationId"] for r in receiver[0].rows(DEPLOYMENT)] == ["id-1", "id-2"]


def test_a_url_the_platform_cannot_fetch_fails_the_dataset_status(client: OfficialClientReplay) -> None:
    response = client.post("datasets/fromURL/", data={"url": "http://127.0.0.1:9/nothing.csv"})

    with pytest.raises(RuntimeError, match="did not complete successfully"):
        client.wait_for_async_resolution(response.headers["Location"])


def test_a_mapping_naming_a_missing_column_is_refused(client: OfficialClientReplay) -> None:
    dataset = client.create_dataset_from_file("actuals.csv", b"id,value\r\n1,2\r\n")

    with pytest.raises(ClientError) as refused:
        client.submit_actuals_from_catalog(DEPLOYMENT, dataset)

    assert refused.value.status == 422
    assert "associationId" in refused.value.body["message"]


def test_an_unknown_dataset_is_refused(client: OfficialClientReplay) -> None:
    with pytest.raises(ClientError) as refused:
        client.submit_actuals_from_catalog(DEPLOYMENT, {"datasetId": uuid.uuid4().hex, "versionId": "v"})

    assert refused.value.status == 422
    assert "not found" in refused.value.body["message"]
