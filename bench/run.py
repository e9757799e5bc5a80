"""Run every benchmark under bench/ and print one table; write bench/results.json.

Each ``bench/bench_<name>.py`` exposes ``run() -> list[dict]`` whose rows carry
``benchmark``, ``metric``, ``value``, ``unit`` and ``target``, and ``met`` where the run can say
whether it met the target. ``run.py <name>...`` runs only the named benchmarks. Machines here are shared and
noisy, so benchmarks report ratios measured side by side in one run wherever they can;
targets are read from the printed numbers, never enforced by timed tests.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent


def _load(path: Path) -> Any:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _format(value: float) -> str:
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def main() -> int:
    for extra in (REPO_ROOT / "lambda_src", REPO_ROOT / "tests", REPO_ROOT):
        sys.path.insert(0, str(extra))
    rows: list[dict[str, Any]] = []
    failed: list[str] = []
    # `run.py batch actuals` runs only those benchmarks; no names runs them all.
    wanted = set(sys.argv[1:])
    for path in sorted(BENCH_DIR.glob("bench_*.py")):
        if wanted and path.stem.removeprefix("bench_") not in wanted:
            continue
        started = time.perf_counter()
        try:
            rows.extend(_load(path).run())
        except Exception as exc:  # one broken benchmark must not hide the others' numbers
            failed.append(f"{path.name}: {exc!r}")
        print(f"ran {path.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    header = ("benchmark", "metric", "value", "unit", "target", "met")
    table = [header] + [
        (
            r["benchmark"],
            r["metric"],
            _format(float(r["value"])),
            r.get("unit", ""),
            r.get("target") or "",
            {True: "yes", False: "NO"}.get(r.get("met"), ""),
        )
        for r in rows
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for index, row in enumerate(table):
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * width for width in widths))

    results = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "rows": rows,
        "failed": failed,
    }
    (BENCH_DIR / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    for failure in failed:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
