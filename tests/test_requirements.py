"""The two locks: `make local` installs requirements-local.txt alone, `make venv` requirements-dev.txt.

Every requirement of an .in file is pinned in its .txt, the dev lock holds every pin of the local
lock at the same version (so installing it satisfies local mode too), and `make local` depends
on the local lock only.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO_ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def _requirements(name: str, seen: set[str] | None = None) -> list[Requirement]:
    """The requirements of an .in file, following its `-r` includes."""
    seen = seen if seen is not None else set()
    seen.add(name)
    found = []
    for raw in (REPO_ROOT / name).read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            included = line.removeprefix("-r ").strip()
            assert included not in seen, f"{name} includes {included} twice"
            found += _requirements(included, seen)
            continue
        found.append(Requirement(line))
    return found


def _pins(name: str) -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (REPO_ROOT / name).read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"{name}: {line!r} is not an exact pin"
        pins[canonicalize_name(match[1])] = match[2]
    return pins


@pytest.mark.parametrize("stem", ["requirements-local", "requirements-dev"])
def test_every_requirement_is_pinned_in_its_lock(stem: str) -> None:
    pins = _pins(f"{stem}.txt")
    for requirement in _requirements(f"{stem}.in"):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} of {stem}.in is not pinned in {stem}.txt: run make lock"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"{stem}.txt pins {name}=={pins[name]}, outside {requirement.specifier} of {stem}.in"
        )


def test_the_dev_lock_holds_every_local_pin_at_the_same_version() -> None:
    local, dev = _pins("requirements-local.txt"), _pins("requirements-dev.txt")
    differing = {
        name: (version, dev.get(name)) for name, version in local.items() if dev.get(name) != version
    }
    assert not differing, f"local pin -> dev pin: {differing}"
    assert len(local) < len(dev), "the local lock must leave the dev tooling out"


def test_the_local_lock_leaves_the_dev_tools_out() -> None:
    local = _pins("requirements-local.txt")
    for tool in ("checkov", "pytest", "pytest-xdist", "ruff", "pandas"):
        assert tool not in local, f"{tool} is dev tooling: it belongs to requirements-dev.in only"


def test_make_local_installs_the_local_lock_only() -> None:
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^LOCAL_LOCK\s*:=\s*requirements-local\.txt$", makefile, re.MULTILINE)
    for target in ("local", "local-batch", "local-actuals", "local-smoke", "local-invoke"):
        line = re.search(rf"^{target}:([^#\n]*)", makefile, re.MULTILINE)
        assert line, target
        assert line[1].split() == ["$(LOCAL_STAMP)"], f"make {target} must need only the local lock"
    # Both stamps are named after what they install, the client's pyproject.toml included, so a
    # change to either rebuilds the venv.
    assert re.search(r"^STAMP\s*:=.*\$\(LOCK\) \$\(CLIENT\)", makefile, re.MULTILINE)
    assert re.search(r"^LOCAL_STAMP\s*:=.*\$\(LOCAL_LOCK\) \$\(CLIENT\)", makefile, re.MULTILINE)
    assert re.search(r"^CLIENT\s*:=\s*client/pyproject\.toml$", makefile, re.MULTILINE)
