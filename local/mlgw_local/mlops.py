"""A local MLOps actuals receiver speaking the DataRobot protocol, showing what it received.

``POST /api/v2/deployments/{id}/actuals/fromJSON/`` with a bearer token answers 202 and a
``Location`` to poll; the status answers ``COMPLETED``. ``GET /received`` lists every accepted
submission, and ``GET /received/{deployment id}`` the rows of one deployment.

With a ``Quota`` the receiver stands in for the platform's limit on actuals per deployment
(10,000,000 an hour, each row counted once here: the R client's SubmitActuals documentation,
https://search.r-project.org/CRAN/refmans/datarobot/html/SubmitActuals.html), scaled down to
``actuals`` per ``window_seconds`` in fixed windows. A submission that would go over the window's
count is refused with 429 and a ``Retry-After`` of the seconds to the next window, the form
RFC 6585 section 4 allows for a 429 (https://www.rfc-editor.org/rfc/rfc6585#section-4); whether
the platform itself sends ``Retry-After`` with its 429 is not documented in the sources found,
and the reporter also backs off without one. ``window_counts`` (and ``GET /received``) give the
actuals accepted and refused in each window, so a test can check that a client kept under the
quota.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlgw_local.http import Request, Response

_SUBMIT = re.compile(r"^/api/v2/deployments/([^/]+)/actuals/fromJSON/?$")
_STATUS = re.compile(r"^/api/v2/status/([^/]+)/?$")


@dataclass(frozen=True)
class Quota:
    """At most ``actuals`` accepted per deployment in each window of ``window_seconds``."""

    actuals: int
    window_seconds: float


class ActualsReceiver:
    def __init__(
        self, token: str, quota: Quota | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.token = token
        self.quota = quota
        self._clock = clock
        self._lock = threading.Lock()
        self.submissions: list[dict[str, Any]] = []
        self._jobs: set[str] = set()
        self._windows: dict[tuple[str, int], dict[str, int]] = {}

    def window_counts(self, deployment_id: str) -> dict[int, dict[str, int]]:
        """Actuals ``accepted`` and ``refused`` in each quota window, keyed by the window's number
        (its start is the number times ``window_seconds``); empty without a quota."""
        with self._lock:
            return {
                window: dict(counts)
                for (deployment, window), counts in sorted(self._windows.items())
                if deployment == deployment_id
            }

    def _over_quota(self, deployment_id: str, actuals: int) -> Response | None:
        """Count the submission in its window, or the 429 that refuses it. Holds the lock."""
        if self.quota is None:
            return None
        now = self._clock()
        window = int(now // self.quota.window_seconds)
        counts = self._windows.setdefault((deployment_id, window), {"accepted": 0, "refused": 0})
        if counts["accepted"] + actuals <= self.quota.actuals:
            counts["accepted"] += actuals
            return None
        counts["refused"] += actuals
        wait = max(1, math.ceil((window + 1) * self.quota.window_seconds - now))
        message = f"over the quota of {self.quota.actuals} actuals per {self.quota.window_seconds:g} s"
        return Response.json(429, {"message": message}, {"Retry-After": str(wait)})

    def rows(self, deployment_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                row
                for s in self.submissions
                if deployment_id in (None, s["deploymentId"])
                for row in s["data"]
            ]

    def __call__(self, request: Request) -> Response:
        if request.method == "GET" and request.path.rstrip("/") in ("/received", ""):
            with self._lock:
                summary: dict[str, Any] = {
                    "submissions": len(self.submissions),
                    "rows": sum(len(s["data"]) for s in self.submissions),
                }
                if self.quota is not None:
                    summary["quota"] = {
                        "actuals": self.quota.actuals,
                        "windowSeconds": self.quota.window_seconds,
                        "windows": [
                            {"deploymentId": deployment, "window": window, **counts}
                            for (deployment, window), counts in sorted(self._windows.items())
                        ],
                    }
                return Response.json(200, {**summary, "received": self.submissions})
        if request.method == "GET" and request.path.startswith("/received/"):
            deployment = request.path.removeprefix("/received/").strip("/")
            return Response.json(200, {"deploymentId": deployment, "data": self.rows(deployment)})
        if request.header("Authorization") != f"Bearer {self.token}":
            return Response.json(401, {"message": "Invalid token"})
        submit = _SUBMIT.match(request.path)
        if request.method == "POST" and submit:
            try:
                rows = json.loads(request.body)["data"]
            except (ValueError, KeyError, TypeError):
                return Response.json(422, {"message": 'body must be {"data": [...]}'})
            job = uuid.uuid4().hex
            with self._lock:
                refused = self._over_quota(submit[1], len(rows))
                if refused is not None:
                    return refused
                self.submissions.append({"deploymentId": submit[1], "statusId": job, "data": rows})
                self._jobs.add(job)
            return Response.json(202, {"statusId": job}, {"Location": f"/api/v2/status/{job}/"})
        status = _STATUS.match(request.path)
        if request.method == "GET" and status:
            with self._lock:
                known = status[1] in self._jobs
            if not known:
                return Response.json(404, {"message": "Unknown status"})
            return Response.json(200, {"status": "COMPLETED", "statusId": status[1]})
        return Response.json(404, {"message": f"{request.method} {request.path} is not served"})
