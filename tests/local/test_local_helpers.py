"""`make local-batch` and `make local-actuals` tell the truth: they return when the pipeline has
written its report, print the rows, the error rows and the report's path, and exit 1 when anything
was rejected or failed, 2 when they cannot run. `make local-invoke` prints the function's result.
They find the local mode by its state file."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from local_support import REPO_ROOT, LocalMode

from mlgw_local.banner import predict_event
from mlgw_local.helpers import HelperError, find_state, state_file_for, write_state

SAMPLES = REPO_ROOT / "local" / "samples"
# The pipelines answer within a second or two; the helper must not sit out its timeout.
PROMPT_SECONDS = 20


def _helper(
    mode: LocalMode | None, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    state = ["--state-file", str(mode.log.parent / "state.json")] if mode else []
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "mlgw_local", *args, *state],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT / "local"), **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    result.seconds = time.monotonic() - started  # type: ignore[attr-defined]
    return result


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_clean_batch_file_prints_its_predictions_and_report_and_exits_0(local_mode: LocalMode) -> None:
    result = _helper(local_mode, "batch", str(SAMPLES / "iris-batch.csv"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "f-001,5.1,3.5,1.4,0.2,setosa" in result.stdout
    assert "completed: 5 rows predicted, 0 error rows" in result.stdout
    assert "report: s3://" in result.stdout
    assert "batch/errors/iris-batch.csv.report.json" in result.stdout
    assert result.seconds < PROMPT_SECONDS


def test_a_batch_file_with_bad_rows_prints_them_and_exits_1(local_mode: LocalMode, tmp_path: Path) -> None:
    bad = _write(
        tmp_path,
        "bad-rows.csv",
        "id,sepal_length,sepal_width,petal_length,petal_width\n"
        "b-1,5.1,3.5,1.4,0.2\nb-2,7.7,3.0\nb-3,4.9,3.1,1.5,0.1\n",
    )
    result = _helper(local_mode, "batch", str(bad))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "b-1,5.1,3.5,1.4,0.2,setosa" in result.stdout
    assert '"code":"WrongFieldCount"' in result.stdout.replace(" ", "")
    assert "completed: 2 rows predicted, 1 error rows" in result.stdout
    assert "bad-rows.csv.report.json" in result.stdout
    assert result.seconds < PROMPT_SECONDS


def test_a_rejected_batch_file_returns_at_once_with_the_reason(local_mode: LocalMode, tmp_path: Path) -> None:
    bad = _write(tmp_path, "bad-header.csv", "customer_id,a\n1,2\n")
    result = _helper(local_mode, "batch", str(bad))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "rejected:" in result.stdout
    assert "header lacks column(s) id" in result.stdout
    assert "bad-header.csv.report.json" in result.stdout
    assert result.seconds < PROMPT_SECONDS


def test_clean_actuals_print_what_the_receiver_got_and_exit_0(local_mode: LocalMode) -> None:
    result = _helper(local_mode, "actuals", str(SAMPLES / "actuals.csv"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert '"associationId": "f-005"' in result.stdout
    assert "reported: 5 of 5 rows delivered" in result.stdout


def test_rejected_actuals_print_the_bad_rows_and_report_and_exit_1(
    local_mode: LocalMode, tmp_path: Path
) -> None:
    bad = _write(tmp_path, "bad-actuals.csv", "associationId,actualValue\nf-001,setosa\n,versicolor\n")
    result = _helper(local_mode, "actuals", str(bad))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "associationId is empty" in result.stdout
    assert "failed:" in result.stdout
    assert "bad-actuals.csv.report.json" in result.stdout
    assert result.seconds < PROMPT_SECONDS


def test_without_a_running_local_mode_the_helpers_say_so_in_one_line(tmp_path: Path) -> None:
    result = _helper(
        None, "batch", str(SAMPLES / "iris-batch.csv"), env={"MLGW_LOCAL_STATE_DIR": str(tmp_path)}
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "no local mode is running" in result.stderr


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _state(pid: int, api_port: int) -> dict[str, object]:
    return {"pid": pid, "urls": {"api": f"http://127.0.0.1:{api_port}", "s3": "http://127.0.0.1:1"}}


def test_a_stale_state_file_is_reported_and_removed(tmp_path: Path) -> None:
    stale = state_file_for(tmp_path, 8080)
    write_state(stale, _state(_dead_pid(), 8080))
    err = io.StringIO()
    with pytest.raises(HelperError, match="no local mode is running"):
        find_state(directory=tmp_path, err=err)
    assert "removed the stale state file" in err.getvalue()
    assert not stale.exists()
    write_state(stale, _state(_dead_pid(), 8080))
    with pytest.raises(HelperError, match=r"is stale: the local mode that wrote it \(pid \d+\) is gone"):
        find_state(port=8080, directory=tmp_path)


def test_several_running_local_modes_need_a_port(tmp_path: Path) -> None:
    for port in (8080, 9000):
        write_state(state_file_for(tmp_path, port), _state(os.getpid(), port))
    with pytest.raises(HelperError, match=r"2 local modes are running \(API ports 8080, 9000\): choose one"):
        find_state(directory=tmp_path)
    assert find_state(port=9000, directory=tmp_path)["urls"]["api"].endswith(":9000")


def test_the_state_file_names_the_process_that_serves(local_mode: LocalMode) -> None:
    state = json.loads((local_mode.log.parent / "state.json").read_text(encoding="utf-8"))
    assert state["pid"] == local_mode.process.pid


def test_invoke_prints_the_functions_result_and_an_unknown_function_is_one_line(
    local_mode: LocalMode, tmp_path: Path
) -> None:
    event = _write(
        tmp_path, "event.json", json.dumps(predict_event("text/csv", "5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n"))
    )
    result = _helper(local_mode, "invoke", "mlgw-local-predict", str(event))
    assert result.returncode == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout)
    assert answer["statusCode"] == 200
    assert json.loads(answer["body"])["predictions"]

    unknown = _helper(local_mode, "invoke", "no-such-function", str(event))
    assert unknown.returncode == 2
    assert "Traceback" not in unknown.stderr
    assert unknown.stderr.strip().count("\n") == 0
    assert "Function not found" in unknown.stderr
