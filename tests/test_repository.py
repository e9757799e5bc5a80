"""Repository rules that keep documentation, security skips and pins honest."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
_SKIP = re.compile(r"#\s*checkov:skip=([A-Z0-9_]+)(?::(.*))?")


def _tf_files() -> list[Path]:
    return [
        p
        for p in REPO_ROOT.rglob("*.tf")
        if not {".venv", ".terraform", "tests", ".tf-offline"} & set(p.relative_to(REPO_ROOT).parts)
    ]


@pytest.mark.terraform  # the route tables come from the examples' offline plans
def test_terraform_readme_tables_are_generated_and_current() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_docs.py", "--check"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_checkov_skip_carries_a_reason() -> None:
    skips = []
    for path in _tf_files():
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            match = _SKIP.search(line)
            if match:
                skips.append(
                    (
                        f"{path.relative_to(REPO_ROOT)}:{number}",
                        match.group(1),
                        (match.group(2) or "").strip(),
                    )
                )
    assert skips, "expected the inline skips of modules/lambda-function"
    unexplained = [f"{where} {check}" for where, check, reason in skips if len(reason.split()) < 4]
    assert not unexplained, "checkov skips without a reason: " + ", ".join(unexplained)


def test_powertools_layer_and_pypi_pin_name_the_same_release() -> None:
    lock = (REPO_ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    pinned = re.search(r"^aws[-_]lambda[-_]powertools==([\d.]+)$", lock, re.MULTILINE | re.IGNORECASE)
    assert pinned, "aws-lambda-powertools must be pinned in requirements-dev.txt"
    variables = " ".join(
        (REPO_ROOT / "modules/lambda-function/variables.tf").read_text(encoding="utf-8").split()
    )
    layer = re.search(
        r"layer version this module pins \((\d+), the layer of aws-lambda-powertools ([\d.]+)", variables
    )
    assert layer, "the powertools_layer description must name the pinned layer version and its release"
    assert layer.group(2) == pinned.group(1)
    assert re.search(rf"version = optional\(number, {layer.group(1)}\)", variables)
