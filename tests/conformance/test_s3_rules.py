"""S3 rules of the conformance layer: each plan of a minimal breaking configuration fails naming
the rule, and the fixed configuration plans."""

from __future__ import annotations

import pytest

from tfharness import Workspace

pytestmark = pytest.mark.terraform


def _bucket(name: str) -> str:
    return f"""
resource "aws_s3_bucket" "this" {{
  bucket = "{name}"
}}
"""


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("ab", "not 3 to 63"),
        ("a" * 64, "not 3 to 63"),
        ("Data-Bucket", "only lower-case letters"),
        ("data_bucket", "only lower-case letters"),
        ("-data-bucket", "begin and end with a letter or digit"),
        ("data..bucket", "two adjacent dots"),
        ("192.168.5.4", "like an IP address"),
        ("xn--data-bucket", "prefix 'xn--' is reserved"),
        ("sthree-data", "prefix 'sthree-' is reserved"),
        ("amzn-s3-demo-data", "prefix 'amzn-s3-demo-' is reserved"),
        ("data-s3alias", "suffix '-s3alias' is reserved"),
        ("data--ol-s3", "suffix '--ol-s3' is reserved"),
        ("data.mrap", "suffix '.mrap' is reserved"),
        ("data--x-s3", "suffix '--x-s3' is reserved"),
        ("data--table-s3", "suffix '--table-s3' is reserved"),
    ],
)
def test_bucket_names_s3_refuses_are_rejected(tf: Workspace, name: str, reason: str) -> None:
    error = tf.plan_error(tf.inline(_bucket(name)))
    assert "s3.bucket-name" in error
    assert "breaks S3's naming rules" in error
    assert reason in error


@pytest.mark.parametrize("name", ["abc", "a" * 63, "churn-123456789012-us-east-1", "logs.example.com"])
def test_valid_bucket_names_plan(tf: Workspace, name: str) -> None:
    assert tf.plan(tf.inline(_bucket(name))).resources


def _notification(*rules: tuple[str, str, str, str]) -> str:
    blocks = "\n".join(
        f"""
  {kind} {{
    {"lambda_function_arn" if kind == "lambda_function" else kind + "_arn"} = "{arn}"
    events        = ["{event}"]
    filter_prefix = "{prefix}"
  }}"""
        if suffix is None
        else f"""
  {kind} {{
    {"lambda_function_arn" if kind == "lambda_function" else kind + "_arn"} = "{arn}"
    events        = ["{event}"]
    filter_prefix = "{prefix}"
    filter_suffix = "{suffix}"
  }}"""
        for kind, arn, event, prefix, suffix in (
            (k, _ARNS[k], e, p, s) for k, e, p, s in (_split(r) for r in rules)
        )
    )
    return f"""
resource "aws_s3_bucket_notification" "this" {{
  bucket = "conformance-data"
{blocks}
}}
"""


_ARNS = {
    "lambda_function": "arn:aws:lambda:us-east-1:123456789012:function:ingest",
    "queue": "arn:aws:sqs:us-east-1:123456789012:ingest",
    "topic": "arn:aws:sns:us-east-1:123456789012:ingest",
}


def _split(rule: tuple[str, str, str, str]) -> tuple[str, str, str, str | None]:
    kind, event, prefix, suffix = rule
    return kind, event, prefix, suffix or None


@pytest.mark.parametrize(
    "rules",
    [
        # the same prefix twice, no suffixes
        [
            ("lambda_function", "s3:ObjectCreated:*", "in/", ""),
            ("lambda_function", "s3:ObjectCreated:*", "in/", ""),
        ],
        # nested prefixes, overlapping suffixes
        [
            ("lambda_function", "s3:ObjectCreated:*", "in/", ".csv"),
            ("lambda_function", "s3:ObjectCreated:*", "in/a/", "data.csv"),
        ],
        # a wildcard event covers a specific one; across destination kinds
        [
            ("lambda_function", "s3:ObjectCreated:*", "in/", ".csv"),
            ("queue", "s3:ObjectCreated:Put", "in/", ".csv"),
        ],
    ],
)
def test_overlapping_notification_rules_are_rejected(
    tf: Workspace, rules: list[tuple[str, str, str, str]]
) -> None:
    error = tf.plan_error(tf.inline(_notification(*rules)))
    assert "s3.notification-overlap" in error
    assert "refuses the configuration as ambiguously defined" in error


