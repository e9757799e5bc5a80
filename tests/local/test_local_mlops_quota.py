"""The local actuals receiver's quota: fixed windows, 429 with Retry-After, counts per window."""

import json

from mlgw_local.http import Request
from mlgw_local.mlops import ActualsReceiver, Quota

TOKEN = "receiver-token"
PATH = "/api/v2/deployments/dep-1/actuals/fromJSON/"


def submit(receiver: ActualsReceiver, rows: int, deployment: str = "dep-1") -> tuple[int, dict[str, str]]:
    body = json.dumps({"data": [{"associationId": f"a{index}", "actualValue": 1} for index in range(rows)]})
    request = Request(
        method="POST",
        path=PATH.replace("dep-1", deployment),
        query=[],
        headers=[("Authorization", f"Bearer {TOKEN}")],
        body=body.encode(),
        client="127.0.0.1",
    )
    response = receiver(request)
    return response.status, response.headers


def test_a_submission_over_the_windows_quota_gets_429_with_the_seconds_to_the_next_window() -> None:
    now = {"value": 1000.2}
    receiver = ActualsReceiver(TOKEN, Quota(actuals=100, window_seconds=60), clock=lambda: now["value"])

    assert submit(receiver, 60)[0] == 202
    assert submit(receiver, 40)[0] == 202
    status, headers = submit(receiver, 1)

    # the window [960, 1020) is full: come back in 20 s (19.8 rounded up)
    assert status == 429
    assert headers["Retry-After"] == "20"
    assert len(receiver.rows("dep-1")) == 100
    # another deployment has its own quota
    assert submit(receiver, 100, deployment="dep-2")[0] == 202

    now["value"] = 1020.0
    assert submit(receiver, 100)[0] == 202
    assert receiver.window_counts("dep-1") == {
        16: {"accepted": 100, "refused": 1},
        17: {"accepted": 100, "refused": 0},
    }


def test_without_a_quota_everything_is_taken_and_nothing_is_counted() -> None:
    receiver = ActualsReceiver(TOKEN)

    # five full requests (10,000 rows is the most one request may carry) in the same second
    assert [submit(receiver, 10_000)[0] for _ in range(5)] == [202] * 5
    assert len(receiver.rows("dep-1")) == 50_000
    assert receiver.window_counts("dep-1") == {}
