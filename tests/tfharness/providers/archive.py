"""Stand-in for hashicorp/archive: ``data "archive_file"`` really builds the zip.

The zip is deterministic (fixed timestamps, sorted entries, deflate), so the hashes that
flow into ``aws_lambda_function.source_code_hash`` are real and stable across plans.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

from tfharness.providers.plugin import SCHEMA_DIR, Json, StandinProvider, serve


def _excluded(relative: str, patterns: list[str]) -> bool:
    for pattern in patterns:
        if relative == os.path.normpath(pattern) or fnmatch.fnmatch(relative, pattern):
            return True
        # "**/x" also matches "x" at the top level, as doublestar globbing does.
        if pattern.startswith("**/") and fnmatch.fnmatch(relative, pattern[3:]):
            return True
    return False


def _entries(config: Json) -> Iterator[tuple[str, bytes, int]]:
    if config.get("source_content_filename") is not None:
        yield config["source_content_filename"], (config.get("source_content") or "").encode(), 0o644
    elif config.get("source_file"):
        path = Path(config["source_file"])
        yield path.name, path.read_bytes(), path.stat().st_mode & 0o777
    elif config.get("source_dir"):
        root = Path(config["source_dir"])
        if not root.is_dir():
            raise FileNotFoundError(f"source_dir {root} does not exist")
        patterns = list(config.get("excludes") or [])
        for directory, dirs, files in os.walk(root):
            dirs.sort()
            for name in sorted(files):
                full = Path(directory, name)
                relative = full.relative_to(root).as_posix()
                if not _excluded(relative, patterns):
                    yield relative, full.read_bytes(), full.stat().st_mode & 0o777
    else:
        for source in sorted(config.get("source") or [], key=lambda s: s["filename"]):
            yield source["filename"], source["content"].encode(), 0o644


def build_archive(config: Json) -> Json:
    if config["type"] != "zip":
        raise ValueError(f"archive type {config['type']!r} is not supported offline (zip only)")
    output = Path(config["output_path"])
    output.parent.mkdir(parents=True, exist_ok=True)
    fixed_mode = int(config["output_file_mode"], 8) if config.get("output_file_mode") else None
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data, mode in _entries(config):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = ((fixed_mode or mode) | 0o100000) << 16
            archive.writestr(info, data)
    data = output.read_bytes()
    sha1 = hashlib.sha1(data).hexdigest()
    return {
        "id": sha1,
        "output_size": len(data),
        "output_sha": sha1,
        "output_md5": hashlib.md5(data).hexdigest(),
        "output_sha256": hashlib.sha256(data).hexdigest(),
        "output_base64sha256": base64.b64encode(hashlib.sha256(data).digest()).decode(),
        "output_sha512": hashlib.sha512(data).hexdigest(),
        "output_base64sha512": base64.b64encode(hashlib.sha512(data).digest()).decode(),
    }


# A long-lived (reattached) archive stand-in serves the commands of many working directories:
# the harness names the one of the command it serves in this file, and relative paths resolve
# against it, as they do in a process Terraform starts in its own working directory.
WORKDIR_FILE = "MLGW_STANDIN_WORKDIR_FILE"


class ArchiveStandin(StandinProvider):
    schema_path = SCHEMA_DIR / "archive.json"

    def read_data_source(self, type_name: str, config: Json) -> Json:
        named = os.environ.get(WORKDIR_FILE)
        if named:
            os.chdir(Path(named).read_text(encoding="utf-8"))
        return {**config, **build_archive(config)}


def main() -> None:
    serve(ArchiveStandin, "registry.terraform.io/hashicorp/archive")


if __name__ == "__main__":
    main()
