"""A Terraform error under `make local` and `make plan` is shown once, without the partial plan.

A failed `terraform plan` prints the actions it had planned before the problem on stdout and its
diagnostics on stderr; both commands must show the diagnostics and nothing of the plan.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from local_support import REPO_ROOT

pytestmark = pytest.mark.terraform

# The usage plan's WEEK quota takes an offset of 0 to 6: the rest-api module's validation refuses 9.
GOOD_QUOTA = 'quota = { limit = 10000, period = "DAY" }'
BAD_QUOTA = 'quota = { limit = 10000, period = "WEEK", offset = 9 }'
DIAGNOSTIC = "Error: Invalid value for variable"
PARTIAL_PLAN_MARKERS = ("Terraform planned the following actions", "will be created", "Plan: ")


@pytest.fixture(scope="module")
def broken_example(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("examples") / "broken-local"
    shutil.copytree(REPO_ROOT / "examples" / "local", copy, ignore=shutil.ignore_patterns(".terraform*"))
    main = copy / "main.tf"
    text = main.read_text(encoding="utf-8")
    assert GOOD_QUOTA in text, "examples/local changed its usage plan: update this test's deliberate error"
    main.write_text(text.replace(GOOD_QUOTA, BAD_QUOTA), encoding="utf-8")
    return copy


def _run(module: str, *args: str, pythonpath: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(REPO_ROOT / p) for p in pythonpath.split(":"))}
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _assert_diagnostics_once(result: subprocess.CompletedProcess[str]) -> None:
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert output.count(DIAGNOSTIC) == 1, output[-4000:]
    assert "quota.offset must be 0 for a DAY quota" in output
    for marker in PARTIAL_PLAN_MARKERS:
        assert marker not in output, f"{marker!r} of the partial plan is shown:\n{output[:2000]}"
    # The diagnostics are a few lines, not the 100 KB of a plan.
    assert len(output) < 4000, len(output)


def test_make_local_prints_terraform_diagnostics_once(broken_example: Path, tmp_path: Path) -> None:
    ports = [f"--{name}-port=0" for name in ("api", "runtime", "s3", "mlops", "iris", "ratings")]
    result = _run(
        "mlgw_local",
        "serve",
        "--example",
        str(broken_example),
        "--state-dir",
        str(tmp_path),
        *ports,
        pythonpath="local:tests",
    )
    _assert_diagnostics_once(result)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_make_plan_prints_terraform_diagnostics_once(broken_example: Path) -> None:
    result = _run("tfharness", "plan", str(broken_example), pythonpath="tests")
    _assert_diagnostics_once(result)
    assert result.stdout == ""
