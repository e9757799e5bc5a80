"""Fixtures for the prediction function: fake AWS credentials, a fake Lambda context, canonical
events, a fresh import of the handler per test, and a real HTTP model server on localhost."""

from __future__ import annotations

import importlib
import io
import json
import os
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
from predict_support import FakeContext, ModelServer, settings_env

HANDLER_VARS = (
    "MLGW_SETTINGS",
    "TRACING_ENABLED",
    "POWERTOOLS_SERVICE_NAME",
    "POWERTOOLS_METRICS_NAMESPACE",
)


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials and region that cannot reach a real account, and no local AWS config."""
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL") or name in {"AWS_PROFILE", "AWS_DEFAULT_PROFILE"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def context() -> FakeContext:
    return FakeContext()


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[dict[str, Any]], ModuleType]]:
    """Import the handler afresh with a settings document of the given fields (the rest are the
    module's defaults), as a new Lambda container would."""

    def load(fields: dict[str, Any]) -> ModuleType:
        for name in HANDLER_VARS:
            monkeypatch.delenv(name, raising=False)
        for name, value in settings_env(**fields).items():
            monkeypatch.setenv(name, value)
        sys.modules.pop("mlgw.handlers.predict", None)
        return importlib.import_module("mlgw.handlers.predict")

    yield load
    sys.modules.pop("mlgw.handlers.predict", None)


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    server = ModelServer()
    yield server
    server.close()


@pytest.fixture
def closed_port_url() -> str:
    """A localhost URL nobody listens on: connections are refused at once."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def capture_logs() -> Iterator[Callable[[ModuleType], Callable[[], list[dict[str, Any]]]]]:
    """Point a loaded handler's Powertools log handler at a buffer. The handler is bound to
    the stream it saw when the "predict" logger was first configured, which capsys misses."""
    restore: list[tuple[Any, Any]] = []

    def capture(module: ModuleType) -> Callable[[], list[dict[str, Any]]]:
        stream = io.StringIO()
        handler = module.logger.registered_handler
        restore.append((handler, handler.setStream(stream)))
        return lambda: [json.loads(line) for line in stream.getvalue().splitlines()]

    yield capture
    for handler, previous in reversed(restore):
        handler.setStream(previous)
