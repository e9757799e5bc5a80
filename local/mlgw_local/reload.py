"""Hot reload: a change to the functions' source restarts the workers that loaded it; a change to
the example's Terraform re-plans it and says what changed.

A watcher thread polls file modification times (no new dependency). A restarted worker cold-starts
on the new code before it takes over, so the gateway never stops answering: requests already sent
to the old worker finish there, later ones go to the new one. A new worker that fails to start
leaves the old one serving and says why in one line.

A changed plan is not served live: the routes, stages, keys and functions the servers were built
from would all need rebuilding, so local mode prints what changed and asks for a restart.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from mlgw_local.functions import FunctionError, FunctionWorker
from mlgw_local.plan import Gateway, PlanError

POLL_SECONDS = 0.5
log = logging.getLogger("mlgw_local.reload")


def _mtimes(root: Path, pattern: str) -> dict[str, float]:
    found = {}
    for path in root.glob(pattern):
        try:
            found[str(path.resolve())] = path.stat().st_mtime_ns
        except FileNotFoundError:
            continue
    return found


def changed_files(before: Mapping[str, float], after: Mapping[str, float]) -> list[str]:
    """Files added, removed or modified between two polls."""
    return sorted(name for name in before.keys() | after.keys() if before.get(name) != after.get(name))


def affected(workers: Mapping[str, FunctionWorker], files: Iterable[str]) -> list[str]:
    """The functions whose handler loaded one of ``files``; all of them for a file none loaded
    (a new module may be imported by any handler once it restarts)."""
    files = set(files)
    hit = sorted(name for name, worker in workers.items() if worker.files & files)
    return hit or sorted(workers)


def _routes(gateway: Gateway) -> set[str]:
    if gateway.api is None:
        return set()
    return {f"{op.method} {op.path}" for op in gateway.api.operations}


def plan_changes(old: Gateway, new: Gateway) -> str:
    """One line: the new plan's size and how its routes and functions differ from the served one."""
    old_routes, new_routes = _routes(old), _routes(new)
    changes = [f"+route {r}" for r in sorted(new_routes - old_routes)]
    changes += [f"-route {r}" for r in sorted(old_routes - new_routes)]
    changes += [f"+function {f}" for f in sorted(new.functions.keys() - old.functions.keys())]
    changes += [f"-function {f}" for f in sorted(old.functions.keys() - new.functions.keys())]
    changes += [
        f"~function {f}"
        for f in sorted(new.functions.keys() & old.functions.keys())
        if new.functions[f] != old.functions[f]
    ]
    return (
        f"re-planned: {len(new_routes)} routes, {len(new.functions)} functions; "
        f"changed: {', '.join(changes) or 'no routes or functions'}"
    )


class Reloader:
    """Watches ``source`` (restarting workers in ``workers`` in place) and, when given, the
    example's ``.tf`` files (re-planning with ``replan``)."""

    def __init__(
        self,
        workers: dict[str, FunctionWorker],
        source: Path,
        *,
        example: Path | None = None,
        gateway: Gateway | None = None,
        replan: Callable[[], Gateway] | None = None,
        say: Callable[[str], None] = print,
    ) -> None:
        self.workers = workers
        self.source = source
        self.example = example
        self.gateway = gateway
        self.replan = replan
        self.say = say
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mlgw-reload", daemon=True)

    def start(self) -> None:
        self._sources = _mtimes(self.source, "**/*.py")
        self._terraform = _mtimes(self.example, "*.tf") if self.example else {}
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                self.poll()
            except Exception:  # a failed reload must not end the watcher
                log.exception("reload failed")

    def poll(self) -> None:
        sources = _mtimes(self.source, "**/*.py")
        changed = changed_files(self._sources, sources)
        self._sources = sources
        if changed:
            self.restart(affected(self.workers, changed), changed)
        if self.example is not None and self.replan is not None:
            terraform = _mtimes(self.example, "*.tf")
            if changed_files(self._terraform, terraform):
                self._terraform = terraform
                self._replanned()

    def restart(self, names: list[str], changed: list[str]) -> None:
        shown = Path(changed[0])
        what = (
            shown.relative_to(self.source.resolve()) if shown.is_relative_to(self.source.resolve()) else shown
        )
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        started: dict[str, FunctionWorker] = {}
        for name in names:
            fresh = self.workers[name].replacement()
            fresh.start()
            started[name] = fresh
        done = []
        for name, fresh in started.items():
            try:
                fresh.wait_ready()
            except FunctionError as exc:
                fresh.stop()
                last = str(exc).strip().splitlines()[-1]
                self.say(f"mlgw_local: {name} kept its running code: the new code failed to start ({last})")
                continue
            old, self.workers[name] = self.workers[name], fresh
            threading.Thread(target=old.retire, name=f"retire-{name}", daemon=True).start()
            done.append(name)
        if done:
            self.say(f"mlgw_local: reloaded {', '.join(done)} after {what}{more} changed")

    def _replanned(self) -> None:
        assert self.replan is not None
        try:
            new = self.replan()
        except PlanError as exc:
            self.say(f"mlgw_local: re-plan after a .tf change failed: {exc}")
            return
        line = plan_changes(self.gateway, new) if self.gateway is not None else "re-planned"
        self.say(f"mlgw_local: {line}; restart local mode to serve the new plan")
