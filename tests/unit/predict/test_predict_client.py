"""The client and the smoke command against a real HTTP server on localhost."""

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from predict_support import ModelServer, Reply

from mlgw_client import PredictClient, PredictError
from mlgw_client.__main__ import main
from mlgw_client.smoke import plan

CLIENT_DIR = Path(__file__).resolve().parents[3] / "client"


def api_reply(body: bytes = b'{"predictions": [0.82]}', **headers: str) -> Reply:
    return Reply(
        body=body,
        headers={
            "Content-Type": "application/json",
            "X-Request-Id": "req-1",
            "X-Inference-Id": "req-1",
            "X-Model-Route": "default",
            **headers,
        },
    )


def test_record_is_posted_as_json_with_the_api_key(model_server: ModelServer) -> None:
    model_server.reply(api_reply())
    answer = PredictClient(f"{model_server.url}/prod/", "key-123").predict(
        {"var1": "1.2"}, inference_id="o-1"
    )
    assert answer.json() == {"predictions": [0.82]}
    assert (answer.request_id, answer.inference_id, answer.route) == ("req-1", "req-1", "default")
    sent = model_server.received[0]
    assert (sent.method, sent.path) == ("POST", "/prod/predict")
    assert sent.headers["x-api-key"] == "key-123"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["X-Inference-Id"] == "o-1"
    assert json.loads(sent.body) == {"var1": "1.2"}


def test_instances_csv_and_data_forms(model_server: ModelServer) -> None:
    client = PredictClient(model_server.url)
    client.predict(instances=[[1, 2]], model="churn v2")
    client.predict(csv="1,2\n3,4\n", model="churn-csv")
    client.predict(data=[1.2, 3.4])
    first, second, third = model_server.received
    assert (first.path, json.loads(first.body)) == ("/predict/churn%20v2", {"instances": [[1, 2]]})
    assert (second.path, second.headers["Content-Type"], second.body) == (
        "/predict/churn-csv",
        "text/csv",
        b"1,2\n3,4\n",
    )
    assert (third.method, third.path) == ("GET", "/predict?data=1.2%2C3.4")
    assert "x-api-key" not in third.headers


def test_exactly_one_body_form_is_required() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        PredictClient("http://unused").predict({"a": 1}, csv="1")


def test_api_errors_are_raised_with_their_code(model_server: ModelServer) -> None:
    error = {
        "message": "the model cannot take requests right now",
        "code": "ModelNotReady",
        "requestId": "r-9",
    }
    model_server.reply(Reply(status=503, body=json.dumps(error).encode(), headers={"Retry-After": "4"}))
    with pytest.raises(PredictError) as caught:
        PredictClient(model_server.url).predict({"a": 1})
    assert (caught.value.status, caught.value.code, caught.value.request_id, caught.value.retry_after) == (
        503,
        "ModelNotReady",
        "r-9",
        4,
    )


def test_gateway_errors_without_a_code(model_server: ModelServer) -> None:
    model_server.reply(Reply(status=403, body=b'{"message":"Forbidden"}'))
    with pytest.raises(PredictError) as caught:
        PredictClient(model_server.url).predict({"a": 1})
    assert (caught.value.status, caught.value.code, caught.value.message) == (403, None, "Forbidden")


def test_cli_predict_prints_the_answer(model_server: ModelServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLGW_API_KEY", "from-env")
    model_server.reply(api_reply())
    out, err = io.StringIO(), io.StringIO()
    code = main(["predict", "--url", model_server.url, "--model", "kserve", "--json", '{"a": 1}'], out, err)
    assert code == 0
    assert json.loads(out.getvalue()) == {"predictions": [0.82]}
    assert "requestId=req-1" in err.getvalue()
    assert model_server.received[0].headers["x-api-key"] == "from-env"
    assert model_server.received[0].path == "/predict/kserve"


def test_cli_predict_reports_api_errors(model_server: ModelServer) -> None:
    model_server.reply(
        Reply(status=400, body=b'{"message": "bad", "code": "MalformedJson", "requestId": "r"}')
    )
    out, err = io.StringIO(), io.StringIO()
    assert main(["predict", "--url", model_server.url, "--csv", "1,2"], out, err) == 1
    assert json.loads(err.getvalue())["code"] == "MalformedJson"
    assert out.getvalue() == ""


def test_cli_rejects_invalid_json_argument(model_server: ModelServer) -> None:
    err = io.StringIO()
    assert main(["predict", "--url", model_server.url, "--json", "{oops"], io.StringIO(), err) == 2
    assert model_server.received == []


def outputs_file(tmp_path: Path, url: str, routes: object) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(
        json.dumps(
            {
                "invoke_url": {"sensitive": False, "type": "string", "value": f"{url}/prod"},
                "api_key": {"sensitive": True, "type": "string", "value": "smoke-key"},
                "model_routes": {"sensitive": False, "type": ["map", "any"], "value": routes},
            }
        )
    )
    return path


def test_smoke_calls_every_route_and_reports_each(model_server: ModelServer, tmp_path: Path) -> None:
    # Given three routes, of which the legacy one fails
    routes = {
        "default": {"sample": {"var1": "1.2"}},
        "churn-csv": {"sample": "1.2,3.4", "content_type": "text/csv"},
        "legacy": {},
    }
    model_server.reply(
        api_reply(),
        api_reply(),
        Reply(status=502, body=b'{"message": "the model failed", "code": "ModelError", "requestId": "r-3"}'),
    )
    out = io.StringIO()
    code = main(
        [
            "smoke",
            "--outputs",
            str(outputs_file(tmp_path, model_server.url, routes)),
            "--json",
            '{"var1": "5"}',
        ],
        out,
    )
    lines = out.getvalue().splitlines()
    assert code == 1
    assert lines[0].startswith("PASS churn-csv: 200")
    assert lines[1].startswith("PASS default: 200")
    assert lines[2] == "FAIL legacy: 502 ModelError: the model failed (requestId r-3)"
    assert lines[3] == "2/3 routes passed"
    paths = [(sent.path, sent.body) for sent in model_server.received]
    assert paths == [
        ("/prod/predict/churn-csv", b"1.2,3.4"),
        ("/prod/predict", b'{"var1": "1.2"}'),
        ("/prod/predict/legacy", b'{"var1": "5"}'),
    ]
    assert {sent.headers["x-api-key"] for sent in model_server.received} == {"smoke-key"}


def test_smoke_fails_a_route_without_any_sample(model_server: ModelServer, tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["smoke", "--outputs", str(outputs_file(tmp_path, model_server.url, ["default"]))], out) == 1
    assert "FAIL default: no sample body" in out.getvalue()
    assert model_server.received == []


def test_smoke_takes_route_names_from_models_json() -> None:
    outputs = {
        "invoke_url": "http://unused",
        "models_json": '{"legacy": {"backend": "amazon-ml"}, "default": {}}',
    }
    checks = plan(outputs, '{"a": 1}', "application/json")
    assert [(check.route, check.body) for check in checks] == [
        ("default", '{"a": 1}'),
        ("legacy", '{"a": 1}'),
    ]


def test_smoke_as_a_command_reading_stdin(model_server: ModelServer, tmp_path: Path) -> None:
    model_server.reply(api_reply())
    outputs = outputs_file(tmp_path, model_server.url, ["default"]).read_text()
    done = subprocess.run(
        [sys.executable, "-m", "mlgw_client", "smoke", "--json", '{"a": 1}'],
        input=outputs,
        capture_output=True,
        text=True,
        cwd=CLIENT_DIR,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "1/1 routes passed"
