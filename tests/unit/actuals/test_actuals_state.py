"""The state object's group commit: fewer writes than confirmations, none returning early."""

import threading
import time
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from mlgw.actuals.state import (
    ConditionalWritesUnsupported,
    LeaseLost,
    ProgressState,
    StateStore,
    require_conditional_writes,
)


class SlowS3:
    """Stands in for S3 put_object: the first write waits until released; every body is kept."""

    def __init__(self) -> None:
        self.bodies: list[ProgressState] = []
        self.first_started = threading.Event()
        self.release_first = threading.Event()
        self.refuse = False

    def put_object(self, **kwargs: Any) -> dict[str, str]:
        if self.refuse:
            raise ClientError({"Error": {"Code": "PreconditionFailed"}}, "PutObject")
        if not self.bodies and not self.first_started.is_set():
            self.first_started.set()
            assert self.release_first.wait(5)
        self.bodies.append(ProgressState.from_json(kwargs["Body"]))
        return {"ETag": f'"{len(self.bodies)}"'}


def store(s3: SlowS3) -> StateStore:
    state = StateStore(s3, "bucket", "state.json")
    state.state = ProgressState(etag='"e"', chunk_rows=10)
    return state


def test_confirmations_arriving_during_a_write_share_the_next_one() -> None:
    # Given a write of chunk 0 that is still on its way
    s3 = SlowS3()
    state = store(s3)
    first = threading.Thread(target=state.record_accepted, args=([(0, 10)],))
    first.start()
    assert s3.first_started.wait(5)

    # When chunks 1, 2 and 3 are confirmed meanwhile
    returned: list[int] = []

    def confirm(index: int) -> None:
        state.record_accepted([(index, 10)])
        returned.append(index)

    others = [threading.Thread(target=confirm, args=(index,)) for index in (1, 2, 3)]
    for thread in others:
        thread.start()
    time.sleep(0.1)

    # Then none of them returns before a write holding it succeeded...
    assert returned == []
    s3.release_first.set()
    for thread in [first, *others]:
        thread.join(5)

    # ...and one more write carried all three
    assert sorted(returned) == [1, 2, 3]
    assert [body.accepted for body in s3.bodies] == [{0}, {0, 1, 2, 3}]
    assert s3.bodies[-1].rows_accepted == 40


def test_a_status_url_is_written_before_record_pending_returns_and_dropped_on_acceptance() -> None:
    s3 = SlowS3()
    s3.first_started.set()
    state = store(s3)

    state.record_pending(4, "https://api.example/status/4/")
    assert s3.bodies[-1].pending == {4: "https://api.example/status/4/"}
    state.record_accepted([(4, 10)])

    assert s3.bodies[-1].pending == {}
    assert s3.bodies[-1].accepted == {4}


def test_a_lost_lease_reaches_every_waiting_confirmation() -> None:
    s3 = SlowS3()
    s3.first_started.set()
    s3.refuse = True
    state = store(s3)

    with pytest.raises(LeaseLost):
        state.record_accepted([(0, 10)])
    with pytest.raises(LeaseLost):
        state.save()


class ConflictingS3(SlowS3):
    """S3 answering 409 ConditionalRequestConflict to the first ``conflicts`` writes."""

    def __init__(self, conflicts: int) -> None:
        super().__init__()
        self.first_started.set()
        self.conflicts = conflicts
        self.attempts = 0

    def put_object(self, **kwargs: Any) -> dict[str, str]:
        self.attempts += 1
        if self.attempts <= self.conflicts:
            raise ClientError({"Error": {"Code": "ConditionalRequestConflict"}}, "PutObject")
        return super().put_object(**kwargs)


def test_a_conflict_with_a_concurrent_write_is_retried_not_taken_for_a_lost_lease() -> None:
    # S3 answers 409 while another operation on the key is in progress and says to retry
    s3 = ConflictingS3(conflicts=2)
    waits: list[float] = []
    state = StateStore(s3, "bucket", "state.json", sleep=waits.append)
    state.state = ProgressState(etag='"e"', chunk_rows=10)

    state.record_accepted([(0, 10)])

    assert s3.attempts == 3
    assert [body.accepted for body in s3.bodies] == [{0}]
    assert waits == [0.1, 0.2]


def test_a_conflict_that_persists_past_the_retries_is_a_lost_lease() -> None:
    s3 = ConflictingS3(conflicts=10)
    state = StateStore(s3, "bucket", "state.json", sleep=lambda _: None)
    state.state = ProgressState(etag='"e"', chunk_rows=10)

    with pytest.raises(LeaseLost):
        state.record_accepted([(0, 10)])
    assert s3.attempts == 3
    assert s3.bodies == []


def _s3_with_put_object_members(*members: str, delete: tuple[str, ...] | None = None) -> Any:
    """An S3 client as far as its service model: the input members of PutObject, and of
    DeleteObject (the same unless given)."""
    shapes = {
        "PutObject": SimpleNamespace(members=dict.fromkeys(members)),
        "DeleteObject": SimpleNamespace(members=dict.fromkeys(members if delete is None else delete)),
    }
    model = SimpleNamespace(operation_model=lambda name: SimpleNamespace(input_shape=shapes[name]))
    return SimpleNamespace(meta=SimpleNamespace(service_model=model))


def test_a_runtime_sdk_without_conditional_writes_fails_at_cold_start_naming_the_fix() -> None:
    old = _s3_with_put_object_members("Bucket", "Key", "Body")
    expected = r"no PutObject IfMatch and IfNoneMatch.*newer boto3"
    with pytest.raises(ConditionalWritesUnsupported, match=expected):
        require_conditional_writes(old)


def test_a_runtime_sdk_without_conditional_deletes_fails_at_cold_start_too() -> None:
    old = _s3_with_put_object_members("Bucket", "Key", "IfMatch", "IfNoneMatch", delete=("Bucket", "Key"))
    with pytest.raises(ConditionalWritesUnsupported, match=r"has no DeleteObject IfMatch \("):
        require_conditional_writes(old)


def test_the_pinned_sdk_has_conditional_writes() -> None:
    require_conditional_writes(boto3.client("s3", region_name="us-east-1"))


def test_deleting_a_state_object_another_invocation_rewrote_leaves_it_in_place() -> None:
    # Given a state object this invocation wrote, then another invocation (a newer upload) rewrote
    from moto import mock_aws

    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="bucket")
        mine = StateStore(s3, "bucket", "state.json")
        mine.claim(ProgressState(etag='"v1"', chunk_rows=10), "req-1", 60)
        theirs = StateStore(s3, "bucket", "state.json")
        theirs.load()
        theirs.claim(ProgressState(etag='"v2"', chunk_rows=10), "req-2", 60)

        # When the first invocation finishes and removes what it believes is its state
        mine.delete()

        # Then the newer owner's progress is still there, and deleting it twice is harmless
        assert (
            ProgressState.from_json(s3.get_object(Bucket="bucket", Key="state.json")["Body"].read()).etag
            == '"v2"'
        )
        theirs.delete()
        theirs.delete()
        assert s3.list_objects_v2(Bucket="bucket").get("KeyCount") == 0
