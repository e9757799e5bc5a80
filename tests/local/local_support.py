"""Local mode in a subprocess on free ports, as `make local` runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_SECONDS = 30
PORTS = ("api", "runtime", "s3", "mlops", "iris", "ratings", "binary", "lambda")


@dataclass
class LocalMode:
    process: subprocess.Popen[bytes]
    state: dict[str, Any]
    ready_seconds: float
    log: Path
    state_file: Path

    @property
    def api(self) -> str:
        return str(self.state["invoke_url"])

    def key(self, name: str) -> str:
        return str(self.state["api_keys"][name])

    def s3(self) -> Any:
        return boto3.client(
            "s3",
            endpoint_url=self.state["urls"]["s3"],
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def stop(self) -> int:
        return stop_local_mode(self.process)


@dataclass
class Launch:
    """A local mode starting in the background (the next example's, while one is tested)."""

    process: subprocess.Popen[bytes]
    state_file: Path
    log: Path
    started: float

    def wait(self, timeout: float = READY_SECONDS * 2) -> LocalMode:
        while not self.state_file.exists():
            if self.process.poll() is not None or time.monotonic() - self.started > timeout:
                self.process.kill()
                raise AssertionError(
                    f"local mode did not start:\n{self.log.read_text(errors='replace')[-4000:]}"
                )
            time.sleep(0.1)
        ready = time.monotonic() - self.started
        state = json.loads(self.state_file.read_text(encoding="utf-8"))
        return LocalMode(self.process, state, ready, self.log, self.state_file)

    def stop(self) -> None:
        """Stop it whether or not it is ready yet."""
        stop_local_mode(self.process)


def stop_local_mode(process: subprocess.Popen[bytes]) -> int:
    """Ctrl-C, as a user stops it; killed if it is still running 15 s later. Its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            return process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return int(process.returncode)


def launch_local_mode(tmp: Path, *args: str) -> Launch:
    """Start ``python -m mlgw_local`` with every port chosen by the OS, without waiting."""
    state_file = tmp / "state.json"
    log = tmp / "local.log"
    ports = [f"--{name}-port=0" for name in PORTS]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / p) for p in ("local", "tests"))}
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlgw_local", "serve", "--state-file", str(state_file), *ports, *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Launch(process, state_file, log, started)


def start_local_mode(tmp: Path, *args: str) -> LocalMode:
    """Start ``python -m mlgw_local`` with every port chosen by the OS; wait for its state file."""
    return launch_local_mode(tmp, *args).wait()
