"""What local mode reads from a plan: the document and the modules' public outputs, nothing else.

The plans here are the shape of ``terraform show -json`` with the outputs local mode adds to the
example's root (``mlgw_local_<call> = module.<call>``); one test stages a real example and checks
that only its root gained a file.
"""

from __future__ import annotations

import filecmp
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from openapi_sample import document

from mlgw_local.plan import (
    OUTPUTS_FILE,
    REPO_ROOT,
    ApiKey,
    PlanError,
    Quota,
    Throttle,
    gateway_from_plan,
    load_gateway,
    local_key_value,
    module_calls,
    outputs_text,
    stage_example,
)


def _function(name: str, **env: str) -> dict[str, Any]:
    return {
        "mode": "managed",
        "type": "aws_lambda_function",
        "module_address": f"module.gw.module.{name}",
        "change": {
            "actions": ["create"],
            "after": {
                "function_name": name,
                "handler": "mlgw.handlers.x.lambda_handler",
                "timeout": 30,
                "memory_size": 256,
                "environment": [{"variables": env}],
            },
            "after_unknown": {"environment": [{"variables": {"ACTUALS_TOKEN_SECRET_ARN": True}}]},
        },
    }


def _rest_api(doc: dict[str, Any] | None = None) -> dict[str, Any]:
    """The REST API module's outputs as output_changes holds them: unknown IDs and URLs left out."""
    return {
        "openapi": json.dumps(doc or document()),
        "invoke_urls": {},
        "stages": {
            "prod": {
                "name": "prod",
                "variables": {"modelVersion": "3"},
                "method_settings": {
                    "*/*": {
                        "throttling_rate_limit": 100,
                        "throttling_burst_limit": 200,
                        "metrics_enabled": True,
                    },
                    "~1predicted-ratings~1{user_id}/GET": {
                        "throttling_rate_limit": 10,
                        "throttling_burst_limit": 20,
                    },
                },
            },
            # As the real provider plans an unset throttle: -1.
            "test": {
                "name": "test",
                "variables": {},
                "method_settings": {"*/*": {"throttling_rate_limit": -1, "throttling_burst_limit": -1}},
            },
        },
        "usage_plans": {
            "free": {
                "name": "churn-free",
                "api_stages": [
                    {"stage": "prod", "throttle": {"/predict/POST": {"rate_limit": 2, "burst_limit": 4}}}
                ],
                "throttle": {"rate_limit": 5, "burst_limit": 10},
                "quota": {"limit": 1000, "offset": 0, "period": "DAY"},
                "api_keys": ["mobile", "partner"],
            },
        },
        "api_keys": {
            "mobile": {"name": "churn-mobile", "enabled": True, "usage_plan": "free"},
            "partner": {"name": "churn-partner", "enabled": False, "usage_plan": "free"},
        },
    }


def _triggers(mode: str = "notification", function: str = "churn-batch-predict") -> dict[str, Any]:
    return {
        "churn-data": {
            "bucket_arn": "arn:aws:s3:::churn-data",
            "trigger_rules": {
                "batch-csv": {
                    "bucket": "churn-data",
                    "events": ["s3:ObjectCreated:*"],
                    "filter_prefix": "batch/in/",
                    "filter_suffix": ".csv",
                    "function_name": function,
                    "mode": mode,
                    "trigger": "batch",
                },
            },
        }
    }


def _plan(root_outputs: dict[str, Any], *resources: dict[str, Any]) -> dict[str, Any]:
    functions = [_function("churn-predict"), _function("churn-health"), _function("churn-batch-predict")]
    return {
        "resource_changes": [*functions, *resources],
        "output_changes": {
            "mlgw_local_gw": {"after": root_outputs},
            # An example's own outputs are not read.
            "invoke_url": {"after": "https://example.invalid"},
        },
    }


def _root(**extra: Any) -> dict[str, Any]:
    """This project's root module: the REST API's outputs under rest_api, the key values beside."""
    return {
        "rest_api": _rest_api(),
        "api_key_values": {"partner": "partner-supplied-key-0123456789"},
        "s3_triggers": _triggers(),
        **extra,
    }


def test_the_api_stages_plans_and_keys_come_from_the_modules_outputs() -> None:
    gateway = gateway_from_plan("churn", _plan(_root()))
    assert gateway.api is not None
    assert {(op.method, op.path) for op in gateway.api.operations} >= {
        ("POST", "/predict"),
        ("GET", "/predicted-ratings/{user_id}"),
    }
    prod, test = gateway.stages["prod"], gateway.stages["test"]
    assert prod.variables == {"modelVersion": "3"}
    assert prod.throttle == Throttle(100.0, 200)
    assert prod.method_throttles == {("/predicted-ratings/{user_id}", "GET"): Throttle(10.0, 20)}
    assert (test.throttle, test.method_throttles) == (None, {})
    free = gateway.usage_plans["free"]
    assert (free.name, free.stages, free.throttle) == ("churn-free", ("prod",), Throttle(5.0, 10))
    assert free.quota == Quota(1000, "DAY", 0)
    assert free.method_throttles == {("prod", "/predict", "POST"): Throttle(2.0, 4)}
    # A supplied key keeps its value; a generated one (unknown until apply) gets a local stand-in.
    assert gateway.api_keys["partner"] == ApiKey(
        "churn-partner", "partner-supplied-key-0123456789", False, "free", generated=False
    )
    assert gateway.api_keys["mobile"] == ApiKey(
        "churn-mobile", local_key_value("churn", "mobile"), True, "free", True
    )
    assert gateway.endpoint_names() == {"ratings", "legacy-csv"}


