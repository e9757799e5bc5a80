"""The aws stand-in served by long-lived processes that Terraform reattaches to: the plans are
the ones a provider started per command gives, a process serves one command at a time, and no
process outlives the harness."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tfharness import PlanFailed, Workspace
from tfharness.toolchain import (
    TESTS_DIR,
    InProcessTerraform,
    ReattachedStandins,
    TerraformRunners,
    configurations,
    toolchain,
)
from tfharness.workspace import REPO_ROOT

pytestmark = pytest.mark.terraform

ROLE = "arn:aws:iam::123456789012:role/reattach-check"


def _function(region: str, memory: int = 128) -> str:
    return f"""
provider "aws" {{
  region = "{region}"
}}

resource "aws_lambda_function" "this" {{
  function_name = "reattach-check"
  role          = "{ROLE}"
  handler       = "app.handler"
  runtime       = "python3.13"
  filename      = "fn.zip"
  memory_size   = {memory}
}}

data "aws_region" "current" {{}}

output "region" {{
  value = data.aws_region.current.region
}}
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) has stopped serving too.
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def _wait_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spawn: bool) -> Workspace:
    monkeypatch.setenv("MLGW_TF_STANDIN_SPAWN", "1" if spawn else "0")
    scratch = tmp_path / ("spawn" if spawn else "reattach")
    return Workspace(toolchain(scratch / "toolchain"), scratch)


@pytest.fixture
def workspaces(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Workspace, Workspace]]:
    """A workspace whose stand-ins are reattached, and one whose providers Terraform starts."""
    reattached = _workspace(tmp_path, monkeypatch, spawn=False)
    spawned = _workspace(tmp_path, monkeypatch, spawn=True)
    yield reattached, spawned
    reattached.close()
    spawned.close()


def test_a_reattached_plan_equals_the_plan_of_a_provider_started_per_command(
    workspaces: tuple[Workspace, Workspace],
) -> None:
    reattached, spawned = workspaces
    east, west = _function("us-east-1"), _function("eu-west-1")
    first = reattached.plan(reattached.inline(east))
    # The one process takes each plan's provider configuration: the region follows the plan.
    other = reattached.plan(reattached.inline(west))
    again = reattached.plan(reattached.inline(east))
    assert reattached._standins is not None
    assert reattached._runners is not None
    # Every plan (each a plan and a show) went to the one process of each stand-in the workspace
    # started (the archive one unused here), through one in-process Terraform; a second one ran
    # the inits, which reattach to nothing.
    assert sorted(server.name for server in reattached._standins._all) == ["archive", "aws"]
    assert len(reattached._runners._all) == 2
    assert spawned._standins is None
    expected = spawned.plan(spawned.inline(east))
    assert first.resources == again.resources == expected.resources
    assert first.raw.outputs["region"] == "us-east-1"
    assert other.raw.outputs["region"] == "eu-west-1"
    # A configuration without a region gets the default, not the last plan's region.
    unset = reattached.plan(reattached.inline(west.replace('region = "eu-west-1"', "")))
    assert unset.raw.outputs["region"] == "us-east-1"
    # The stand-in's own refusals reach Terraform through the reattached process too.
    with pytest.raises(PlanFailed, match="above Lambda's 10240 MB"):
        reattached.plan(reattached.inline(_function("us-east-1", memory=10241)))


def test_terraform_talks_to_the_reattached_processes_not_the_installed_providers(
    workspaces: tuple[Workspace, Workspace],
) -> None:
    workspace, spawning = workspaces
    root = _archive_root(workspace, "answer = 42\n")  # uses both stand-ins
    planned = workspace.plan(root).raw.outputs["hash"]  # init installs them from the mirror
    # Given both installed providers replaced by ones that fail at once
    providers = workspace.path(root) / ".terraform/providers/registry.terraform.io/hashicorp"
    installed = sorted(providers.glob("*/*/*/terraform-provider-*"))  # the platform dir is a link
    assert [path.name.split("_")[0] for path in installed] == [
        "terraform-provider-archive",
        "terraform-provider-aws",
    ]
    for path in installed:
        path.unlink()
        path.write_text("#!/bin/sh\nexit 1\n")
        path.chmod(0o755)
    # Then a reattached plan still succeeds: Terraform started neither installed one
    assert workspace.plan(root).raw.outputs["hash"] == planned
    # while a plan that starts its providers fails on them
    spawning._tests[root] = workspace._test(root)
    with pytest.raises(PlanFailed):
        spawning.plan(root)


