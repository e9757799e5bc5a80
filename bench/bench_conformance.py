"""What the AWS conformance layer costs a plan.

The complete example is planned offline (Terraform core with the stand-in providers, which
run the resource checks as they plan), then the layer's checks are run again in this process
over that plan's JSON: once with every resource check and plan rule, as the harness does for
a real toolchain, and once with the plan rules only, as it does offline. Plans and checks
alternate in the same run, so the ratio of check time to plan time means something on a busy
machine.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ROUNDS = 3
EXAMPLE = "examples/complete"


def _row(metric: str, value: float, unit: str, target: str | None) -> dict[str, Any]:
    return {"benchmark": "conformance", "metric": metric, "value": value, "unit": unit, "target": target}


def run() -> list[dict[str, Any]]:
    from tfharness import Workspace, toolchain
    from tfharness.conformance import Context, PlanView, check_plan
    from tfharness.workspace import example_var_file

    context = Context(region="us-east-1")
    plans: list[float] = []
    full: list[float] = []
    plan_rules: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Workspace(toolchain(Path(scratch) / "toolchain"), Path(scratch))
        var_file = example_var_file(workspace.path(EXAMPLE))
        workspace.plan(EXAMPLE, var_file=str(var_file))  # init and warm the caches once
        for _ in range(ROUNDS):
            started = time.perf_counter()
            result = workspace.plan(EXAMPLE, var_file=str(var_file))
            plans.append(time.perf_counter() - started)
            raw = result.raw._raw
            started = time.perf_counter()
            check_plan(raw, context, resource_checks=True)
            full.append(time.perf_counter() - started)
            started = time.perf_counter()
            check_plan(raw, context, resource_checks=False)
            plan_rules.append(time.perf_counter() - started)
    resources = len(PlanView(raw).resources)
    plan_s, full_s, rules_s = (statistics.median(v) for v in (plans, full, plan_rules))
    return [
        _row("complete_plan_s", plan_s, "s", None),
        _row("complete_resources", resources, "", None),
        _row("all_checks_ms", full_s * 1000, "ms", None),
        _row("plan_rules_ms", rules_s * 1000, "ms", None),
        _row("all_checks_share_of_plan", full_s / plan_s, "x", "< 0.1x of the plan"),
    ]
