"""A real HTTP server speaking the actuals protocol, for tests and the benchmark.

POST /api/v2/deployments/{id}/actuals/fromJSON/ answers 202 with a Location header;
GET on that location answers RUNNING a configurable number of times, then a 303 (or a
final JSON status); a status may first answer 307 to a moved copy of itself. GET
/api/v2/deployments/{id}/ answers the deployment with its model's ``targetType`` (or 404
for ids in ``missing_deployments``) and, when ``model_package`` is set, its ``modelPackage``,
which GET /api/v2/modelPackages/{id}/ then answers; those lookups are counted apart from
``requests``.
Scripted faults are consumed one per POST, in order, before the body is accepted, so a
faulted request never counts as delivered.

Run as a script (``python actuals_fake_api.py --latency 0.05``) it prints its port and
serves until stdin closes, which lets the benchmark keep it in a separate process.
"""

from __future__ import annotations

import argparse
import itertools
import json
import socket
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACTUALS_PATH = "/api/v2/deployments/"
STATUS_PATH = "/api/v2/status/"
MOVED_STATUS_PATH = "/api/v2/moved-status/"
PACKAGES_PATH = "/api/v2/modelPackages/"


@dataclass(frozen=True)
class Fault:
    """One scripted answer: a status (with headers and text), a dropped connection, or a stall."""

    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    text: str = ""
    drop: bool = False
    stall_seconds: float = 0.0


@dataclass
class Submission:
    deployment_id: str
    association_ids: list[str]
    rows: list[dict[str, Any]]
    authorization: str


class FakeActualsApi:
    def __init__(
        self,
        *,
        tokens: set[str] | None = None,
        latency: float = 0.0,
        running_polls: int = 1,
        final_status: str = "redirect",
        keep_rows: bool = True,
    ) -> None:
        self.tokens = tokens if tokens is not None else {"test-token"}
        self.latency = latency
        self.running_polls = running_polls
        self.final_status = final_status
        self.keep_rows = keep_rows
        self.target_type: str | None = "Binary"
        self.missing_deployments: set[str] = set()
        self.model_package: dict[str, Any] | None = None
        self.lookups: list[str] = []
        self.status_redirects = 0
        self.faults: deque[Fault] = deque()
        self.submissions: list[Submission] = []
        self.requests = 0
        self.rows_received = 0
        self.authorizations: list[str] = []
        self.polls: dict[str, int] = {}
        self.before_accept: list[Any] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeActualsApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def delivered_ids(self) -> list[str]:
        return [aid for submission in self.submissions for aid in submission.association_ids]

    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self.faults.popleft() if self.faults else None

    def _accept(self, deployment_id: str, rows: list[dict[str, Any]], authorization: str) -> str:
        with self._lock:
            job = str(next(self._ids))
            self.polls[job] = 0
            self.rows_received += len(rows)
            if self.keep_rows:
                ids = [row["associationId"] for row in rows]
                self.submissions.append(Submission(deployment_id, ids, rows, authorization))
            else:
                self.submissions.append(Submission(deployment_id, [], [], ""))
            return job

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes; with Nagle's algorithm on, the body
            # waits for the client's delayed ACK (about 40 ms), which would add to
            # every request on top of the latency this server is asked to simulate.
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, payload: Any = None, headers: dict[str, str] | None = None) -> None:
                if payload is None or isinstance(payload, bytes):
                    body = payload or b""
                else:
                    body = json.dumps(payload).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _authorized(self, *, count: bool = True) -> bool:
                authorization = self.headers.get("Authorization", "")
                with api._lock:
                    if count:
                        api.requests += 1
                        api.authorizations.append(authorization)
                if authorization.removeprefix("Bearer ") in api.tokens:
                    return True
                self._send(401, {"message": "Invalid token"})
                return False

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if api.latency:
                    time.sleep(api.latency)
                if not self._authorized():
                    return
                fault = api._next_fault()
                if fault is not None:
                    self._fault(fault)
                    return
                if not (self.path.startswith(ACTUALS_PATH) and self.path.endswith("/actuals/fromJSON/")):
                    self._send(404, {"message": "Not found"})
                    return
                deployment_id = self.path[len(ACTUALS_PATH) :].split("/", 1)[0]
                rows = json.loads(body)["data"]
                for hook in api.before_accept:
                    hook(deployment_id, rows)
                job = api._accept(deployment_id, rows, self.headers.get("Authorization", ""))
                self._send(202, {"statusId": job}, {"Location": f"{api.url}{STATUS_PATH}{job}/"})

            def do_GET(self) -> None:
                if api.latency:
                    time.sleep(api.latency)
                if self.path.startswith(ACTUALS_PATH):
                    self._deployment()
                    return
                if self.path.startswith(PACKAGES_PATH):
                    self._model_package()
                    return
                if not self._authorized():
                    return
                job = ""
                for prefix in (STATUS_PATH, MOVED_STATUS_PATH):
                    if self.path.startswith(prefix):
                        job = self.path[len(prefix) :].strip("/")
                if self.path.startswith(STATUS_PATH) and job in api.polls:
                    with api._lock:
                        moved = api.status_redirects > 0
                        api.status_redirects -= moved
                    if moved:
                        self._send(307, {}, {"Location": f"{MOVED_STATUS_PATH}{job}/"})
                        return
                with api._lock:
                    seen = api.polls.get(job)
                    if seen is not None:
                        api.polls[job] = seen + 1
                if seen is None:
                    self._send(404, {"message": "Unknown status"})
                elif seen < api.running_polls:
                    self._send(200, {"status": "RUNNING"})
                elif api.final_status == "redirect":
                    self._send(303, {"status": "COMPLETED"}, {"Location": f"{api.url}/api/v2/deployments/"})
                else:
                    self._send(200, {"status": api.final_status, "message": "ingestion finished"})

            def _deployment(self) -> None:
                if not self._authorized(count=False):
                    return
                deployment_id = self.path[len(ACTUALS_PATH) :].strip("/")
                with api._lock:
                    api.lookups.append(deployment_id)
                if "/" in deployment_id or deployment_id in api.missing_deployments:
                    self._send(404, {"message": "Not found"})
                    return
                model = {"id": "model-1"} if api.target_type is None else {"targetType": api.target_type}
                answer: dict[str, Any] = {"id": deployment_id, "model": model}
                if api.model_package is not None:
                    answer["modelPackage"] = {"id": api.model_package["id"]}
                self._send(200, answer)

            def _model_package(self) -> None:
                if not self._authorized(count=False):
                    return
                package_id = self.path[len(PACKAGES_PATH) :].strip("/")
                with api._lock:
                    api.lookups.append(f"modelPackages/{package_id}")
                if api.model_package is None or package_id != api.model_package["id"]:
                    self._send(404, {"message": "Not found"})
                    return
                self._send(200, api.model_package)

            def _fault(self, fault: Fault) -> None:
                if fault.stall_seconds:
                    time.sleep(fault.stall_seconds)
                if fault.drop or fault.stall_seconds:
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                self._send(fault.status, fault.text.encode(), fault.headers)

        return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--token", default="bench-token")
    args = parser.parse_args()
    api = FakeActualsApi(tokens={args.token}, latency=args.latency, running_polls=0, keep_rows=False).start()
    print(api._server.server_address[1], flush=True)
    for line in sys.stdin:
        if line.strip() == "stats":
            print(json.dumps({"requests": api.requests, "rows": api.rows_received}), flush=True)
    api.stop()


if __name__ == "__main__":
    main()
