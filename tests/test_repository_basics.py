"""LICENSE matches what pyproject.toml declares; pre-commit runs exactly make lint's checks, offline."""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_license_is_the_apache_2_text_pyproject_declares() -> None:
    declared = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert declared["license"] == {"text": "Apache-2.0"}
    client = tomllib.loads((REPO_ROOT / "client" / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert client["license"] == {"text": "Apache-2.0"}
    text = " ".join((REPO_ROOT / "LICENSE").read_text(encoding="utf-8").split())
    assert text.startswith("Apache License Version 2.0, January 2004 http://www.apache.org/licenses/")
    # The whole text: its nine sections and the appendix, not a summary.
    for section in range(1, 10):
        assert f" {section}. " in text
    assert "END OF TERMS AND CONDITIONS" in text
    assert "APPENDIX: How to apply the Apache License to your work." in text


def _lint_commands() -> list[str]:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe
    return [line.strip() for line in recipe[1].splitlines()]


def test_pre_commit_runs_the_checks_of_make_lint_as_local_hooks() -> None:
    config = yaml.safe_load((REPO_ROOT / ".pre-commit-config.yaml").read_text(encoding="utf-8"))
    assert [repo["repo"] for repo in config["repos"]] == ["local"], "remote hook repos would be downloaded"
    hooks = config["repos"][0]["hooks"]
    assert all(hook["language"] == "system" for hook in hooks), "system hooks install nothing"
    entries = [shlex.split(hook["entry"]) for hook in hooks]
    expanded = {
        "$(VENV)": ".venv",
        "$(TFH)": "PYTHONPATH=tests .venv/bin/python -m tfharness",
    }
    for recipe_line in _lint_commands():
        command = recipe_line
        for name, value in expanded.items():
            command = command.replace(name, value)
        words = [word for word in shlex.split(command) if word != "."]
        # The hook runs the same program with the same arguments (ruff hooks get the staged
        # files instead of ".", with --force-exclude so the project's excludes still apply).
        matching = [
            entry for entry in entries if [w for w in entry if w not in ("env", "--force-exclude")] == words
        ]
        assert matching, f"no pre-commit hook runs `{command}`"
    assert len(hooks) == len(_lint_commands())
