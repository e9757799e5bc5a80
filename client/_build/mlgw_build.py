"""A PEP 517/660 build backend for the client, with no dependencies of its own.

Python's `venv` ships setuptools without `wheel`, which setuptools before 70.1 needs to build any
wheel, so `pip install ./client` would have to download a build backend. This one only writes zip
files with the standard library, so the install works with no network: the wheel format is
https://packaging.python.org/en/latest/specifications/binary-distribution-format/, editable installs
are PEP 660 (https://peps.python.org/pep-0660/), and the metadata fields come from pyproject.toml's
[project] table (https://packaging.python.org/en/latest/specifications/core-metadata/).
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "mlgw_client"
TAG = "py3-none-any"


def _project() -> dict[str, Any]:
    return dict(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"])


def _dist_name(project: dict[str, Any]) -> str:
    return f"{project['name'].replace('-', '_')}-{project['version']}"


def _metadata(project: dict[str, Any]) -> str:
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project['description']}",
        f"Requires-Python: {project['requires-python']}",
        f"License: {project['license']['text']}",
    ]
    lines += [f"Requires-Dist: {requirement}" for requirement in project.get("dependencies", [])]
    for extra, requirements in sorted(project.get("optional-dependencies", {}).items()):
        lines.append(f"Provides-Extra: {extra}")
        lines += [f'Requires-Dist: {requirement}; extra == "{extra}"' for requirement in requirements]
    return "\n".join(lines) + "\n"


def _entry_points(project: dict[str, Any]) -> str:
    scripts = project.get("scripts", {})
    return "[console_scripts]\n" + "".join(f"{name} = {target}\n" for name, target in sorted(scripts.items()))


def _wheel(directory: str, files: dict[str, bytes]) -> str:
    project = _project()
    dist_info = f"{_dist_name(project)}.dist-info"
    files = {
        **files,
        f"{dist_info}/METADATA": _metadata(project).encode(),
        f"{dist_info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: mlgw_build\nRoot-Is-Purelib: true\nTag: {TAG}\n".encode(),
        f"{dist_info}/entry_points.txt": _entry_points(project).encode(),
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel_name = f"{_dist_name(project)}-{TAG}.whl"
    with zipfile.ZipFile(Path(directory) / wheel_name, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return wheel_name


def _sources() -> dict[str, bytes]:
    return {
        path.relative_to(ROOT).as_posix(): path.read_bytes()
        for path in sorted((ROOT / PACKAGE).rglob("*.py"))
        if "__pycache__" not in path.parts
    }


def get_requires_for_build_wheel(config_settings: Any = None) -> list[str]:
    return []


get_requires_for_build_editable = get_requires_for_build_sdist = get_requires_for_build_wheel


def build_wheel(wheel_directory: str, config_settings: Any = None, metadata_directory: Any = None) -> str:
    return _wheel(wheel_directory, _sources())


def build_editable(wheel_directory: str, config_settings: Any = None, metadata_directory: Any = None) -> str:
    """A wheel holding only a .pth file that puts the source directory on sys.path."""
    return _wheel(wheel_directory, {f"_{PACKAGE}_editable.pth": f"{ROOT}\n".encode()})


def build_sdist(sdist_directory: str, config_settings: Any = None) -> str:
    project = _project()
    base = _dist_name(project)
    members = {
        "pyproject.toml": (ROOT / "pyproject.toml").read_bytes(),
        "_build/mlgw_build.py": Path(__file__).read_bytes(),
        **_sources(),
        "PKG-INFO": _metadata(project).encode(),
    }
    name = f"{base}.tar.gz"
    with tarfile.open(Path(sdist_directory) / name, "w:gz") as archive:
        for member, data in members.items():
            info = tarfile.TarInfo(f"{base}/{member}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return name
