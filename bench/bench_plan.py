"""What an offline plan costs, in time and in CPU, with each of the harness's ways to run Terraform.

- ``spawned``: a ``terraform`` process per command, which starts its providers itself for each
  phase of a plan and again for ``show`` (``MLGW_TF_SUBPROCESS=1 MLGW_TF_STANDIN_SPAWN=1``).
- ``reattached``: a ``terraform`` process per command, reattached to long-lived stand-ins
  (``MLGW_TF_SUBPROCESS=1``; ``tfharness.toolchain.ReattachedStandins``).
- ``in_process``: what the harness does by default, Terraform core in a long-lived process that
  runs every command (``tfharness.toolchain.TerraformRunners``), reattached to the stand-ins.

A trivial root (one queue) shows the fixed cost of a command; the complete and local examples
the cost of real plans. A root input that its validation rule rejects shows what
``Workspace.plan_error`` saves by planning the root's declarations alone (``input_error``) instead
of the root. The workspaces plan in turn in the same run, after one warm-up plan each
(init, caches), so the ratios hold on a busy machine. CPU is the time of every process involved
(the harness, Terraform, the providers): what limits a parallel test run on two cores.
"""

from __future__ import annotations

import os
import resource
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROUNDS = 3
TRIVIAL = 'resource "aws_sqs_queue" "q" {\n  name = "bench"\n}\n'
ROOTS = ("trivial", "examples/complete", "examples/local")
MODES = {
    "spawned": {"MLGW_TF_SUBPROCESS": "1", "MLGW_TF_STANDIN_SPAWN": "1"},
    "reattached": {"MLGW_TF_SUBPROCESS": "1", "MLGW_TF_STANDIN_SPAWN": "0"},
    "in_process": {"MLGW_TF_SUBPROCESS": "0", "MLGW_TF_STANDIN_SPAWN": "0"},
}


def _row(metric: str, value: float, unit: str, target: str | None) -> dict[str, Any]:
    return {"benchmark": "plan", "metric": metric, "value": value, "unit": unit, "target": target}


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _workspace(scratch: Path, mode: str) -> Any:
    from tfharness import Workspace, toolchain

    with _environment(MODES[mode]):
        return Workspace(toolchain(scratch / "toolchain"), scratch)


def _process_cpu(pid: int) -> float:
    """User and system time of a running process (Linux /proc), 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu(workspace: Any) -> float:
    """CPU so far of this process, its finished children (per-command Terraform and the providers
    it started) and the workspace's long-lived processes (stand-ins, runners)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    pids = [s.process.pid for s in (workspace._standins._all if workspace._standins else [])]
    pids += [r.process.pid for r in (workspace._runners._all if workspace._runners else [])]
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime + sum(map(_process_cpu, pids))


def run() -> list[dict[str, Any]]:
    from tfharness.workspace import example_var_file

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch:
        workspaces = {mode: _workspace(Path(scratch) / mode, mode) for mode in MODES}
        try:
            for root in ROOTS:
                wall: dict[str, list[float]] = {mode: [] for mode in MODES}
                cpu: dict[str, list[float]] = {mode: [] for mode in MODES}

                def plan(workspace: Any, root: str = root) -> None:
                    if root == "trivial":
                        workspace.plan(workspace.inline(TRIVIAL))
                    else:
                        var_file = example_var_file(workspace.path(root))
                        workspace.plan(root, var_file=str(var_file) if var_file else None)

                for workspace in workspaces.values():
                    plan(workspace)  # warm-up: init, caches, processes started
                for _ in range(ROUNDS):
                    for mode, workspace in workspaces.items():
                        cpu_before, started = _cpu(workspace), time.perf_counter()
                        plan(workspace)
                        wall[mode].append(time.perf_counter() - started)
                        cpu[mode].append(_cpu(workspace) - cpu_before)
                short = root.removeprefix("examples/")
                medians = {
                    mode: (statistics.median(wall[mode]), statistics.median(cpu[mode])) for mode in MODES
                }
                for mode, (seconds, cpu_seconds) in medians.items():
                    rows += [
                        _row(f"{short}_plan_{mode}_s", seconds, "s", None),
                        _row(f"{short}_plan_{mode}_cpu_s", cpu_seconds, "s", None),
                    ]
                for baseline in ("spawned", "reattached"):
                    ratio = medians["in_process"][1] / medians[baseline][1]
                    rows.append(
                        {
                            **_row(f"{short}_cpu_in_process_over_{baseline}", ratio, "x", "< 1"),
                            "met": ratio < 1,
                        }
                    )
            rows += _rejected_input(workspaces["in_process"])
        finally:
            for workspace in workspaces.values():
                workspace.close()
    return rows


REJECTED = {"name": "Not A Name"}


def _rejected_input(workspace: Any) -> list[dict[str, Any]]:
    """The root module given a name its rule rejects: planned whole, and its declarations alone."""
    from tfharness import PlanFailed

    def whole() -> None:
        try:
            workspace.plan(".", REJECTED)
        except PlanFailed:
            return
        raise AssertionError("the rejected name was planned")

    def declarations() -> None:
        if workspace.input_error(".", REJECTED) is None:
            raise AssertionError("the declarations accepted the rejected name")

    ways = {"root": whole, "declarations": declarations}
    wall: dict[str, list[float]] = {way: [] for way in ways}
    cpu: dict[str, list[float]] = {way: [] for way in ways}
    for check in ways.values():
        check()  # warm-up: init, caches
    for _ in range(ROUNDS):
        for way, check in ways.items():
            cpu_before, started = _cpu(workspace), time.perf_counter()
            check()
            wall[way].append(time.perf_counter() - started)
            cpu[way].append(_cpu(workspace) - cpu_before)
    rows = []
    for way in ways:
        rows += [
            _row(f"rejected_input_{way}_s", statistics.median(wall[way]), "s", None),
            _row(f"rejected_input_{way}_cpu_s", statistics.median(cpu[way]), "s", None),
        ]
    ratio = statistics.median(cpu["declarations"]) / statistics.median(cpu["root"])
    rows.append(
        {**_row("rejected_input_cpu_declarations_over_root", ratio, "x", "< 0.25"), "met": ratio < 0.25}
    )
    return rows
