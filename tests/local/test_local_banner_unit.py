"""The banner of a handcrafted gateway, without serving it: a sample for each route that fits its
request model and its model, and one line saying why where none can."""

from __future__ import annotations

import json
from pathlib import Path

from openapi_sample import KEY, gateway

from mlgw_local import banner
from mlgw_local.endpoints import Choice
from mlgw_local.models import IrisClassifier
from mlgw_local.plan import Function

URLS = {"api": "http://127.0.0.1:1", "mlops": "http://127.0.0.1:2", "runtime": "http://127.0.0.1:3"}


def _shown(tmp_path: Path) -> banner.Banner:
    served = gateway()
    settings = {
        "models": {
            "default": {"endpoint_name": "iris"},
            "csv": {"endpoint_name": "iris", "content_type": "text/csv"},
        }
    }
    for name in ("churn-predict", "churn-health"):
        served.functions[name] = Function(
            name, "mlgw.handlers.predict.lambda_handler", 3, 128, {"MLGW_SETTINGS": json.dumps(settings)}, ()
        )
    choices = {
        "iris": Choice("iris", "iris", "test"),
        "legacy-csv": Choice("legacy-csv", "iris", "test"),
        "ratings": Choice("ratings", "http://127.0.0.1:9", "--endpoint"),
    }
    shown = banner.Banner(served, URLS, choices, {"iris": IrisClassifier()}, tmp_path / "samples", [])
    banner.build(shown)
    return shown


def test_routes_get_fitting_samples_and_unfit_ones_one_line_why(tmp_path: Path) -> None:
    shown = _shown(tmp_path)
    by_label = {c.label.split(" -> ")[0]: c for c in shown.commands}
    post = by_label["POST /predict"]
    assert isinstance(post, banner.Command)
    # The body fits the route's request model (PredictRequest: instances of number arrays).
    assert "--data-binary '{\"instances\": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}'" in post.command
    assert f"x-api-key: {KEY}" in post.command
    # /predict/{model} uses a named route of the function's table, and its CSV.
    assert "http://127.0.0.1:1/prod/predict/csv" in by_label["POST /predict/{model}"].command
    assert "Content-Type: text/csv" in by_label["POST /predict/{model}"].command
    assert "?data=5.1,3.5,1.4,0.2" in by_label["GET /predict"].command
    assert by_label["ANY /predict/health"].command.startswith(
        "curl -sS http://127.0.0.1:1/prod/predict/health"
    )
    assert by_label["OPTIONS /predicted-ratings/{user_id}"].expect == 200
    skipped = by_label["GET /predicted-ratings/{user_id}"]
    assert isinstance(skipped, banner.Skipped)
    assert skipped.reason == "endpoint ratings is served by http://127.0.0.1:9, whose requests are yours"
    text = banner.text(
        shown,
        {**banner.state(shown, Path("unit")), "urls": {**URLS, "s3": "-", "lambda": "-"}},
        Path("unit"),
        1.0,
    )
    assert f"  GET /predicted-ratings/{{user_id}}: no sample, {skipped.reason}\n" in text


def test_refused_without_a_key_expects_the_plans_gateway_response(tmp_path: Path) -> None:
    shown = _shown(tmp_path)
    refused = [c for c in shown.commands if c.label.endswith("without a key: refused")]
    assert len(refused) == 1
    assert isinstance(refused[0], banner.Command)
    assert "x-api-key" not in refused[0].command
    assert refused[0].expect == 403
