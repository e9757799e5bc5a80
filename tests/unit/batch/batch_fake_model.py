"""A deterministic model behind a real SageMaker-runtime-compatible HTTP server on 127.0.0.1.

It answers `POST /endpoints/{name}/invocations` the way the SageMaker runtime does, so the real
boto3 `sagemaker-runtime` client reaches it through an endpoint URL override: CSV lines or
`{"instances": [...]}` in, one prediction per row out (the sum of the row's numeric values,
rounded to 6 places), errors in the runtime's own wire format (status, `x-amzn-ErrorType`,
JSON body). A row holding the value `REJECT` makes the model answer with a `ModelError`, as a
real container does for input it cannot score; a row holding `CRASH` makes the container fail
(a `ModelError` whose original status is 500); a row holding `VANISH` gets the answer of an
endpoint deleted mid-file (`ValidationError`).

Run as a script (`python batch_fake_model.py --delay 0.002`) it prints its port on stdout and
serves until stdin closes; the benchmark uses it that way, in its own process.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REJECT = "REJECT"
CRASH = "CRASH"
VANISH = "VANISH"


@dataclass(frozen=True)
class Failure:
    """A scripted answer in SageMaker's error format, e.g. ThrottlingException with status 400."""

    status: int
    code: str
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Call:
    endpoint: str
    content_type: str
    accept: str
    inference_id: str | None
    rows: int


def _number(value: Any) -> float:
    if isinstance(value, bool) or value is None:
        return 0.0
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except ValueError:
        return 0.0


def _rows(body: bytes, content_type: str) -> list[list[Any]]:
    if content_type.startswith("text/csv"):
        return [row for row in csv.reader(io.StringIO(body.decode("utf-8"))) if row]
    document = json.loads(body)
    return [list(item.values()) if isinstance(item, dict) else item for item in document["instances"]]


def predict(rows: list[list[Any]]) -> list[float]:
    return [round(sum(_number(value) for value in row), 6) for row in rows]


class FakeSageMakerRuntime:
    """Serves in a daemon thread; `delay` seconds are added to every call."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.calls: list[Call] = []
        self.failures: deque[Failure] = deque()
        self.always: Failure | None = None
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body leave in two writes; without this, Nagle's algorithm and the
            # client's delayed ACK would add ~40 ms to every call on a kept-alive connection.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, headers, answer = server.answer(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test and benchmark output clean."""

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def fail(self, *failures: Failure) -> None:
        self.failures.extend(failures)

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if self.delay:
            time.sleep(self.delay)
        lowered = {name.lower(): value for name, value in headers.items()}
        parts = path.strip("/").split("/")
        if len(parts) != 3 or parts[0] != "endpoints" or parts[2] != "invocations":
            return self._error(Failure(404, "UnknownOperationException"))
        content_type = lowered.get("content-type", "application/json")
        accept = lowered.get("accept", "application/json")
        try:
            rows = _rows(body, content_type)
        except (ValueError, KeyError, TypeError):
            rows = []
        with self._lock:
            self.calls.append(
                Call(parts[1], content_type, accept, lowered.get("x-amzn-sagemaker-inference-id"), len(rows))
            )
            failure = self.failures.popleft() if self.failures else self.always
        if failure is not None:
            return self._error(failure)
        if any(VANISH in (str(value) for value in row) for row in rows):
            return self._error(Failure(400, "ValidationError", {"message": "Endpoint not found."}))
        if any(CRASH in (str(value) for value in row) for row in rows):
            return self._error(
                Failure(424, "ModelError", {"OriginalStatusCode": 500, "OriginalMessage": "worker died"})
            )
        if not rows or any(REJECT in (str(value) for value in row) for row in rows):
            return self._error(
                Failure(
                    424,
                    "ModelError",
                    {"OriginalStatusCode": 400, "OriginalMessage": "cannot score this input"},
                )
            )
        predictions = predict(rows)
        if accept.startswith("text/csv"):
            return 200, {"Content-Type": "text/csv"}, "".join(f"{value}\n" for value in predictions).encode()
        document = json.dumps({"predictions": predictions}).encode()
        return 200, {"Content-Type": "application/json"}, document

    @staticmethod
    def _error(failure: Failure) -> tuple[int, dict[str, str], bytes]:
        body = json.dumps({"message": f"{failure.code} from the fake runtime", **failure.body}).encode()
        return failure.status, {"Content-Type": "application/json", "x-amzn-ErrorType": failure.code}, body

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds added to every call")
    args = parser.parse_args()
    server = FakeSageMakerRuntime(delay=args.delay)
    print(server.port, flush=True)
    for line in sys.stdin:
        if line.strip() == "calls":
            print(len(server.calls), flush=True)
    server.close()


if __name__ == "__main__":
    main()
