"""A file five times longer than one invocation can send, through hand-offs under a quota.

The benchmark's chain (actuals_chain.py) at a small scale: a 3 s deadline of which 0.9 s is work,
the local receiver's quota of 200 actuals per 1 s window, and every continuation run from the
asynchronous invoke captured by the local fake of Lambda's Invoke API.
"""

import pytest
from actuals_chain import ChainSetup, run_chain

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")

SETUP = ChainSetup(
    ratio=5,
    deadline_seconds=3.0,
    margin_seconds=2.1,
    quota=200,
    window_seconds=1,
    report_rows=10,
    max_in_flight=2,
    max_invocations=30,
)


def test_a_file_five_times_one_invocation_completes_through_hand_offs_under_the_quota() -> None:
    # Given a file of 900 rows when one invocation can send at most 180 (the quota of 200 a
    # window less the two chunks that can be in flight, over 0.9 s of work in 1 s windows)
    assert (SETUP.rows, SETUP.per_invocation) == (900, 180)

    # When the S3 event arrives and every continuation it queues runs in turn
    result = run_chain(SETUP)

    # Then no invocation raised (Lambda's retries untouched) and the chain handed off until the
    # last invocation reported the file, each handing off once
    assert result.raised == []
    assert result.stray_invokes == []
    assert result.statuses[-1] == "reported"
    assert set(result.statuses[:-1]) == {"handed-off"}
    # (at least ratio - 1 hand-offs: no invocation can send more than per_invocation rows)
    assert result.handoffs == len(result.statuses) - 1 >= SETUP.ratio - 1
    assert max(result.rows_per_invocation) <= SETUP.per_invocation
    # every row reached the receiver exactly once
    assert (result.received, result.distinct, result.duplicates, result.missing) == (900, 900, 0, 0)
    # no window of the receiver took more than the quota, and it never had to refuse
    assert 0 < result.max_window_actuals <= SETUP.quota
    assert result.refused_actuals == 0
    # the file went to the processed prefix and its state object is gone
    assert result.leftover_keys == []
    assert result.problems() == []
