"""The access log of a running local mode: one line per request, refused ones included, with the
model container's own message, and no pointer to a CloudWatch log group that does not exist."""

from __future__ import annotations

import concurrent.futures
import re
import time

import requests
from local_support import LocalMode

# time stage method path key=name status latency -> target[: note]
LINE = re.compile(
    r"^(?P<time>\d\d:\d\d:\d\d\.\d{3}) (?P<where>\S+) (?P<method>[A-Z]+) (?P<path>\S+)"
    r"(?: key=(?P<key>\S+))? (?P<status>\d{3}) (?P<ms>\d+)ms -> (?P<target>.*)$"
)


def _lines(mode: LocalMode, path: str) -> list[re.Match[str]]:
    found = [LINE.match(line) for line in mode.log.read_text(errors="replace").splitlines()]
    return [m for m in found if m is not None and m["path"] == path]


def _wait_line(mode: LocalMode, path: str, status: int, count: int = 1) -> list[re.Match[str]]:
    deadline = time.monotonic() + 5
    while True:
        lines = [m for m in _lines(mode, path) if int(m["status"]) == status]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_each_request_gets_one_line_with_stage_key_status_latency_and_target(local_mode: LocalMode) -> None:
    key = local_mode.key("developer")
    answer = requests.post(
        f"{local_mode.api}/predict",
        json={"instances": [[5.1, 3.5, 1.4, 0.2]]},
        headers={"x-api-key": key},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    (line,) = _wait_line(local_mode, "/predict", 200)[-1:]
    assert (line["where"], line["method"], line["key"]) == ("prod", "POST", "mlgw-local-developer")
    assert line["target"] == "function mlgw-local-predict"
    assert int(line["ms"]) >= 0


def test_refused_requests_are_logged_with_the_gateway_response(local_mode: LocalMode) -> None:
    missing_key = requests.post(f"{local_mode.api}/predict", json={"instances": [[1, 2, 3, 4]]}, timeout=10)
    assert missing_key.status_code == 403
    unknown = requests.get(f"{local_mode.api}/no/such/route", headers={"x-api-key": "nope"}, timeout=10)
    assert unknown.status_code == 404
    refused = _wait_line(local_mode, "/predict", 403)
    assert refused
    assert refused[-1]["key"] == "-"
    assert refused[-1]["target"] == "gateway response INVALID_API_KEY"
    (not_found,) = _wait_line(local_mode, "/no/such/route", 404)
    assert (not_found["where"], not_found["key"]) == ("prod", "(unknown)")
    assert not_found["target"] == "gateway response MISSING_AUTHENTICATION_TOKEN"


def test_throttled_direct_route_calls_are_logged_as_429(local_mode: LocalMode) -> None:
    def call(_: int) -> int:
        return requests.get(
            f"{local_mode.api}/predicted-ratings/7",
            params={"items": "3"},
            headers={"x-api-key": local_mode.key("developer")},
            timeout=10,
        ).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(call, range(30)))
    try:
        throttled = statuses.count(429)
        assert throttled, statuses
        lines = _wait_line(local_mode, "/predicted-ratings/7", 429, throttled)
        assert len(lines) == throttled
        assert lines[0]["target"] == "gateway response THROTTLED"
        served = _wait_line(local_mode, "/predicted-ratings/7", 200, statuses.count(200))
        assert served[0]["target"] == "sagemaker endpoint ratings"
    finally:
        time.sleep(2.5)  # the plan refills 5 a second: leave the burst to the other tests


def test_a_direct_routes_model_error_shows_the_containers_message(local_mode: LocalMode) -> None:
    answer = requests.get(
        f"{local_mode.api}/predicted-ratings/321",
        params={"items": "999999"},
        headers={"x-api-key": local_mode.key("developer")},
        timeout=10,
    )
    assert answer.status_code == 502
    (line,) = _wait_line(local_mode, "/predicted-ratings/321", 502)[-1:]
    assert line["target"] == (
        "sagemaker endpoint ratings: the model answered 400: "
        "in1 (item) 999999 is not in the catalogue (0 to 499)"
    )


def test_a_functions_model_error_shows_the_containers_message(local_mode: LocalMode) -> None:
    answer = requests.post(
        f"{local_mode.api}/predict",
        json={"instances": [[5.1, 3.5, 1.4]]},
        headers={"x-api-key": local_mode.key("developer")},
        timeout=10,
    )
    assert answer.status_code == 502, answer.text
    runtime = _wait_line(local_mode, "/endpoints/iris/invocations", 424)
    assert runtime
    assert runtime[-1]["where"] == "sagemaker-runtime"
    assert runtime[-1]["target"] == (
        "container iris: the model answered 400: each record needs 4 values: "
        "sepal_length, sepal_width, petal_length, petal_width"
    )


def test_no_cloudwatch_log_group_is_pointed_to(local_mode: LocalMode) -> None:
    answer = requests.post(
        f"{local_mode.state['urls']['runtime']}/endpoints/iris/invocations",
        data="1,2\n",
        headers={"Content-Type": "text/csv"},
        timeout=10,
    )
    assert answer.status_code == 424
    error = answer.json()
    assert error["OriginalMessage"] == (
        '{"message": "each record needs 4 values: sepal_length, sepal_width, petal_length, petal_width"}'
    )
    assert "LogStreamArn" not in error
    assert "access log" in error["message"]
    log = local_mode.log.read_text(errors="replace")
    assert "log-group" not in log
    assert "/aws/sagemaker/Endpoints" not in log
