"""Plan checks of modules/data-bucket: the hardening a pipeline bucket needs."""

from __future__ import annotations

import json

import pytest

from tfharness import Workspace

pytestmark = pytest.mark.terraform

MODULE = "modules/data-bucket"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_hardening_and_lifecycle(tf: Workspace) -> None:
    plan = tf.plan(
        MODULE,
        {"name": "churn-data", "expirations": {"outputs": {"prefix": "batch/out/", "days": 30}}},
    )
    assert plan.resource("aws_s3_bucket.this")["bucket"] == "churn-data"
    assert plan.resource("aws_s3_bucket.this")["force_destroy"] is False
    block = plan.resource("aws_s3_bucket_public_access_block.this")
    assert all(
        block[k] is True
        for k in ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    )
    assert (
        plan.resource("aws_s3_bucket_versioning.this")["versioning_configuration"][0]["status"] == "Enabled"
    )
    sse = plan.resource("aws_s3_bucket_server_side_encryption_configuration.this")["rule"][0]
    assert sse["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "AES256"
    ownership = plan.resource("aws_s3_bucket_ownership_controls.this")["rule"][0]["object_ownership"]
    assert ownership == "BucketOwnerEnforced"
    rules = {r["id"]: r for r in plan.resource("aws_s3_bucket_lifecycle_configuration.this")["rule"]}
    assert rules["expire-outputs"]["filter"][0]["prefix"] == "batch/out/"
    assert rules["expire-outputs"]["expiration"][0]["days"] == 30
    assert rules["abort-incomplete-uploads-and-old-versions"]["abort_incomplete_multipart_upload"] == [
        {"days_after_initiation": 7}
    ]
    assert not plan.addresses("aws_s3_bucket_logging")


def test_kms_encryption_with_a_bucket_key(tf: Workspace) -> None:
    plan = tf.plan(MODULE, {"name": "churn-data", "kms_key_arn": KEY})
    rule = plan.resource("aws_s3_bucket_server_side_encryption_configuration.this")["rule"][0]
    assert rule["apply_server_side_encryption_by_default"][0] == {
        "sse_algorithm": "aws:kms",
        "kms_master_key_id": KEY,
    }
    assert rule["bucket_key_enabled"] is True


@pytest.mark.parametrize(
    ("tf_vars", "message"),
    [
        ({"name": "Bad_Bucket"}, "name must be an S3 bucket name"),
        ({"name": "churn..data"}, "must not hold two adjacent dots"),
        ({"name": "10.0.0.1"}, "look like an IP address"),
        ({"name": "xn--churn-data"}, "must not start with xn--"),
        ({"name": "churn-data-s3alias"}, "nor end with -s3alias"),
        ({"name": "b-1", "expirations": {"x": {"prefix": "out", "days": 3}}}, "prefix must be a key prefix"),
        ({"name": "b-1", "expirations": {"x": {"prefix": "out/", "days": 0}}}, "days must be a whole number"),
    ],
)
def test_bad_inputs_fail_with_their_message(tf: Workspace, tf_vars: dict[str, object], message: str) -> None:
    assert message in tf.plan_error(MODULE, tf_vars)


def test_policy_denies_every_request_not_made_over_tls(tf: Workspace) -> None:
    plan = tf.plan(MODULE, {"name": "churn-data"})
    policy = json.loads(plan.resource("aws_s3_bucket_policy.this")["policy"])
    assert policy["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Action": "s3:*",
            "Resource": ["arn:aws:s3:::churn-data", "arn:aws:s3:::churn-data/*"],
            "Principal": "*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    ]
