"""Secrets Manager rules of the conformance layer: each plan of a minimal breaking configuration
fails naming the rule, and the fixed configuration plans."""

from __future__ import annotations

import json

import pytest

from tfharness import Workspace

pytestmark = pytest.mark.terraform

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:churn/token-AbCdEf"


def _secret(name: str = "churn/token", extra: str = "", label: str = "this") -> str:
    return f"""
resource "aws_secretsmanager_secret" "{label}" {{
  name = "{name}"
{extra}
}}
"""


# ---------------------------------------------------------------- secretsmanager.recovery-window


@pytest.mark.parametrize("days", [1, 6, 31])
def test_a_recovery_window_outside_0_and_7_to_30_is_rejected(tf: Workspace, days: int) -> None:
    error = tf.plan_error(tf.inline(_secret(extra=f"  recovery_window_in_days = {days}")))
    assert "secretsmanager.recovery-window" in error
    assert f"recovery_window_in_days {days} must be 0 (delete at once) or 7 to 30 days" in error


@pytest.mark.parametrize("days", [0, 7, 30])
def test_a_recovery_window_of_0_or_7_to_30_plans(tf: Workspace, days: int) -> None:
    assert tf.plan(tf.inline(_secret(extra=f"  recovery_window_in_days = {days}"))).resources


# ---------------------------------------------------------------- secretsmanager.name-unique


def test_two_secrets_of_one_name_in_one_region_are_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_secret(label="a") + _secret(label="b")))
    assert "secretsmanager.name-unique" in error
    assert "also created by aws_secretsmanager_secret.a" in error


def test_one_secret_name_in_two_regions_plans(tf: Workspace) -> None:
    hcl = (
        _secret(label="a")
        + """
provider "aws" {
  alias  = "west"
  region = "us-west-2"
}
"""
        + _secret(label="b", extra="  provider = aws.west")
    )
    assert tf.plan(tf.inline('provider "aws" {\n  region = "us-east-1"\n}\n' + hcl)).resources


# ---------------------------------------------------------------- secretsmanager.name-scheduled-for-deletion


def _with_deleted_secret(tf: Workspace, window: int, case: str) -> str:
    """A root whose state holds `old` (name churn/token, the given recovery window) and whose
    configuration creates `new` under the same name: a refactor without a moved block."""
    rel = tf.inline(f"# {case}\n" + _secret(label="new"))
    state = {
        "version": 4,
        "terraform_version": "1.9.0",
        "serial": 1,
        "lineage": "0b7e5c1a-2f4d-4c3b-9a8e-6d5f4e3c2b1a",
        "outputs": {},
        "resources": [
            {
                "mode": "managed",
                "type": "aws_secretsmanager_secret",
                "name": "old",
                "provider": 'provider["registry.terraform.io/hashicorp/aws"]',
                "instances": [
                    {
                        "schema_version": 0,
                        "attributes": {
                            "id": ARN,
                            "arn": ARN,
                            "name": "churn/token",
                            "recovery_window_in_days": window,
                        },
                    }
                ],
            }
        ],
        "check_results": None,
    }
    (tf.path(rel) / "terraform.tfstate").write_text(json.dumps(state), encoding="utf-8")
    return rel


def test_a_name_a_deleted_secret_still_holds_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(_with_deleted_secret(tf, 30, "scheduled"))
    assert "secretsmanager.name-scheduled-for-deletion" in error
    assert "still held by aws_secretsmanager_secret.old" in error
    assert "set recovery_window_in_days = 0" in error


def test_a_name_freed_at_once_plans(tf: Workspace) -> None:
    plan = tf.plan(_with_deleted_secret(tf, 0, "forced"))
    assert "aws_secretsmanager_secret.new" in plan.resources
