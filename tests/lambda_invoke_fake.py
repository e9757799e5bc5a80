"""A local fake of Lambda's Invoke API: a real HTTP server on localhost that records every invoke.

It answers POST /2015-03-31/functions/{name}/invocations, the path a boto3 Lambda client pointed
at it through ``endpoint_url`` calls, with ``status`` (202, the answer to an asynchronous invoke,
by default) and records the function, the invocation type and the JSON payload of each request.
moto's own Lambda keeps no record of payloads and accepts any function name, so tests that need
to see what was invoked, or a refused invoke, use this instead.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Invocation:
    function: str
    invocation_type: str | None
    payload: Any


@dataclass
class FakeLambda:
    """Answers Invoke with `status` (202 by default) and records every request."""

    url: str
    received: list[Invocation] = field(default_factory=list)
    status: int = 202
    error_code: str = "TooManyRequestsException"


@contextmanager
def serve_fake_lambda() -> Iterator[FakeLambda]:
    state: dict[str, FakeLambda] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            fake = state["fake"]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            # /2015-03-31/functions/{name}/invocations
            parts = self.path.split("/")
            fake.received.append(
                Invocation(parts[3], self.headers.get("X-Amz-Invocation-Type"), json.loads(body))
            )
            if fake.status == 202:
                reply = b""
                self.send_response(202)
            else:
                reply = json.dumps({"message": "Rate exceeded", "Type": "User"}).encode()
                self.send_response(fake.status)
                self.send_header("x-amzn-ErrorType", fake.error_code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state["fake"] = FakeLambda(f"http://127.0.0.1:{server.server_port}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state["fake"]
    finally:
        server.shutdown()
        server.server_close()
