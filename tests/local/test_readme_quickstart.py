"""The README's quick start, run line by line as a newcomer would, against a local mode started
as `make local` starts it (the default example, its state file in the state directory).

The only changes to the lines: the API's address is the one this local mode was given (ports are
chosen by the system here, 8080 is the default), and ``KEY`` is the key the banner prints.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_support import PORTS, READY_SECONDS, REPO_ROOT

README = REPO_ROOT / "README.md"
DEFAULT_API = "http://127.0.0.1:8080"
STATUS_MARK = "\n@@status@@"


def quick_start_commands(readme: str) -> list[str]:
    """The commands of the README's second ``sh`` block (the one run beside `make local`),
    continuation lines joined, with the placeholder assignment of ``KEY`` left out."""
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.DOTALL)
    assert len(blocks) >= 2, "the README opens with the make local block, then the quick start"
    joined = blocks[1].replace("\\\n", " ")
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.startswith("KEY=")]


def test_the_quick_start_block_is_what_this_test_runs() -> None:
    commands = quick_start_commands(README.read_text(encoding="utf-8"))
    kinds = [command.split()[0] + " " + command.split()[1] for command in commands]
    # If the README gains or loses a step, this test must be looked at again.
    assert kinds == ["curl -sS", "curl -sS", "make local-batch", "make local-actuals", "make local-smoke"]


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, object]]]:
    state_dir = tmp_path_factory.mktemp("readme-state")
    log = state_dir.parent / "readme-local.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / p) for p in ("local", "tests"))}
    ports = [f"--{name}-port=0" for name in PORTS]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlgw_local", "serve", "--state-dir", str(state_dir), *ports],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + READY_SECONDS * 4
        while not (found := sorted(state_dir.glob("api-*.json"))):
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"local mode did not start:\n{log.read_text(errors='replace')[-4000:]}")
            time.sleep(0.1)
        time.sleep(0.2)  # the state file is written whole, but give the banner its last line
        yield state_dir, json.loads(found[0].read_text(encoding="utf-8"))
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _banner_key(state: dict[str, object]) -> str:
    """The key the banner's own route commands send."""
    for command in state["commands"]:  # type: ignore[attr-defined]
        found = re.search(r"x-api-key: ([0-9A-Za-z]+)", str(command.get("command", "")))
        if found:
            return found.group(1)
    raise AssertionError("the banner shows no API key")


def test_every_quick_start_line_works(started: tuple[Path, dict[str, object]]) -> None:
    state_dir, state = started
    origin = re.match(r"https?://[^/]+", str(state["invoke_url"]))
    assert origin
    env = {**os.environ, "KEY": _banner_key(state), "MLGW_LOCAL_STATE_DIR": str(state_dir)}
    failures = []
    for line in quick_start_commands(README.read_text(encoding="utf-8")):
        command = line.replace(DEFAULT_API, origin.group())
        is_curl = command.startswith("curl")
        if is_curl:
            command += f" -w '{STATUS_MARK}%{{http_code}}'"
        result = subprocess.run(
            ["bash", "-c", command],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
        if is_curl:
            body, _, status = result.stdout.rpartition(STATUS_MARK)
            if status != "200" or ("predictions" not in body and "ratings" not in body):
                failures.append(f"{line}\n  -> HTTP {status}: {body[-500:]}{result.stderr[-500:]}")
        elif result.returncode != 0:
            failures.append(
                f"{line}\n  -> exit {result.returncode}: {(result.stdout + result.stderr)[-1500:]}"
            )
    assert not failures, "\n\n".join(failures)