@pytest.mark.parametrize(
    "rules",
    [
        # sibling prefixes
        [
            ("lambda_function", "s3:ObjectCreated:*", "batch/in/", ""),
            ("lambda_function", "s3:ObjectCreated:*", "upload_actuals/", ""),
        ],
        # one prefix, disjoint suffixes
        [
            ("lambda_function", "s3:ObjectCreated:*", "in/", ".csv"),
            ("lambda_function", "s3:ObjectCreated:*", "in/", ".jsonl"),
        ],
        # one prefix and suffix, different events
        [
            ("lambda_function", "s3:ObjectCreated:*", "in/", ".csv"),
            ("topic", "s3:ObjectRemoved:*", "in/", ".csv"),
        ],
    ],
)
def test_disjoint_notification_rules_plan(tf: Workspace, rules: list[tuple[str, str, str, str]]) -> None:
    assert tf.plan(tf.inline(_notification(*rules))).resources


def _two_notifications(second_bucket: str) -> str:
    return f"""
resource "aws_s3_bucket_notification" "batch" {{
  bucket      = "conformance-data"
  eventbridge = true
}}

resource "aws_s3_bucket_notification" "actuals" {{
  bucket      = "{second_bucket}"
  eventbridge = true
}}
"""


def test_two_notification_configurations_on_one_bucket_are_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_two_notifications("conformance-data")))
    assert "s3.one-notification-per-bucket" in error
    assert "already writes the notification configuration of this bucket (conformance-data)" in error


def test_two_notification_configurations_on_one_created_bucket_are_rejected(tf: Workspace) -> None:
    # The bucket's id is unknown until it exists: the rule follows the references instead.
    hcl = """
resource "aws_s3_bucket" "data" {
  bucket_prefix = "conformance-"
}

resource "aws_s3_bucket_notification" "batch" {
  bucket      = aws_s3_bucket.data.id
  eventbridge = true
}

resource "aws_s3_bucket_notification" "actuals" {
  bucket      = aws_s3_bucket.data.id
  eventbridge = true
}
"""
    error = tf.plan_error(tf.inline(hcl))
    assert "s3.one-notification-per-bucket" in error


def test_one_notification_configuration_per_bucket_plans(tf: Workspace) -> None:
    assert tf.plan(tf.inline(_two_notifications("conformance-other"))).resources


def _notification_with_permission(depends_on: str, function_arn: str = _ARNS["lambda_function"]) -> str:
    return f"""
resource "aws_lambda_permission" "s3" {{
  statement_id  = "AllowS3"
  action        = "lambda:InvokeFunction"
  function_name = "ingest"
  principal     = "s3.amazonaws.com"
  source_arn    = "arn:aws:s3:::conformance-data"
}}

resource "aws_s3_bucket_notification" "this" {{
  bucket = "conformance-data"

  lambda_function {{
    lambda_function_arn = "{function_arn}"
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = "in/"
  }}
{depends_on}
}}
"""


def test_notification_written_before_its_lambda_permission_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_notification_with_permission("")))
    assert "s3.notification-needs-permission" in error
    assert "does not depend on aws_lambda_permission.s3" in error
    assert "depends_on = [aws_lambda_permission.s3]" in error


def test_notification_that_depends_on_its_lambda_permission_plans(tf: Workspace) -> None:
    hcl = _notification_with_permission("  depends_on = [aws_lambda_permission.s3]")
    assert tf.plan(tf.inline(hcl)).resources


def test_a_permission_for_another_function_does_not_bind_the_notification(tf: Workspace) -> None:
    hcl = _notification_with_permission("", "arn:aws:lambda:us-east-1:123456789012:function:other")
    assert tf.plan(tf.inline(hcl)).resources
