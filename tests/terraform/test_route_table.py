"""The route table the READMEs show, rendered from a real document: the body examples/complete
plans with its terraform.tfvars.example (name = "churn", the created endpoint churn-prod)."""

from __future__ import annotations

import pytest

from tfharness import Workspace
from tfharness.conformance.openapi import parse, route_table

pytestmark = pytest.mark.terraform

EXAMPLE = "examples/complete"
REST_API = "module.ml_gateway.module.api[0].aws_api_gateway_rest_api.this"


def test_route_table_of_the_complete_example_shows_both_integration_kinds(tf: Workspace) -> None:
    plan = tf.plan(EXAMPLE, var_file=str(tf.path(EXAMPLE) / "terraform.tfvars.example"))
    rows = route_table(parse(plan.resource(REST_API)["body"])).splitlines()

    assert rows[0] == "| Method | Path | Integration | Auth | Request validation | Notes |"
    lambda_proxy = "Lambda proxy: function `churn-predict`"
    # The query-string route: its validator checks the required data parameter.
    assert f"| GET | `/predict` | {lambda_proxy} | API key | parameters | required query: `data` |" in rows
    # The body route has no validator in this example.
    assert f"| POST | `/predict` | {lambda_proxy} | API key | none |  |" in rows
    assert f"| POST | `/predict/{{model}}` | {lambda_proxy} | API key | parameters |  |" in rows
    # The direct SageMaker route, named by its endpoint.
    assert "| POST | `/score` | SageMaker: endpoint `churn-prod` | API key | none |  |" in rows
    # One row per operation, no binary media types line: the example sets none.
    assert len(rows) == 2 + 5
