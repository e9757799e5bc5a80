"""CloudWatch Logs rules of the conformance layer: each plan of a minimal breaking configuration
fails naming the rule, and the fixed configuration plans."""

from __future__ import annotations

import pytest

from tfharness import Workspace

pytestmark = pytest.mark.terraform


def _group(name: str = "/aws/sagemaker/Endpoints/conformance", extra: str = "") -> str:
    return f"""
resource "aws_cloudwatch_log_group" "this" {{
  name = "{name}"
{extra}
}}
"""


@pytest.mark.parametrize("days", [2, 31, 366, 3650])
def test_retention_outside_the_offered_values_is_rejected(tf: Workspace, days: int) -> None:
    error = tf.plan_error(tf.inline(_group(extra=f"  retention_in_days = {days}")))
    assert "logs.retention-in-days" in error
    assert f"retention_in_days {days} is not a retention CloudWatch Logs offers" in error


@pytest.mark.parametrize("days", [0, 1, 30, 1096, 3653])
def test_offered_retention_plans(tf: Workspace, days: int) -> None:
    assert tf.plan(tf.inline(_group(extra=f"  retention_in_days = {days}"))).resources


def test_log_group_name_starting_with_aws_slash_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_group("aws/sagemaker/Endpoints/conformance")))
    assert "logs.group-name-reserved-prefix" in error
    assert "starts with aws/, which CloudWatch Logs reserves" in error


@pytest.mark.parametrize(
    "key", ["1234abcd-12ab-34cd-56ef-1234567890ab", "alias/logs", "arn:aws:s3:::not-a-key"]
)
def test_kms_key_that_is_not_a_key_arn_is_rejected(tf: Workspace, key: str) -> None:
    error = tf.plan_error(tf.inline(_group(extra=f'  kms_key_id = "{key}"')))
    assert "logs.kms-key-arn" in error
    assert "is not a KMS key ARN" in error


def test_kms_key_arn_plans(tf: Workspace) -> None:
    key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    assert tf.plan(tf.inline(_group(extra=f'  kms_key_id = "{key}"'))).resources