def _aws_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    (root / "main.tf").write_text(_function("us-east-1"))
    return root


def test_commands_running_at_once_each_lease_their_own_process(tmp_path: Path) -> None:
    root = _aws_root(tmp_path)
    chain = toolchain(tmp_path / "toolchain")
    # The SDK's debug mode does not flush its reattach line: it must be read all the same.
    chain.env.pop("PYTHONUNBUFFERED", None)
    standins = ReattachedStandins(chain, tmp_path / "logs")
    leased: dict[int, str] = {}
    both = threading.Barrier(2)

    def command(number: int) -> None:
        with standins.lease(root) as env:
            leased[number] = env["TF_REATTACH_PROVIDERS"]
            both.wait(timeout=60)  # both commands hold their lease at the same time

    try:
        threads = [threading.Thread(target=command, args=(n,)) for n in (1, 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert leased[1] != leased[2]
        with standins.lease(root) as again:
            assert again["TF_REATTACH_PROVIDERS"] in set(leased.values())
        # one process of each stand-in for each command
        assert sorted(server.name for server in standins._all) == ["archive", "archive", "aws", "aws"]
        pids = [server.process.pid for server in standins._all]
        assert len(set(pids)) == 4
        assert all(_alive(pid) for pid in pids)
    finally:
        standins.close()
    assert all(_wait_gone(pid) for pid in pids), "close() left a stand-in process running"


def test_a_root_with_several_aws_configurations_is_not_reattached(tmp_path: Path) -> None:
    root = _aws_root(tmp_path)
    standins = ReattachedStandins(toolchain(tmp_path / "toolchain"), tmp_path / "logs")
    try:
        assert configurations(root, "aws") == 1
        (root / "module").mkdir()
        (root / "module" / "west.tf").write_text(
            'provider "aws" {\n  alias  = "west"\n  region = "us-west-2"\n}\n'
        )
        (root / "call.tf").write_text('module "west" {\n  source = "./module"\n}\n')
        # a configuration in a called module counts too
        assert configurations(root, "aws") == 2
        # (an alias anywhere counts as several configurations of every provider)
        with standins.lease(root) as env:
            assert "TF_REATTACH_PROVIDERS" not in env
        assert standins._all == []
    finally:
        standins.close()


def _archive_root(workspace: Workspace, content: str) -> str:
    """A root zipping ./src (relative to Terraform's working directory) with ``content``."""
    rel = workspace.inline(
        f"""# {content}
data "archive_file" "src" {{
  type        = "zip"
  source_dir  = "src"
  output_path = "build/src.zip"
}}

output "hash" {{
  value = data.archive_file.src.output_base64sha256
}}
"""
    )
    (workspace.path(rel) / "src").mkdir(exist_ok=True)
    (workspace.path(rel) / "src" / "app.py").write_text(content)
    return rel


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # an aliased configuration beside the default one, which needs no block
        ({"main.tf": 'provider "aws" {\n  alias  = "west"\n  region = "us-west-2"\n}\n'}, 2),
        # unquoted labels are valid HCL
        ({"main.tf": 'provider aws {\n}\n\nprovider aws {\n  alias = "b"\n}\n'}, 2),
        # JSON syntax
        ({"main.tf.json": '{"provider": {"aws": [{"region": "us-east-1"}]}}'}, 2),
        # a one-line module call is followed
        (
            {
                "main.tf": 'provider "aws" {\n}\n\nmodule "m" { source = "./m" }\n',
                "m/main.tf": 'provider "aws" {\n  region = "eu-west-1"\n}\n',
            },
            2,
        ),
        ({"main.tf": 'provider "aws" {\n  region = "us-east-1"\n}\n'}, 1),
        ({"main.tf": 'resource "aws_s3_bucket" "b" {\n  bucket = "b"\n}\n'}, 0),
    ],
)
def test_provider_configurations_are_counted_erring_high(
    tmp_path: Path, files: dict[str, str], expected: int
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert configurations(tmp_path, "aws") == expected


def test_a_working_directory_made_again_at_the_same_path_zips_its_new_sources(
    workspaces: tuple[Workspace, Workspace],
) -> None:
    reattached, spawned = workspaces
    rel = _archive_root(reattached, "first = 1\n")
    first = reattached.plan(rel).raw.outputs["hash"]
    # Given the root removed and made again at its path with other sources
    root = reattached.path(rel)
    saved = (root / "main.tf").read_text()
    shutil.rmtree(root)
    root.mkdir()
    (root / "main.tf").write_text(saved)
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("second = 2\n")
    reattached._tests.pop(rel)  # its init went with the directory
    second = reattached.plan(rel).raw.outputs["hash"]
    assert second == spawned.plan(_archive_root(spawned, "second = 2\n")).raw.outputs["hash"] != first


def test_one_archive_stand_in_resolves_the_paths_of_each_command_in_its_working_directory(
    workspaces: tuple[Workspace, Workspace],
) -> None:
    reattached, spawned = workspaces
    one, two = _archive_root(reattached, "one = 1\n"), _archive_root(reattached, "two = 2\n")
    hashes = [reattached.plan(rel).raw.outputs["hash"] for rel in (one, two, one)]
    expected = {
        rel: spawned.plan(_archive_root(spawned, content)).raw.outputs["hash"]
        for rel, content in ((one, "one = 1\n"), (two, "two = 2\n"))
    }
    # Each root's zip is the one of its own src, as when Terraform starts the provider there.
    assert hashes == [expected[one], expected[two], expected[one]]
    assert expected[one] != expected[two]
    assert reattached._standins is not None
    archives = [s for s in reattached._standins._all if s.name == "archive"]
    assert len(archives) == 1  # one process served both roots
    assert archives[0].workdir.read_text() == str(reattached.path(one).resolve())


def test_the_modules_configure_no_provider() -> None:
    # Terraform would send a module's own provider configuration to the reattached process too.
    configured = [
        str(tf.relative_to(REPO_ROOT))
        for tf in (REPO_ROOT / "modules").glob("*/*.tf")
        if 'provider "aws"' in tf.read_text(encoding="utf-8")
    ]
    assert not configured


def test_stand_ins_stop_at_once_even_when_started_with_sigint_ignored(tmp_path: Path) -> None:
    # A shell without job control starts background jobs with SIGINT ignored (`make local &` in
    # a script), and children inherit that.
    root = _aws_root(tmp_path)
    (root / "zip.tf").write_text('data "archive_file" "src" {\n  type = "zip"\n}\n')
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        standins = ReattachedStandins(toolchain(tmp_path / "toolchain"), tmp_path / "logs")
        with standins.lease(root):
            pass
    finally:
        signal.signal(signal.SIGINT, previous)
    sockets = [Path(str(s.reattach[next(iter(s.reattach))]["Addr"]["String"])) for s in standins._all]  # type: ignore[index]
    assert sorted(s.name for s in standins._all) == ["archive", "aws"]
    assert all(socket.exists() for socket in sockets)
    started = time.monotonic()
    standins.close()
    assert time.monotonic() - started < 3, "a stand-in waited out the stop and was killed"
    assert not any(socket.parent.exists() for socket in sockets), "a socket directory was left behind"


def test_a_dead_process_is_replaced_on_the_next_lease(tmp_path: Path) -> None:
    root = _aws_root(tmp_path)
    standins = ReattachedStandins(toolchain(tmp_path / "toolchain"), tmp_path / "logs")
    try:
        with standins.lease(root) as first:
            pass
        (server,) = [s for s in standins._all if s.name == "aws"]
        server.process.kill()
        server.process.wait()
        with standins.lease(root) as second:
            assert second["TF_REATTACH_PROVIDERS"] != first["TF_REATTACH_PROVIDERS"]
        assert sorted(s.name for s in standins._all) == ["archive", "aws"]
        assert [s.alive() for s in standins._all] == [True, True]
    finally:
        standins.close()


def _ends_with_its_killed_parent(tmp_path: Path, body: str) -> bool:
    """Run ``body`` in a harness process (it starts a process, prints its pid and waits), kill the
    harness outright, and say whether the process it started ended too."""
    script = (
        "import sys, time\n"
        f"sys.path.insert(0, {str(TESTS_DIR)!r})\n"
        "from pathlib import Path\n"
        f"home = Path({str(tmp_path)!r})\n" + body + "time.sleep(600)\n"
    )
    harness = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert harness.stdout is not None
        started = int(harness.stdout.readline())
        assert _alive(started)
        harness.send_signal(signal.SIGKILL)
        harness.wait()
        return _wait_gone(started)
    finally:
        if harness.poll() is None:
            harness.kill()


def test_a_stand_in_ends_when_the_process_that_started_it_is_killed(tmp_path: Path) -> None:
    _aws_root(tmp_path)
    body = (
        "from tfharness.toolchain import ReattachedStandins, toolchain\n"
        "standins = ReattachedStandins(toolchain(home / 'toolchain'), home / 'logs')\n"
        "with standins.lease(home / 'root'):\n"
        "    print(standins._all[0].process.pid, flush=True)\n"
        "    time.sleep(600)\n"
    )
    assert _ends_with_its_killed_parent(tmp_path, body), "the stand-in outlived the process that started it"


# In-process Terraform: the commands of a workspace run in long-lived processes holding Terraform
# core (tfharness.toolchain.TerraformRunners), with the results of a process per command.


@pytest.fixture
def in_process(workspaces: tuple[Workspace, Workspace]) -> tuple[Workspace, TerraformRunners]:
    """The reattached workspace and the pool of in-process runners its commands run in."""
    workspace, _ = workspaces
    assert workspace._runners is not None
    return workspace, workspace._runners


def _subprocess_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.setenv("MLGW_TF_SUBPROCESS", "1")
    scratch = tmp_path / "subprocess"
    workspace = Workspace(toolchain(scratch / "toolchain"), scratch)
    monkeypatch.delenv("MLGW_TF_SUBPROCESS")
    return workspace


def test_in_process_terraform_plans_and_fails_as_a_terraform_process_does(
    workspaces: tuple[Workspace, Workspace], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_process, _ = workspaces
    separate = _subprocess_workspace(tmp_path, monkeypatch)
    try:
        assert in_process._runners is not None
        assert separate._runners is None
        planned = [w.plan(w.inline(_function("eu-west-1"))) for w in (in_process, separate)]
        assert planned[0].resources == planned[1].resources
        assert planned[0].raw.outputs == planned[1].raw.outputs == {"region": "eu-west-1"}
        bad = _function("us-east-1").replace('runtime       = "python3.13"', 'runtime       = "cobol"')
        refused = [w.plan_error(w.inline(bad)) for w in (in_process, separate)]
        assert "cobol" in refused[0]
        assert refused[0] == refused[1]
        # a command's own exit code and streams come back unchanged
        results = [w.run(["validate", "-json"], w.path(w.inline(bad))) for w in (in_process, separate)]
        assert [r.returncode for r in results] == [1, 1]
        assert json.loads(results[0].stdout) == json.loads(results[1].stdout)
        assert "cobol" in results[0].stdout
    finally:
        separate.close()


def test_a_runner_that_dies_fails_its_command_clearly_and_is_replaced(
    in_process: tuple[Workspace, TerraformRunners], monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace, runners = in_process
    rel = workspace.inline(_function("us-east-1"))
    workspace.plan(rel)
    first = {runner.process.pid for runner in runners._all}
    # An idle runner found dead is replaced before it gets a command.
    for runner in runners._all:
        runner.process.kill()
        runner.process.wait()
    assert workspace.plan(rel).raw.outputs == {"region": "us-east-1"}
    assert len(runners._all) == 1  # the one running plans; the init one is gone
    assert not first & {runner.process.pid for runner in runners._all}
    # A runner that dies during its command fails that command, as a Terraform process that
    # crashed would, with what it printed.
    original = InProcessTerraform.run

    def dying(self: InProcessTerraform, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        self.process.kill()
        self.process.wait()
        return original(self, args, cwd)

    monkeypatch.setattr(InProcessTerraform, "run", dying)
    with pytest.raises(PlanFailed, match=r"in-process Terraform \(exit -9\) ended during `terraform plan"):
        workspace.plan(rel)
    monkeypatch.setattr(InProcessTerraform, "run", original)
    assert runners._all == []
    assert workspace.plan(rel).raw.outputs == {"region": "us-east-1"}


def test_a_runner_whose_memory_passed_the_limit_is_replaced(
    in_process: tuple[Workspace, TerraformRunners], monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace, runners = in_process
    monkeypatch.setattr(type(runners), "PEAK_LIMIT_KB", 1)
    assert workspace.plan(workspace.inline(_function("us-east-1"))).raw.outputs == {"region": "us-east-1"}
    # init, plan and show each started a runner, retired after its command
    assert runners._started == 3
    assert runners._all == []


def test_a_runner_holding_too_many_open_files_is_replaced(
    in_process: tuple[Workspace, TerraformRunners], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Terraform keeps its connection to a reattached provider open after each command, and the
    # handles its plugin client polls with pile up while a runner is idle too.
    workspace, runners = in_process
    rel = workspace.inline(_function("us-east-1"))
    workspace.plan(rel)
    (reattached,) = [r for r in runners._all if "TF_REATTACH_PROVIDERS" in r.env]
    assert reattached.files() > 0
    used: list[InProcessTerraform] = []
    original = InProcessTerraform.run

    def recording(self: InProcessTerraform, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        used.append(self)
        return original(self, args, cwd)

    monkeypatch.setattr(InProcessTerraform, "run", recording)
    monkeypatch.setattr(type(runners), "FD_LIMIT", 0)  # every runner holds more
    assert workspace.plan(rel).raw.outputs == {"region": "us-east-1"}
    # The idle runner was replaced before the plan, and the new ones after their commands.
    assert used
    assert reattached not in used
    assert runners._all == []
    assert _wait_gone(reattached.process.pid)


def test_commands_of_different_tests_share_a_runner(tmp_path: Path) -> None:
    chain = toolchain(tmp_path / "toolchain")
    runners = TerraformRunners(chain, tmp_path / "runners")
    root = _aws_root(tmp_path)
    try:
        for test in ("a.py::one (call)", "b.py::two (setup)"):
            assert runners.run(["version"], root, {**chain.env, "PYTEST_CURRENT_TEST": test}).returncode == 0
        assert runners._started == 1
    finally:
        runners.close()


def test_commands_running_at_once_run_in_runners_of_their_own(tmp_path: Path) -> None:
    chain = toolchain(tmp_path / "toolchain")
    runners = TerraformRunners(chain, tmp_path / "runners")
    root = _aws_root(tmp_path)
    both = threading.Barrier(2)
    pids: dict[int, int] = {}
    results: dict[int, subprocess.CompletedProcess[str]] = {}
    original = InProcessTerraform.run

    def meeting(self: InProcessTerraform, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        both.wait(timeout=60)  # both commands hold a runner at the same time
        pids[threading.get_ident()] = self.process.pid
        return original(self, args, cwd)

    def command() -> None:
        results[threading.get_ident()] = runners.run(["version"], root, chain.env)

    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(InProcessTerraform, "run", meeting)
            threads = [threading.Thread(target=command) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        assert len(set(pids.values())) == 2
        assert [r.returncode for r in results.values()] == [0, 0]
        assert all(r.stdout.startswith("Terraform v") for r in results.values())
        # later commands of the same environment reuse them
        assert runners.run(["version"], root, chain.env).stdout.startswith("Terraform v")
        assert len(runners._all) == 2
    finally:
        runners.close()
    assert all(_wait_gone(pid) for pid in pids.values()), "close() left a runner running"


def test_a_runner_ends_when_the_process_that_started_it_is_killed(tmp_path: Path) -> None:
    _aws_root(tmp_path)
    body = (
        "from tfharness.toolchain import TerraformRunners, toolchain\n"
        "chain = toolchain(home / 'toolchain')\n"
        "runners = TerraformRunners(chain, home / 'runners')\n"
        "runners.run(['version'], home / 'root', chain.env)\n"
        "print(runners._all[0].process.pid, flush=True)\n"
    )
    assert _ends_with_its_killed_parent(tmp_path, body), "the runner outlived the process that started it"
