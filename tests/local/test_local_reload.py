"""Hot reload: a change to the functions' source restarts the workers that loaded it while the
gateway keeps answering; a worker whose new code fails keeps serving the old."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from local_support import REPO_ROOT, LocalMode, start_local_mode

from mlgw_local.openapi import Api
from mlgw_local.plan import Function, Gateway
from mlgw_local.reload import affected, changed_files, plan_changes

PREDICT = Path("mlgw/handlers/predict.py")
RELOADED = re.compile(r"^mlgw_local: reloaded (?P<functions>\S.*) after (?P<file>\S+) changed$", re.M)
WRAPPER = """

_served_before_reload = lambda_handler


def lambda_handler(event, context):
    answer = _served_before_reload(event, context)
    answer.setdefault("headers", {})["X-Reloaded"] = "{mark}"
    return answer
"""


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalMode, Path]]:
    tmp = tmp_path_factory.mktemp("reload")
    source = tmp / "src"
    shutil.copytree(REPO_ROOT / "lambda_src", source, ignore=shutil.ignore_patterns("__pycache__"))
    mode = start_local_mode(tmp, "--watch-root", str(source))
    yield mode, source
    mode.stop()


def _predict(mode: LocalMode) -> requests.Response:
    return requests.post(
        f"{mode.api}/predict",
        json={"instances": [[5.1, 3.5, 1.4, 0.2]]},
        headers={"x-api-key": mode.key("developer")},
        timeout=30,
    )


def _wait_for(mode: LocalMode, pattern: re.Pattern[str], count: int, seconds: float = 20) -> list[Any]:
    deadline = time.monotonic() + seconds
    while True:
        found = list(pattern.finditer(mode.log.read_text(errors="replace")))
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_a_source_change_restarts_the_function_that_loaded_it_and_the_next_request_sees_it(
    watched: tuple[LocalMode, Path],
) -> None:
    mode, source = watched
    assert "X-Reloaded" not in _predict(mode).headers
    with (source / PREDICT).open("a", encoding="utf-8") as handler:
        handler.write(WRAPPER.replace("{mark}", "first"))
    changed = time.monotonic()
    lines = _wait_for(mode, RELOADED, 1)
    assert lines, mode.log.read_text(errors="replace")[-2000:]
    took = time.monotonic() - changed
    # Only the predict function loaded predict.py; the others are left running.
    assert lines[0]["functions"] == "mlgw-local-predict"
    assert lines[0]["file"] == str(PREDICT)
    assert took < 10, took
    answer = _predict(mode)
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Reloaded"] == "first"


def test_new_code_that_fails_to_start_leaves_the_old_worker_serving(watched: tuple[LocalMode, Path]) -> None:
    mode, source = watched
    before = _predict(mode)
    assert before.status_code == 200
    text = (source / PREDICT).read_text(encoding="utf-8")
    (source / PREDICT).write_text(text + "\nthis is not python\n", encoding="utf-8")
    kept = _wait_for(mode, re.compile(r"^mlgw_local: mlgw-local-predict kept its running code", re.M), 1)
    assert kept, mode.log.read_text(errors="replace")[-2000:]
    answer = _predict(mode)
    assert answer.status_code == 200, answer.text
    assert answer.headers.get("X-Reloaded") == before.headers.get("X-Reloaded")


def test_changed_files_are_the_added_removed_and_modified_ones() -> None:
    assert changed_files({"a": 1, "b": 1, "c": 1}, {"a": 1, "b": 2, "d": 1}) == ["b", "c", "d"]


class _Loaded:
    def __init__(self, *files: str) -> None:
        self.files = frozenset(files)


def test_only_functions_that_loaded_a_changed_file_restart_and_all_for_a_new_file() -> None:
    workers: Any = {"predict": _Loaded("/s/p.py", "/s/env.py"), "batch": _Loaded("/s/b.py", "/s/env.py")}
    assert affected(workers, ["/s/p.py"]) == ["predict"]
    assert affected(workers, ["/s/env.py"]) == ["batch", "predict"]
    assert affected(workers, ["/s/new.py"]) == ["batch", "predict"]


def _function(name: str, timeout: int = 3) -> Function:
    return Function(name, f"mlgw.handlers.{name}.lambda_handler", timeout, 128, {}, ())


def _operation(method: str, path: str) -> Any:
    class _Operation:
        pass

    operation = _Operation()
    operation.method, operation.path = method, path  # type: ignore[attr-defined]
    return operation


def test_a_replan_reports_routes_and_functions_added_removed_and_changed() -> None:
    served = Gateway("ex", api=Api("a", [_operation("POST", "/predict"), _operation("GET", "/health")]))
    served.functions = {"predict": _function("predict"), "batch": _function("batch")}
    planned = Gateway("ex", api=Api("a", [_operation("POST", "/predict"), _operation("POST", "/score")]))
    planned.functions = {"predict": _function("predict", timeout=10), "score": _function("score")}
    assert plan_changes(served, planned) == (
        "re-planned: 2 routes, 2 functions; changed: +route POST /score, -route GET /health, "
        "+function score, -function batch, ~function predict"
    )
    assert plan_changes(served, served).endswith("changed: no routes or functions")
