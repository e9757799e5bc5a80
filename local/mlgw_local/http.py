"""Small HTTP servers on the standard library, bound up front so a taken port fails clearly."""

from __future__ import annotations

import errno
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


class PortInUseError(RuntimeError):
    """A configured port is taken; the message says which one and how to choose another."""


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    body: bytes
    client: str

    def header(self, name: str) -> str | None:
        lowered = name.lower()
        found = [value for key, value in self.headers if key.lower() == lowered]
        return found[-1] if found else None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Further lines of a header already in ``headers`` (a second Set-Cookie), sent as they are.
    more_headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, document: Any, headers: dict[str, str] | None = None) -> Response:
        return cls(
            status, json.dumps(document).encode(), {"Content-Type": "application/json", **(headers or {})}
        )


Handler = Callable[[Request], Response]


def bind(host: str, port: int, what: str, option: str, handler: Handler) -> ThreadingHTTPServer:
    """A threaded server for ``handler``, not yet serving; port 0 picks a free one."""

    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            split = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                method=self.command,
                path=split.path,
                query=parse_qsl(split.query, keep_blank_values=True),
                headers=list(self.headers.items()),
                body=self.rfile.read(length) if length else b"",
                client=self.client_address[0],
            )
            try:
                response = handler(request)
            except Exception as exc:  # a bug here must not hang the client
                response = Response.json(500, {"message": f"local mode failed: {exc!r}"})
            self.send_response(response.status)
            for name, value in [*response.headers.items(), *response.more_headers]:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:
            return

    try:
        server = ThreadingHTTPServer((host, port), _Handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise PortInUseError(
                f"port {port} for the {what} is already in use: stop what holds it or pass {option}"
            ) from None
        raise
    server.daemon_threads = True
    return server


def serve(server: ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, args=(0.1,), daemon=True)
    thread.start()
    return thread


def url_of(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"
