"""The installable `mlgw` command: it installs with no network, `smoke --local` checks every route of
a local mode's state file against a real HTTP server, and errors are one line with a non-zero exit."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from mlgw_client.__main__ import main

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip install ./client` into a scratch directory, without an index and with the venv's own
    setuptools as the build backend: nothing is downloaded."""
    target = tmp_path_factory.mktemp("client-install")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-index",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            "./client",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return target


def test_pip_install_provides_the_mlgw_command(installed: Path) -> None:
    script = installed / "bin" / "mlgw"
    assert script.is_file()
    assert (installed / "mlgw_client" / "smoke.py").is_file()
    metadata = next(installed.glob("mlgw_client-*.dist-info"))
    entry_points = (metadata / "entry_points.txt").read_text().replace(" ", "")
    assert "mlgw=mlgw_client.__main__:cli" in entry_points
    assert "Requires-Dist: requests" in (metadata / "METADATA").read_text()
    # The script runs the installed package (not the source tree) with the interpreter pip used.
    env = {**os.environ, "PYTHONPATH": str(installed)}
    result = subprocess.run(
        [sys.executable, str(script), "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for command in ("predict", "smoke", "redrive"):
        assert command in result.stdout


def test_make_venv_puts_mlgw_on_the_venv_path() -> None:
    """`make venv` installs the client into the venv, so `mlgw` runs from the venv's bin directory."""
    script = Path(sys.executable).parent / "mlgw"
    assert script.is_file(), "the venv has no mlgw command: run make venv"
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    assert "redrive" in result.stdout


class _Api(BaseHTTPRequestHandler):
    """A stage that answers 200 to what fits, 400 to a POST without a body, 404 elsewhere."""

    received: ClassVar[list[dict[str, Any]]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        _Api.received.append(
            {"method": self.command, "path": self.path, "key": self.headers.get("x-api-key"), "body": body}
        )
        known = self.path.split("?")[0] in ("/prod/predict", "/prod/predicted-ratings/321")
        status = 404 if not known else 400 if self.command == "POST" and not body else 200
        payload = json.dumps({"message": "no" if status != 200 else "ok"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def api() -> Iterator[str]:
    _Api.received.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _state(directory: Path, api: str, samples: list[dict[str, Any]], pid: int | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    port = api.rsplit(":", 1)[1]
    path = directory / f"api-{port}.json"
    path.write_text(
        json.dumps(
            {
                "example": "examples/local",
                "pid": pid or os.getpid(),
                "invoke_url": f"{api}/prod",
                "api_keys": {"developer": "dev-key"},
                "routes": ["POST /predict", "GET /predicted-ratings/{user_id}"],
                "samples": samples,
            }
        )
    )
    return path


POST_SAMPLE = {
    "route": "POST /predict",
    "method": "POST",
    "path": "/predict",
    "query": {},
    "content_type": "application/json",
    "body": '{"instances": [[1, 2]]}',
    "status": 200,
}
GET_SAMPLE = {
    "route": "GET /predicted-ratings/{user_id}",
    "method": "GET",
    "path": "/predicted-ratings/321",
    "query": {"items": "101,131"},
    "content_type": None,
    "body": None,
    "status": 200,
}


def _smoke(monkeypatch: pytest.MonkeyPatch, directory: Path, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("MLGW_LOCAL_STATE_DIR", str(directory))
    out, err = io.StringIO(), io.StringIO()
    code = main(["smoke", "--local", *args], out, err)
    return code, out.getvalue(), err.getvalue()


def test_smoke_local_sends_every_routes_sample_with_the_key(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _state(tmp_path, api, [POST_SAMPLE, GET_SAMPLE])
    code, out, err = _smoke(monkeypatch, tmp_path)
    assert code == 0, out + err
    assert "2/2 routes passed" in out
    sent = {(r["method"], r["path"]): r for r in _Api.received}
    assert sent[("POST", "/prod/predict")]["body"] == POST_SAMPLE["body"]
    assert ("GET", "/prod/predicted-ratings/321?items=101%2C131") in sent
    assert {r["key"] for r in _Api.received} == {"dev-key"}


def test_smoke_local_fails_a_route_without_a_sample_or_with_another_status(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _state(tmp_path, api, [{**POST_SAMPLE, "body": None}])
    code, out, _ = _smoke(monkeypatch, tmp_path)
    assert code == 1
    assert "FAIL POST /predict: POST /predict: 400, expected 200" in out
    assert "FAIL GET /predicted-ratings/{user_id}: local mode wrote no sample request for this route" in out
    assert "0/2 routes passed" in out


def test_smoke_local_without_a_running_local_mode_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = _smoke(monkeypatch, tmp_path / "none")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "no local mode is running" in err
    assert "make local" in err


def test_smoke_local_ignores_a_stale_state_file_and_asks_for_a_port_among_several(
    api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _state(tmp_path, "http://127.0.0.1:1", [], pid=dead.pid)
    _state(tmp_path, api, [POST_SAMPLE, GET_SAMPLE])
    assert _smoke(monkeypatch, tmp_path)[0] == 0
    _state(tmp_path, "http://127.0.0.1:2", [])
    code, _, err = _smoke(monkeypatch, tmp_path)
    assert code == 2
    assert "2 local modes are running" in err
    assert "--port" in err
    assert _smoke(monkeypatch, tmp_path, "--port", api.rsplit(":", 1)[1])[0] == 0
    code, _, err = _smoke(monkeypatch, tmp_path, "--port", "1")
    assert code == 2
    assert "stale" in err


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_url_is_one_line_and_a_non_zero_exit() -> None:
    url = f"http://127.0.0.1:{_closed_port()}/prod"
    result = subprocess.run(
        [sys.executable, "-m", "mlgw_client", "predict", "--url", url, "--json", "{}"],
        env={**os.environ, "PYTHONPATH": str(ROOT / "client")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert result.stderr.startswith(f"mlgw predict: cannot connect to {url}/predict")


def test_smoke_of_an_unreachable_stack_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    _state(tmp_path, url, [POST_SAMPLE, GET_SAMPLE])
    code, _, err = _smoke(monkeypatch, tmp_path)
    assert code == 2
    assert err.count("\n") == 1
    assert "cannot connect to" in err
