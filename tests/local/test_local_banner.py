"""Every example served locally, and every command its banner prints run as printed.

One server per example (module-scoped through the parameter; examples/local reuses the session's,
and in a run without pytest-xdist workers the next example's server starts while one is tested).
Each command must give the status the banner documents next to it: the HTTP status of a curl, the
exit code of a make helper.
"""

from __future__ import annotations

import io
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from local_support import REPO_ROOT, Launch, LocalMode, launch_local_mode

from mlgw_client.__main__ import main as mlgw

EXAMPLES = sorted(p.name for p in (REPO_ROOT / "examples").iterdir() if (p / "main.tf").is_file())
STATUS_MARK = "\n@@status@@"
_launched: dict[str, Launch] = {}
# Workers share out the examples' tests, so the next example may well be served by another
# worker: each worker starts only the servers its own tests use.
PRELAUNCH = "PYTEST_XDIST_WORKER" not in os.environ


def _launch(example: str, tmp_path_factory: pytest.TempPathFactory) -> Launch:
    if example not in _launched:
        _launched[example] = launch_local_mode(
            tmp_path_factory.mktemp(f"banner-{example}"), "--example", f"examples/{example}"
        )
    return _launched[example]


@pytest.fixture(scope="module", params=EXAMPLES)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    example = str(request.param)
    if example == "local":
        yield request.getfixturevalue("local_mode")
        return
    launch = _launch(example, tmp_path_factory)
    following = [e for e in EXAMPLES[EXAMPLES.index(example) + 1 :] if e != "local"]
    if following and PRELAUNCH:
        _launch(following[0], tmp_path_factory)  # starts while this one is tested
    mode = launch.wait(timeout=240)
    yield mode
    mode.stop()


@pytest.fixture(scope="module", autouse=True)
def _no_server_outlives_the_module() -> Iterator[None]:
    """A server started for a test that did not run (deselected, or the run stopped) ends too."""
    yield
    for launch in _launched.values():
        launch.stop()


def _run(mode: LocalMode, command: dict[str, Any]) -> tuple[int, str]:
    """Run a banner command in bash as printed; a curl also writes its HTTP status."""
    text = command["command"]
    if command["kind"] == "http":
        text += f" -w '{STATUS_MARK}%{{http_code}}'"
    result = subprocess.run(
        ["bash", "-c", text],
        cwd=REPO_ROOT,
        env={**os.environ, "MLGW_LOCAL_STATE": str(mode.state_file)},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if command["kind"] == "http":
        body, _, status = result.stdout.rpartition(STATUS_MARK)
        return int(status or 0), body + result.stderr
    return result.returncode, result.stdout + result.stderr


def test_every_banner_command_gives_its_documented_status(served: LocalMode) -> None:
    banner = served.log.read_text(encoding="utf-8", errors="replace")
    commands = [c for c in served.state["commands"] if c["type"] == "command"]
    skipped = [c for c in served.state["commands"] if c["type"] == "skipped"]
    # Every route and pipeline of every example has a sample that fits.
    assert not skipped, skipped
    assert commands
    failures = []
    for command in commands:
        assert command["command"] in banner, command["command"]
        got, output = _run(served, command)
        if got != command["expect"]:
            failures.append(f"{command['label']}: got {got}, expected {command['expect']}\n{output[-1500:]}")
    assert not failures, "\n\n".join(failures)
    if served.state["example"].endswith("single-function"):
        # Its function has no API: the banner invokes it through make local-invoke.
        invokes = [c["command"] for c in commands if c["section"] == "invoke"]
        assert [c.split(" EVENT=")[0] for c in invokes] == ["make local-invoke FUNCTION=mlgw-example-predict"]


def test_the_banner_names_every_stage_key_and_model(served: LocalMode) -> None:
    banner = served.log.read_text(encoding="utf-8", errors="replace")
    for name, url in served.state["stages"].items():
        assert f"stage {name:<10} {url}" in banner
    for key in served.state["keys"]:
        assert f"API key          {key['name']} (usage plan {key['usage_plan']}" in banner
    for endpoint in served.state["models"]:
        assert f"endpoint         {endpoint}: " in banner
    evaluated = len(served.state["alarms"]["evaluated"])
    assert f"metrics          {served.state['metrics_file']}   alarms evaluated here: {evaluated}" in banner
    if served.state["batch"]:
        batch = served.state["batch"]
        assert f"s3://{batch['bucket']}/{batch['input_prefix']}" in banner


def test_mlgw_smoke_local_passes_every_route_with_the_banners_samples(served: LocalMode) -> None:
    routes = served.state["routes"]
    # The client's samples are the requests of the banner's route commands, one per route.
    assert sorted(s["route"] for s in served.state["samples"]) == sorted(routes)
    out, err = io.StringIO(), io.StringIO()
    code = mlgw(["smoke", "--local", "--state-file", str(served.state_file)], out, err)
    assert code == 0, out.getvalue() + err.getvalue()
    assert f"{len(routes)}/{len(routes)} routes passed" in out.getvalue()
