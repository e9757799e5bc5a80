"""The public outputs of modules/rest-api that local mode reads: stages, usage plans and keys.

Each is read as local mode reads it, from the plan's output_changes (values only apply knows,
such as invoke URLs and generated keys, are left out there), and checked against the planned
resources it describes.
"""

from __future__ import annotations

from typing import Any

import pytest

from tfharness import Workspace
from tfharness.conformance import Context
from tfharness.workspace import PlanResult

pytestmark = pytest.mark.terraform

MODULE = "modules/rest-api"
ACCOUNT = "123456789012"
INVOKE_ARN = (
    "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
    f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:churn-predict/invocations"
)
SUPPLIED_KEY = "partner-a-supplied-key-0123456789"
BASE: dict[str, Any] = {
    "name": "churn-api",
    "account_cloudwatch_role": "existing",
    "default_endpoint_name": "churn-prod",
    "lambda_function": {"function_name": "churn-predict", "invoke_arn": INVOKE_ARN},
    "routes": {
        "predict": {"type": "lambda_proxy", "path": "predict"},
        "ratings": {
            "type": "sagemaker",
            "path": "predicted-ratings/{user_id}",
            "method": "GET",
            "mapping": "ratings",
        },
    },
    "stages": {
        "test": {"access_logs": False},
        "prod": {
            "throttle": {"rate": 100, "burst": 200},
            "method_throttles": {"ratings": {"rate": 10, "burst": 20}},
            "variables": {"modelVersion": "3"},
        },
    },
    "usage_plans": {
        "free": {
            "stages": ["prod"],
            "quota": {"limit": 1000, "period": "DAY"},
            "throttle": {"rate": 5, "burst": 10},
            "method_throttles": {"predict": {"rate": 2, "burst": 4}},
        },
        "partners": {"stages": ["test", "prod"]},
    },
    "api_keys": {
        "mobile-app": {"usage_plan": "free"},
        "partner-a": {"usage_plan": "partners", "value": SUPPLIED_KEY},
        "retired": {"usage_plan": "free", "enabled": False},
    },
}


@pytest.fixture(scope="module")
def plan(tf: Workspace) -> PlanResult:
    return tf.plan(MODULE, BASE, context=Context(region="us-east-1", apigateway_cloudwatch_role_set=True))


def _output(plan: PlanResult, name: str) -> Any:
    return plan.raw._raw["output_changes"][name]["after"]


def test_stages_carry_their_variables_and_method_settings_by_method_path(plan: PlanResult) -> None:
    stages = _output(plan, "stages")
    assert set(stages) == {"prod", "test"}
    prod = stages["prod"]
    assert (prod["name"], prod["variables"]) == ("prod", {"modelVersion": "3"})
    settings = prod["method_settings"]
    assert set(settings) == {"*/*", "~1predicted-ratings~1{user_id}/GET"}
    for method_path, setting in settings.items():
        planned = next(
            values
            for address, values in plan.resources.items()
            if address.startswith("aws_api_gateway_method_settings.")
            and values["stage_name"] == "prod"
            and values["method_path"] == method_path
        )
        assert setting == planned["settings"][0]
    assert (settings["*/*"]["throttling_rate_limit"], settings["*/*"]["throttling_burst_limit"]) == (100, 200)
    ratings = settings["~1predicted-ratings~1{user_id}/GET"]
    assert (ratings["throttling_rate_limit"], ratings["throttling_burst_limit"]) == (10, 20)
    # No throttle on the test stage: unset in the configuration (hashicorp/aws plans -1 for it).
    assert stages["test"]["method_settings"]["*/*"]["throttling_rate_limit"] in (None, -1)
    assert stages["test"]["variables"] == {}


def test_usage_plans_carry_stages_limits_and_key_names(plan: PlanResult) -> None:
    plans = _output(plan, "usage_plans")
    assert plans["free"] == {
        "name": "churn-api-free",
        "api_stages": [{"stage": "prod", "throttle": {"/predict/POST": {"rate_limit": 2, "burst_limit": 4}}}],
        "throttle": {"rate_limit": 5, "burst_limit": 10},
        "quota": {"limit": 1000, "offset": 0, "period": "DAY"},
        "api_keys": ["mobile-app", "retired"],
    }
    partners = plans["partners"]
    assert sorted(s["stage"] for s in partners["api_stages"]) == ["prod", "test"]
    assert (partners["throttle"], partners["quota"], partners["api_keys"]) == (None, None, ["partner-a"])


def test_api_keys_carry_names_and_plans_and_only_the_values_output_holds_values(plan: PlanResult) -> None:
    keys = _output(plan, "api_keys")
    assert keys == {
        "mobile-app": {"name": "churn-api-mobile-app", "enabled": True, "usage_plan": "free"},
        "partner-a": {"name": "churn-api-partner-a", "enabled": True, "usage_plan": "partners"},
        "retired": {"name": "churn-api-retired", "enabled": False, "usage_plan": "free"},
    }
    changes = plan.raw._raw["output_changes"]
    assert not any(changes[name]["after_sensitive"] for name in ("stages", "usage_plans", "api_keys"))
    # A supplied key is known at plan time; a generated one only after apply.
    assert changes["api_key_values"]["after"] == {"partner-a": SUPPLIED_KEY}
    assert changes["api_key_values"]["after_sensitive"]
