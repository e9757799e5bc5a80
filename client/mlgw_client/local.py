"""The running local mode (`make local`), found through its state file.

Local mode (local/mlgw_local/helpers.py) writes one state file per instance,
`<state dir>/api-<API port>.json`, where the state dir is `$MLGW_LOCAL_STATE_DIR` or `mlgw-local`
in the temporary directory, and removes it when it stops. The file holds `pid`, `invoke_url`,
`api_keys` (name: value), `routes` ("METHOD /path") and `samples`: one request per route that fits
the model behind it, as {route, method, path (below the stage URL), query, content_type, body,
status}; they are the requests of the routes' commands in local mode's banner. The client reads
the file and nothing else of local mode, so it installs without it.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any


class LocalModeError(Exception):
    """No usable local mode; the message is one line that says what to do."""


def state_dir() -> Path:
    return Path(os.environ.get("MLGW_LOCAL_STATE_DIR") or Path(tempfile.gettempdir()) / "mlgw-local")


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int):
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise LocalModeError(f"no local mode state at {path}: is `make local` running?") from None
    except (OSError, ValueError) as exc:
        raise LocalModeError(f"cannot read the local mode state {path}: {exc}") from None
    if not isinstance(state, dict) or "invoke_url" not in state:
        raise LocalModeError(f"{path} is not a local mode state file")
    return state


def find(
    state_file: Path | None = None, port: int | None = None, directory: Path | None = None
) -> dict[str, Any]:
    """The given state file, the one of API port `port`, or the only local mode running."""
    directory = directory or state_dir()
    if state_file is None and port is not None:
        state_file = directory / f"api-{port}.json"
    if state_file is not None:
        state = _read(state_file)
        if not _alive(state.get("pid")):
            raise LocalModeError(f"{state_file} is stale: its local mode (pid {state['pid']}) is gone")
        return state
    running = []
    for path in sorted(directory.glob("api-*.json")):
        try:
            state = _read(path)
        except LocalModeError:
            continue
        if _alive(state.get("pid")):
            running.append(state)
    if not running:
        raise LocalModeError(
            f"no local mode is running (no state file in {directory}): start one with `make local`"
        )
    if len(running) > 1:
        ports = ", ".join(str(s["invoke_url"]).split(":")[-1].split("/")[0] for s in running)
        raise LocalModeError(
            f"{len(running)} local modes are running (API ports {ports}): choose one with --port"
        )
    return running[0]
