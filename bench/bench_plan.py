"""What an offline plan costs with the aws stand-in reattached, against one started per command.

Terraform starts a provider for each phase of a plan and again for ``show``; the harness
instead lets it reattach to a long-lived stand-in (``tfharness.toolchain.ReattachedStandins``).
The complete example and the local example are planned with both toolchains, alternating in
the same run after one warm-up plan each (init, caches), so the ratio holds on a busy machine.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ROUNDS = 3
EXAMPLES = ("examples/complete", "examples/local")


def _row(metric: str, value: float, unit: str, target: str | None) -> dict[str, Any]:
    return {"benchmark": "plan", "metric": metric, "value": value, "unit": unit, "target": target}


def _workspace(scratch: Path, spawn: bool) -> Any:
    from tfharness import Workspace, toolchain

    previous = os.environ.get("MLGW_TF_STANDIN_SPAWN")
    os.environ["MLGW_TF_STANDIN_SPAWN"] = "1" if spawn else "0"
    try:
        return Workspace(toolchain(scratch / "toolchain"), scratch)
    finally:
        if previous is None:
            os.environ.pop("MLGW_TF_STANDIN_SPAWN", None)
        else:
            os.environ["MLGW_TF_STANDIN_SPAWN"] = previous


def run() -> list[dict[str, Any]]:
    from tfharness.workspace import example_var_file

    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as scratch:
        workspaces = {
            "spawned": _workspace(Path(scratch) / "spawned", spawn=True),
            "reattached": _workspace(Path(scratch) / "reattached", spawn=False),
        }
        try:
            for example in EXAMPLES:
                times: dict[str, list[float]] = {name: [] for name in workspaces}
                for workspace in workspaces.values():
                    var_file = example_var_file(workspace.path(example))
                    workspace.plan(example, var_file=str(var_file) if var_file else None)  # warm-up
                for _ in range(ROUNDS):
                    for name, workspace in workspaces.items():
                        var_file = example_var_file(workspace.path(example))
                        started = time.perf_counter()
                        workspace.plan(example, var_file=str(var_file) if var_file else None)
                        times[name].append(time.perf_counter() - started)
                spawned, reattached = (statistics.median(times[n]) for n in ("spawned", "reattached"))
                short = example.removeprefix("examples/")
                rows += [
                    _row(f"{short}_plan_spawned_s", spawned, "s", None),
                    _row(f"{short}_plan_reattached_s", reattached, "s", None),
                    {
                        **_row(f"{short}_reattached_over_spawned", reattached / spawned, "x", "< 1"),
                        "met": reattached < spawned,
                    },
                ]
        finally:
            for workspace in workspaces.values():
                workspace.close()
    return rows
