"""The hourly actuals budget of a deployment, shared by every file and invocation through one
small S3 object.

The platform limits actuals per deployment and hour (10,000,000; a multiclass row counts once
per class, a time-series row once per forecast distance). Every chunk reserves its cost here
before it is sent, so however many files of one deployment arrive at once, their requests stay
under the budget instead of meeting a wall of 429s.

Why a window of counted slots and not a token bucket: a bucket that may never let more than
the budget through in any hour must keep its burst plus an hour of refill under the budget, so
it either starts empty or caps the steady rate below the budget. The window counts what was
reserved in the last ``window_seconds``, in ``SLOTS`` slots; a slot is counted until one slot
after the window has passed its end, which errs on the side of waiting. The whole state is at
most ``SLOTS + 2`` numbers. A window shorter than an hour with the budget scaled down to it
(``actuals_per_hour * window / 3600``) is stricter than the hourly one, never looser, when it
divides the hour.

Writes are conditional on the ETag read (S3 conditional writes, like the state object), so two
invocations reserving at once cannot both spend the last of the budget: the loser reads again.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from mlgw.actuals.client import OutOfTime, PermanentDeliveryError

SLOTS = 60
_CONFLICTS = {"PreconditionFailed", "ConditionalRequestConflict", "412", "409"}


class BudgetSpent(OutOfTime):
    """The budget frees too late for this invocation: the next one of the chain waits on."""


class ChunkOverBudget(PermanentDeliveryError):
    """One chunk costs more than the whole budget of a window, so it could never be sent."""


class SharedBudget:
    def __init__(
        self,
        s3: Any,
        bucket: str,
        prefix: str,
        actuals_per_hour: int,
        window_seconds: int,
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix
        self.allowance = max(1, actuals_per_hour * window_seconds // 3600)
        self.window = float(window_seconds)
        self.slot = self.window / SLOTS
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._lock = threading.Lock()
        self._known: dict[str, tuple[str | None, dict[int, int]]] = {}

    def key(self, deployment_id: str) -> str:
        """Beside the deployment's folder of file states, never inside it."""
        return f"{self._prefix}{deployment_id}.budget.json"

    def acquire(self, deployment_id: str, cost: int, deadline: float) -> None:
        """Reserve ``cost`` actuals, waiting for the window to free them if it must.

        ``deadline`` is on the monotonic clock. A wait that would end after it is slept up to
        the deadline, then BudgetSpent is raised: handing off at once would only start
        invocations that wait in turn.
        """
        self.check(cost)
        with self._lock:  # the sending threads of one invocation reserve one after another
            while True:
                etag, slots = self._known.pop(deployment_id, None) or self._load(deployment_id)
                now = self._clock()
                live = {slot: spent for slot, spent in slots.items() if self._expires(slot) > now}
                used = sum(live.values())
                if used + cost <= self.allowance:
                    current = int(now // self.slot)
                    live[current] = live.get(current, 0) + cost
                    new_etag = self._put(deployment_id, live, etag)
                    if new_etag is None:
                        time.sleep(random.random() * 0.05)  # noqa: S311 - jitter, not security
                        continue
                    self._known[deployment_id] = (new_etag, live)
                    return
                wait = self._free_at(live, used + cost - self.allowance) - now
                left = deadline - self._monotonic()
                if wait > left:
                    self._sleep(max(0.0, left))
                    raise BudgetSpent(
                        f"the hourly actuals budget of {deployment_id} frees {wait:.0f} s from now, "
                        "after this invocation's deadline"
                    )
                self._sleep(wait)

    def check(self, cost: int) -> None:
        """Raise ChunkOverBudget for a chunk no window could ever take, without reserving."""
        if cost > self.allowance:
            raise ChunkOverBudget(
                f"one chunk costs {cost} actuals, more than the {self.allowance} the budget allows "
                f"in {self.window:.0f} seconds: lower report_rows"
            )

    def _expires(self, slot: int) -> float:
        return (slot + 2) * self.slot + self.window

    def _free_at(self, live: dict[int, int], needed: int) -> float:
        freed = 0
        for slot in sorted(live):
            freed += live[slot]
            if freed >= needed:
                return self._expires(slot)
        return self._clock()

    def _load(self, deployment_id: str) -> tuple[str | None, dict[int, int]]:
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=self.key(deployment_id))
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in {"NoSuchKey", "404"}:
                return None, {}
            raise
        data = json.loads(response["Body"].read())
        return response["ETag"], {int(slot): int(spent) for slot, spent in data.get("slots", {}).items()}

    def _put(self, deployment_id: str, slots: dict[int, int], etag: str | None) -> str | None:
        """The new ETag, or None when another writer got there first."""
        body = json.dumps(
            {
                "version": 1,
                "slotSeconds": self.slot,
                "windowSeconds": self.window,
                "allowance": self.allowance,
                "slots": {str(slot): spent for slot, spent in sorted(slots.items())},
            },
            separators=(",", ":"),
        ).encode()
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            response = self._s3.put_object(
                Bucket=self._bucket,
                Key=self.key(deployment_id),
                Body=body,
                ContentType="application/json",
                **condition,
            )
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code", "")) in _CONFLICTS:
                return None
            raise
        return str(response["ETag"])
