"""The planned Lambda functions, each in its own worker process with exactly its environment.

A worker is the function's execution environment: the handler module is imported once with the
function's planned environment (cold start) and then serves one invocation at a time, as a
Lambda environment does. Functions therefore never share settings that Lambda keeps apart.

The metrics a handler prints (EMF lines on stdout) are taken out of its output and returned with
each invocation's result; the parent adds the ones Lambda itself publishes for the invocation.
"""

from __future__ import annotations

import contextlib
import importlib
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgw_local.metrics import EmfCapture, emf

if TYPE_CHECKING:
    from mlgw_local.plan import Function

LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"
ACCOUNT_ID = "123456789012"


class FunctionError(RuntimeError):
    """The handler raised: Lambda's ``FunctionError: Unhandled``."""


class WorkerRetired(RuntimeError):
    """The worker was replaced by a reload before this invocation reached it: use the new one."""


@dataclass
class _Context:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    aws_request_id: str
    deadline: float
    region: str

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def function_version(self) -> str:
        return "$LATEST"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def _loaded_files(source: Path) -> list[str]:
    """The files under ``source`` the handler's import loaded: what a change restarts it for."""
    found = set()
    for module in list(sys.modules.values()):
        name = getattr(module, "__file__", None)
        if name and Path(name).resolve().is_relative_to(source):
            found.add(str(Path(name).resolve()))
    return sorted(found)


@dataclass(frozen=True)
class _Runtime:
    """What a worker needs of its function. The worker process is given this rather than the
    planned ``Function``, whose module (the plan reader and the offline harness) it would
    otherwise import at every cold start."""

    name: str
    handler: str
    timeout: int
    memory_size: int


def _worker(connection: Connection, function: _Runtime, environment: dict[str, str], source: Path) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops workers on Ctrl-C
    os.environ.clear()
    os.environ.update(environment)
    capture = EmfCapture(sys.stdout)
    sys.stdout = capture
    sys.path.insert(0, str(source))
    module_name, _, attribute = function.handler.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), attribute)
    except Exception:
        connection.send(("init-error", traceback.format_exc()))
        return
    connection.send(("ready", _loaded_files(source)))
    while True:
        try:
            message = connection.recv()
        except EOFError:
            return
        if message is None:
            return
        event, request_id = message
        context = _Context(
            function.name,
            function.memory_size,
            request_id,
            time.monotonic() + function.timeout,
            environment.get("AWS_REGION", "us-east-1"),
        )
        try:
            outcome: tuple[str, Any] = ("ok", handler(event, context))
        except Exception as exc:
            outcome = ("error", f"{type(exc).__name__}: {exc}")
        connection.send((*outcome, capture.take()))


class FunctionWorker:
    """Invokes one function; invocations queue, one at a time, like one warm environment."""

    def __init__(
        self,
        function: Function,
        environment: Mapping[str, str],
        metrics: Callable[[list[dict[str, Any]]], None] | None = None,
        source: Path = LAMBDA_SRC,
    ) -> None:
        self.function = function
        self.environment = dict(environment)
        self.source = source.resolve()
        # The source files the handler loaded at cold start, known once it is ready.
        self.files: frozenset[str] = frozenset()
        self._metrics = metrics
        self._lock = threading.Lock()
        self._retired = False
        spawn = multiprocessing.get_context("spawn")
        self._connection, child = spawn.Pipe()
        self._process = spawn.Process(
            target=_worker,
            args=(
                child,
                _Runtime(function.name, function.handler, function.timeout, function.memory_size),
                self.environment,
                self.source,
            ),
            name=function.name,
            daemon=True,
        )

    def replacement(self) -> FunctionWorker:
        """A new worker of the same function, environment and source: a cold start on new code."""
        return FunctionWorker(self.function, self.environment, self._metrics, self.source)

    def start(self) -> None:
        self._process.start()

    def wait_ready(self) -> None:
        kind, detail = self._connection.recv()
        if kind != "ready":
            raise FunctionError(f"{self.function.name} failed to start ({self.function.handler}):\n{detail}")
        self.files = frozenset(detail)

    def invoke(self, event: Any) -> Any:
        with self._lock:
            if self._retired:
                raise WorkerRetired(self.function.name)
            started = time.monotonic()
            self._connection.send((event, str(uuid.uuid4())))
            kind, result, documents = self._connection.recv()
            duration_ms = (time.monotonic() - started) * 1000
        if self._metrics is not None:
            invocation = {"Invocations": 1, "Errors": int(kind == "error"), "Duration": round(duration_ms, 3)}
            lambda_metrics = emf("AWS/Lambda", {"FunctionName": self.function.name}, invocation)
            self._metrics([*documents, lambda_metrics])
        if kind == "error":
            raise FunctionError(result)
        return result

    def retire(self) -> None:
        """Stop once the invocation in flight, if any, has finished; later ones are turned away."""
        with self._lock:
            self._retired = True
        self.stop()

    def stop(self) -> None:
        if self._process.is_alive():
            with contextlib.suppress(BrokenPipeError, OSError):
                self._connection.send(None)
            self._process.join(timeout=2)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=2)
