"""Refresh the committed hashicorp/aws schemas that the stand-in provider serves.

The committed file holds only the resource and data-source types this repository uses
(every type found in a ``.tf`` file, plus ``schemas/types.txt``). Run it whenever a module
starts using a new type:

    python -m tfharness.refresh_schemas --from-terraform          # needs terraform + network
    python -m tfharness.refresh_schemas --from-json schema.json   # `providers schema -json` output

``--from-terraform`` initialises a scratch root that requires the pinned provider version
and runs ``terraform providers schema -json`` there, so the schemas are the provider's own.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from tfharness.providers.plugin import SCHEMA_DIR

AWS_PROVIDER_VERSION = "6.47.0"
AWS_SOURCE = "registry.terraform.io/hashicorp/aws"
REPO_ROOT = SCHEMA_DIR.parents[2]
_BLOCK = re.compile(r'^\s*(resource|data)\s+"(aws_[a-z0-9_]+)"', re.MULTILINE)


def types_in_tf(root: Path) -> set[str]:
    """Every aws resource type and data source (as ``data.<type>``) declared under ``root``."""
    found: set[str] = set()
    for path in root.rglob("*.tf"):
        if ".terraform" in path.parts:
            continue
        for kind, type_name in _BLOCK.findall(path.read_text(encoding="utf-8")):
            found.add(f"data.{type_name}" if kind == "data" else type_name)
    return found


def listed_types() -> set[str]:
    lines = (SCHEMA_DIR / "types.txt").read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def wanted_types() -> set[str]:
    return listed_types() | types_in_tf(REPO_ROOT)


def _load(path: Path) -> dict[str, Any]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        data = json.load(handle)
    if "provider_schemas" in data:  # raw `terraform providers schema -json` output
        provider = data["provider_schemas"][AWS_SOURCE]
        return {
            "provider_version": data.get("provider_version", AWS_PROVIDER_VERSION),
            "resource_schemas": provider.get("resource_schemas", {}),
            "data_source_schemas": provider.get("data_source_schemas", {}),
        }
    return data


def from_terraform(terraform: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as scratch:
        Path(scratch, "main.tf").write_text(
            'terraform {\n  required_providers {\n    aws = {\n      source  = "hashicorp/aws"\n'
            f'      version = "{AWS_PROVIDER_VERSION}"\n    }}\n  }}\n}}\n',
            encoding="utf-8",
        )
        subprocess.run([terraform, "init", "-input=false", "-backend=false"], cwd=scratch, check=True)
        output = subprocess.run(
            [terraform, "providers", "schema", "-json"], cwd=scratch, check=True, capture_output=True
        ).stdout
        raw = Path(scratch, "schema.json")
        raw.write_bytes(output)
        return _load(raw)


def cut(full: dict[str, Any], wanted: set[str]) -> tuple[dict[str, Any], list[str]]:
    subset: dict[str, Any] = {
        "provider_version": full.get("provider_version", AWS_PROVIDER_VERSION),
        "resource_schemas": {},
        "data_source_schemas": {},
    }
    missing: list[str] = []
    for name in sorted(wanted):
        if name.startswith("data."):
            source, target, key = full["data_source_schemas"], subset["data_source_schemas"], name[5:]
        else:
            source, target, key = full["resource_schemas"], subset["resource_schemas"], name
        if key in source:
            target[key] = source[key]
        else:
            missing.append(name)
    return subset, missing


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--from-json", type=Path, help="a full schema file (.json or .json.gz)")
    group.add_argument("--from-terraform", action="store_true", help="ask a real terraform + provider")
    parser.add_argument("--terraform", default="terraform", help="terraform binary (with --from-terraform)")
    parser.add_argument("--out", type=Path, default=SCHEMA_DIR / "aws.json")
    args = parser.parse_args(argv)

    full = from_terraform(args.terraform) if args.from_terraform else _load(args.from_json)
    subset, missing = cut(full, wanted_types())
    if missing:
        print(f"these types are not in the provider schema: {', '.join(missing)}", file=sys.stderr)
        return 1
    args.out.write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(
        f"wrote {len(subset['resource_schemas'])} resources and "
        f"{len(subset['data_source_schemas'])} data sources "
        f"(aws {subset['provider_version']}) to {args.out.name}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
