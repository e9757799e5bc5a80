"""Every route of the default example through local mode, and its S3 pipelines."""

from __future__ import annotations

import concurrent.futures
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests
from local_support import REPO_ROOT, LocalMode, start_local_mode

IRIS = {"setosa", "versicolor", "virginica"}
DEPLOYMENT = "5f3c9a1b2c3d4e5f6a7b8c9d"
T = TypeVar("T")


def _headers(mode: LocalMode, **extra: str) -> dict[str, str]:
    return {"x-api-key": mode.key("developer"), **extra}


def test_predict_json_answers_the_trained_classifier(local_mode: LocalMode) -> None:
    answer = requests.post(
        f"{local_mode.api}/predict",
        json={"instances": [[5.1, 3.5, 1.4, 0.2], [7.7, 3.0, 6.1, 2.3]]},
        headers=_headers(local_mode),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    labels = [p["label"] for p in answer.json()["predictions"]]
    assert labels == ["setosa", "virginica"]
    # The handler echoes requestContext.requestId: the proxy event carries API Gateway's context.
    assert answer.headers["X-Request-Id"] == answer.headers["x-amzn-RequestId"]


def test_predict_model_route_takes_csv(local_mode: LocalMode) -> None:
    answer = requests.post(
        f"{local_mode.api}/predict/csv",
        data="6.2,2.9,4.3,1.3\n",
        headers=_headers(local_mode, **{"Content-Type": "text/csv"}),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.text.strip() == "versicolor"


def test_predict_get_reads_the_data_query_parameter(local_mode: LocalMode) -> None:
    answer = requests.get(
        f"{local_mode.api}/predict",
        params={"data": "5.0,3.4,1.5,0.2"},
        headers=_headers(local_mode),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"][0]["label"] == "setosa"


def test_missing_or_unknown_key_is_403_json(local_mode: LocalMode) -> None:
    for headers in ({}, {"x-api-key": "not-a-key"}):
        answer = requests.post(f"{local_mode.api}/predict", json=[1, 2, 3, 4], headers=headers, timeout=10)
        assert answer.status_code == 403
        assert answer.json()["code"] == "InvalidApiKey"


def test_bad_body_is_400(local_mode: LocalMode) -> None:
    answer = requests.post(
        f"{local_mode.api}/predict",
        data="{not json",
        headers=_headers(local_mode, **{"Content-Type": "application/json"}),
        timeout=10,
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "MalformedJson"


def test_a_request_event_above_lambdas_6_mb_is_api_gateways_own_413(local_mode: LocalMode) -> None:
    # Under API Gateway's 10 MB, over Lambda's 6 MB invoke limit: the function never runs, and API
    # Gateway answers as a live REST API did (koki-develop/lgtm-generator#10), not with the plan's
    # INTEGRATION_FAILURE nor its REQUEST_TOO_LARGE response.
    body = b'{"instances": [[' + b"1.0," * (7 * 1024 * 1024 // 4) + b"1.0]]}"
    answer = requests.post(
        f"{local_mode.api}/predict",
        data=body,
        headers=_headers(local_mode, **{"Content-Type": "application/json"}),
        timeout=30,
    )
    assert answer.status_code == 413
    assert answer.json() == {"message": "Request Too Long"}
    assert answer.headers["x-amzn-ErrorType"] == "BadRequestException"
    assert answer.headers["x-amzn-RequestId"]


def test_a_request_event_just_under_6_mb_reaches_the_function(local_mode: LocalMode) -> None:
    # The limit is on the event: a body well under 6 MB still reaches the handler, which answers
    # for itself (here: 400 for a malformed prediction body), not API Gateway's 413.
    body = b'{"instances": "' + b"x" * (5 * 1024 * 1024) + b'"}'
    answer = requests.post(
        f"{local_mode.api}/predict",
        data=body,
        headers=_headers(local_mode, **{"Content-Type": "application/json"}),
        timeout=30,
    )
    assert answer.status_code != 413, answer.text[:200]
    assert "x-amzn-ErrorType" not in answer.headers


def test_a_request_above_api_gateways_10_mb_is_a_plain_413(local_mode: LocalMode) -> None:
    answer = requests.post(
        f"{local_mode.api}/predict",
        data=b"1" * (10 * 1024 * 1024 + 1),
        headers=_headers(local_mode, **{"Content-Type": "application/json"}),
        timeout=30,
    )
    assert answer.status_code == 413
    assert answer.text == "HTTP content length exceeded 10485760 bytes."


def test_unknown_model_is_404(local_mode: LocalMode) -> None:
    answer = requests.post(
        f"{local_mode.api}/predict/nope", json=[1, 2, 3, 4], headers=_headers(local_mode), timeout=10
    )
    assert answer.status_code == 404
    assert answer.json()["code"] == "RouteNotFound"


def test_unknown_path_is_the_plans_not_found_response(local_mode: LocalMode) -> None:
    answer = requests.get(f"{local_mode.api}/nothing/here", headers=_headers(local_mode), timeout=10)
    assert answer.status_code == 404
    assert answer.json()["code"] == "NotFound"


def test_ratings_route_rates_each_valid_item(local_mode: LocalMode) -> None:
    answer = requests.get(
        f"{local_mode.api}/predicted-ratings/321",
        params={"items": "101, 131,x,162"},
        headers=_headers(local_mode),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    document = answer.json()
    assert document["items"] == [101, 131, 162]
    assert len(document["ratings"]) == 3
    assert all(1 <= r <= 5 for r in document["ratings"])
    assert len(set(document["ratings"])) == 3


def test_ratings_route_errors_are_json_with_their_status(local_mode: LocalMode) -> None:
    url = f"{local_mode.api}/predicted-ratings/321"
    no_valid_item = requests.get(url, params={"items": "abc"}, headers=_headers(local_mode), timeout=10)
    assert (no_valid_item.status_code, no_valid_item.json()["code"]) == (400, "BadRequest")
    missing_items = requests.get(url, headers=_headers(local_mode), timeout=10)
    assert (missing_items.status_code, missing_items.json()["code"]) == (400, "BadRequest")
    unknown_item = requests.get(url, params={"items": "999999"}, headers=_headers(local_mode), timeout=10)
    assert (unknown_item.status_code, unknown_item.json()["code"]) == (502, "ModelError")


def test_usage_plan_throttle_answers_429(local_mode: LocalMode) -> None:
    def call(_: int) -> requests.Response:
        return requests.get(
            f"{local_mode.api}/predicted-ratings/1",
            params={"items": "2"},
            headers=_headers(local_mode),
            timeout=10,
        )

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(call, range(30)))
    throttled = [a for a in answers if a.status_code == 429]
    assert throttled, [a.status_code for a in answers]
    assert throttled[0].json()["code"] == "Throttled"
    assert throttled[0].headers["Retry-After"] == "1"
    time.sleep(2.5)  # the plan refills 5 a second: leave the burst to the other tests


def test_batch_file_gets_real_predictions(local_mode: LocalMode) -> None:
    batch = local_mode.state["batch"]
    s3 = local_mode.s3()
    s3.put_object(
        Bucket=batch["bucket"],
        Key=f"{batch['input_prefix']}tests/flowers.csv",
        Body=b"id,sepal_length,sepal_width,petal_length,petal_width\na,5.1,3.5,1.4,0.2\nb,7.7,3.0,6.1,2.3\n",
    )
    output = _wait_for(
        lambda: s3.get_object(Bucket=batch["bucket"], Key=f"{batch['output_prefix']}tests/flowers.csv")
    )
    lines = output["Body"].read().decode().splitlines()
    assert lines[0] == "id,sepal_length,sepal_width,petal_length,petal_width,prediction"
    assert [line.rsplit(",", 1)[1] for line in lines[1:]] == ["setosa", "virginica"]
    assert output["Metadata"]["rows"] == "2"


def test_actuals_file_reaches_the_receiver_and_is_deleted(local_mode: LocalMode) -> None:
    actuals = local_mode.state["actuals"]
    rows = [f"row-{i},{i % 3}" for i in range(25)]
    key = f"{actuals['prefix']}{DEPLOYMENT}/tests/actuals.csv"
    s3 = local_mode.s3()
    s3.put_object(
        Bucket=actuals["bucket"], Key=key, Body=("associationId,actualValue\n" + "\n".join(rows)).encode()
    )
    received_url = f"{local_mode.state['urls']['mlops']}/received/{DEPLOYMENT}"

    def all_rows() -> list[dict[str, object]]:
        data = requests.get(received_url, timeout=10).json()["data"]
        assert len([r for r in data if str(r["associationId"]).startswith("row-")]) >= len(rows)
        return data

    data = _wait_for(all_rows)
    assert {r["associationId"] for r in data} >= {f"row-{i}" for i in range(25)}
    gone = _wait_for(lambda: _assert_gone(s3, actuals["bucket"], key))
    assert gone


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "mlgw_local",
                "--api-port",
                str(port),
                "--state-file",
                str(tmp_path / "s.json"),
            ],
            cwd=REPO_ROOT,
            env={"PYTHONPATH": f"{REPO_ROOT / 'local'}:{REPO_ROOT / 'tests'}", "PATH": ""},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 2
    assert f"port {port} for the REST API is already in use" in result.stderr
    assert "--api-port" in result.stderr


def test_ctrl_c_stops_everything_cleanly(tmp_path: Path) -> None:
    mode = start_local_mode(tmp_path)
    assert (tmp_path / "state.json").exists()
    assert mode.stop() == 0
    assert not (tmp_path / "state.json").exists(), "the state file must go with the local mode"
    urls = mode.state["urls"]
    for url in (mode.api, urls["runtime"], urls["s3"], urls["mlops"]):
        try:
            requests.get(url, timeout=2)
        except requests.ConnectionError:
            continue
        raise AssertionError(f"{url} still answers after Ctrl-C")
    assert "stopping" in mode.log.read_text()


def _assert_gone(s3: Any, bucket: str, key: str) -> bool:
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=key)
    assert listing.get("KeyCount", 0) == 0
    return True


def _wait_for(probe: Callable[[], T], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
