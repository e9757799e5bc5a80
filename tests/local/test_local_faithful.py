"""Local mode is derived from the plan and faithful to it, not a hand-written imitation.

Config-derived: a copy of the example gains a route and a usage plan with a quota of 3; with no
code change, local mode serves the route and refuses the 4th call of the plan's key.
Faithful: the ratings route sends the model exactly the bytes the template tests' renderer
produces for the same request, and a model container's 5xx reaches the client as the plan's
mapped status, never as 200.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from local_support import REPO_ROOT, LocalMode, start_local_mode

from mlgw_local.vtl import render_request

RATINGS_TEMPLATE = REPO_ROOT / "modules" / "rest-api" / "templates" / "ratings_request.vtl"
NEW_ROUTE = """routes = {
      scores = { type = "sagemaker", path = "v2/scores", endpoint_name = var.endpoint_name }"""
TINY_PLAN = """usage_plans = {
      tiny = { stages = ["prod"], quota = { limit = 3, period = "DAY" } }"""
TINY_KEY = """api_keys = {
      tiny = { usage_plan = "tiny" }"""


class RecordingContainer:
    """A model container (SageMaker's contract) that records bodies and answers a set status."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.status = 200
        container = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                container.bodies.append(body)
                answer = b'{"predictions": [{"scores": [4.5]}, {"scores": [3.25]}]}'
                if container.status != 200:
                    answer = b'{"error": "container failure"}'
                self.send_response(container.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def container() -> Iterator[RecordingContainer]:
    recording = RecordingContainer()
    yield recording
    recording.server.shutdown()


@pytest.fixture(scope="module")
def changed_mode(
    tmp_path_factory: pytest.TempPathFactory, container: RecordingContainer
) -> Iterator[LocalMode]:
    copy = tmp_path_factory.mktemp("example") / "local-changed"
    shutil.copytree(REPO_ROOT / "examples" / "local", copy)
    main = copy / "main.tf"
    text = main.read_text(encoding="utf-8")
    for anchor, replacement in (
        ("routes = {", NEW_ROUTE),
        ("usage_plans = {", TINY_PLAN),
        ("api_keys = {", TINY_KEY),
    ):
        assert anchor in text
        text = text.replace(anchor, replacement, 1)
    main.write_text(text, encoding="utf-8")
    mode = start_local_mode(
        tmp_path_factory.mktemp("local-changed"),
        "--example",
        str(copy),
        "--endpoint",
        f"ratings={container.url}",
    )
    yield mode
    mode.stop()


def test_an_added_route_answers_and_a_quota_of_3_refuses_the_4th_call(changed_mode: LocalMode) -> None:
    url = f"{changed_mode.api}/v2/scores"
    answers = [
        requests.post(
            url,
            json={"instances": [[6.7, 3.0, 5.2, 2.3]]},
            headers={"x-api-key": changed_mode.key("tiny")},
            timeout=10,
        )
        for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429], [a.text for a in answers]
    assert answers[0].json()["predictions"][0]["label"] == "virginica"
    assert answers[3].headers["Content-Type"] == "application/json"
    assert answers[3].json()["code"] == "QuotaExceeded"


def test_the_ratings_body_is_byte_identical_to_the_template_tests_rendering(
    changed_mode: LocalMode, container: RecordingContainer
) -> None:
    container.bodies.clear()
    answer = requests.get(
        f"{changed_mode.api}/predicted-ratings/321",
        params={"items": " 101,007,131 "},
        headers={"x-api-key": changed_mode.key("developer")},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ratings": [4.5, 3.25], "items": [101, 131]}
    expected = render_request(
        RATINGS_TEMPLATE.read_text(encoding="utf-8"),
        path_params={"user_id": "321"},
        query={"items": " 101,007,131 "},
    )
    assert container.bodies == [expected.encode("utf-8")]


@pytest.mark.parametrize("status", [500, 503])
def test_a_model_5xx_comes_back_with_its_mapped_status(
    changed_mode: LocalMode, container: RecordingContainer, status: int
) -> None:
    container.status = status
    try:
        answer = requests.get(
            f"{changed_mode.api}/predicted-ratings/321",
            params={"items": "101,131"},
            headers={"x-api-key": changed_mode.key("developer")},
            timeout=10,
        )
    finally:
        container.status = 200
    assert answer.status_code == 502
    assert answer.json()["code"] == "ModelError"
