"""A local MLOps actuals receiver speaking the DataRobot protocol, showing what it received.

``POST /api/v2/deployments/{id}/actuals/fromJSON/`` with a bearer token answers 202 and a
``Location`` to poll; the status answers ``COMPLETED``. ``GET /received`` lists every accepted
submission, and ``GET /received/{deployment id}`` the rows of one deployment.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from typing import Any

from mlgw_local.http import Request, Response

_SUBMIT = re.compile(r"^/api/v2/deployments/([^/]+)/actuals/fromJSON/?$")
_STATUS = re.compile(r"^/api/v2/status/([^/]+)/?$")


class ActualsReceiver:
    def __init__(self, token: str) -> None:
        self.token = token
        self._lock = threading.Lock()
        self.submissions: list[dict[str, Any]] = []
        self._jobs: set[str] = set()

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
                summary = {
                    "submissions": len(self.submissions),
                    "rows": sum(len(s["data"]) for s in self.submissions),
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
