"""Helpers shared by the prediction tests (imported by name; conftest only wires fixtures)."""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import settings_documents

EVENTS = Path(__file__).resolve().parents[2] / "events"


def settings_document(**fields: Any) -> dict[str, Any]:
    """The module's default document with some fields replaced (sections merge)."""
    return settings_documents.document(settings_documents.PREDICT, **fields)


def settings_env(**fields: Any) -> dict[str, str]:
    return settings_documents.environment(settings_documents.PREDICT, **fields)


@dataclass
class FakeContext:
    function_name: str = "churn-predict"
    function_version: str = "$LATEST"
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:churn-predict"
    memory_limit_in_mb: int = 256
    aws_request_id: str = "5f1e9a2c-0000-4000-8000-lambdarequest"
    log_group_name: str = "/aws/lambda/churn-predict"
    log_stream_name: str = "2025/03/12/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def load_event(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((EVENTS / name).read_text()))


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"predictions": [0.5]}'
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    delay: float = 0.0


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class ModelServer:
    """A real HTTP server on 127.0.0.1 that answers with scripted replies and records requests."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.default = Reply()
        self.received: list[Received] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                server.received.append(
                    Received(self.command, self.path, dict(self.headers.items()), self.rfile.read(length))
                )
                reply = server.replies.popleft() if server.replies else server.default
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    # the client gave up first, as the timeout tests intend
                    return

            do_GET = _serve
            do_POST = _serve

            def log_message(self, format: str, *args: Any) -> None:
                """Keep test output clean."""

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def reply(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