def test_the_triggers_come_from_the_trigger_rules_output() -> None:
    gateway = gateway_from_plan("churn", _plan(_root()))
    [trigger] = gateway.triggers
    assert (trigger.id, trigger.bucket, trigger.prefix, trigger.suffix) == (
        "batch-csv",
        "churn-data",
        "batch/in/",
        ".csv",
    )
    assert trigger.function_name == "churn-batch-predict"
    assert "churn-data" in gateway.buckets
    functions = gateway.functions["churn-batch-predict"]
    assert (functions.timeout, functions.unknown_environment) == (30, ("ACTUALS_TOKEN_SECRET_ARN",))


def test_a_module_called_directly_is_read_the_same_way() -> None:
    direct = {**_rest_api(), "api_key_values": {"partner": "direct-key-0123456789abcdef"}}
    plan = _plan({})
    plan["output_changes"] = {
        "mlgw_local_api": {"after": [direct]},  # a call with count
        "mlgw_local_triggers": {
            "after": {"churn-data": {"trigger_rules": _triggers()["churn-data"]["trigger_rules"]}}
        },
    }
    gateway = gateway_from_plan("direct", plan)
    assert gateway.api_keys["partner"].value == "direct-key-0123456789abcdef"
    assert [t.id for t in gateway.triggers] == ["batch-csv"]


def test_without_the_openapi_output_there_is_no_api() -> None:
    root = _root()
    del root["rest_api"]["openapi"]
    gateway = gateway_from_plan("churn", _plan(root))
    assert (gateway.api, gateway.stages, gateway.api_keys) == (None, {}, {})


@pytest.mark.parametrize(
    ("root", "message"),
    [
        (
            _root(second={**_rest_api(), "openapi": json.dumps({**document(), "info": {"title": "other"}})}),
            "2 REST APIs",
        ),
        (_root(s3_triggers=_triggers(mode="eventbridge")), "EventBridge"),
        (_root(s3_triggers=_triggers(function="nobody")), "names no planned function"),
        ({**_root(), "rest_api": {**_rest_api(), "openapi": "{not json"}}, "not a document"),
    ],
)
def test_what_local_mode_cannot_serve_fails_with_the_reason(root: dict[str, Any], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        gateway_from_plan("churn", _plan(root))


def test_a_proxy_integration_of_an_unplanned_function_fails() -> None:
    doc = document()
    uri = doc["paths"]["/predict"]["post"]["x-amazon-apigateway-integration"]["uri"]
    doc["paths"]["/predict"]["post"]["x-amazon-apigateway-integration"]["uri"] = uri.replace(
        "churn-predict", "gone"
    )
    with pytest.raises(PlanError, match="invokes function gone"):
        gateway_from_plan("churn", _plan({**_root(), "rest_api": _rest_api(doc)}))


def test_staging_adds_outputs_to_the_example_root_and_touches_no_module(tmp_path: Path) -> None:
    example = REPO_ROOT / "examples" / "local"
    workspace, rel = stage_example(example, tmp_path)
    root = workspace.path(rel)
    assert module_calls(root) == ["ml_gateway"]
    assert (root / OUTPUTS_FILE).read_text(encoding="utf-8") == outputs_text(["ml_gateway"]).rstrip() + "\n"
    assert "value     = module.ml_gateway" in outputs_text(["ml_gateway"])
    # Every module file of the staged copy is the repository's, byte for byte.
    for module in (REPO_ROOT / "modules").iterdir():
        staged = workspace.path(f"modules/{module.name}")
        files = sorted(p.name for p in module.iterdir() if p.is_file())
        assert sorted(p.name for p in staged.iterdir() if p.is_file()) == files, module.name
        _, mismatch, errors = filecmp.cmpfiles(module, staged, files, shallow=False)
        assert (mismatch, errors) == ([], []), module.name
    # The added file declares outputs only: no resource, nothing planned beyond the example.
    assert "resource" not in (root / OUTPUTS_FILE).read_text(encoding="utf-8")


def test_the_example_plan_is_read_from_the_document_and_the_outputs(tmp_path: Path) -> None:
    # Given: examples/local, with binary media types set on its API
    example = tmp_path / "local-binary"
    shutil.copytree(REPO_ROOT / "examples" / "local", example)
    main = example / "main.tf"
    text = main.read_text(encoding="utf-8")
    assert "  api = {\n" in text
    main.write_text(
        text.replace("  api = {\n", '  api = {\n    binary_media_types = ["image/png"]\n', 1), "utf-8"
    )

    # When: local mode reads its plan
    gateway = load_gateway(example)

    # Then: routes, templates and binary media types come from the document ...
    assert gateway.api is not None
    assert gateway.api.binary_media_types == ("image/png",)
    operations = {(op.method, op.path): op for op in gateway.api.operations}
    assert set(operations) >= {
        ("POST", "/predict"),
        ("GET", "/predict/{model}"),
        ("GET", "/predicted-ratings/{user_id}"),
    }
    ratings = operations[("GET", "/predicted-ratings/{user_id}")].integration
    template = (REPO_ROOT / "modules" / "rest-api" / "templates" / "ratings_request.vtl").read_text("utf-8")
    assert (ratings.endpoint_name, ratings.request_templates["application/json"]) == ("ratings", template)
    assert operations[("POST", "/predict")].integration.function_name == "mlgw-local-predict"
    # ... stages, plans and keys from the module's outputs, triggers from trigger_rules
    assert gateway.stages["prod"].throttle == Throttle(100.0, 200)
    assert gateway.usage_plans["developer"].quota == Quota(10000, "DAY", 0)
    assert gateway.usage_plans["developer"].throttle == Throttle(5.0, 10)
    assert gateway.api_keys["developer"].value == local_key_value("local-binary", "developer")
    assert {t.id for t in gateway.triggers} == {"batch-csv", "actuals-csv"}
