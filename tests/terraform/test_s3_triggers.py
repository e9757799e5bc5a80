"""Plan checks of modules/s3-triggers: one configuration per bucket, no loops, no overlaps."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tfharness import Workspace

pytestmark = pytest.mark.terraform

MODULE = "modules/s3-triggers"
FN = "arn:aws:lambda:us-east-1:123456789012:function:"
TRIGGERS = {
    "batch": {
        "function_arn": f"{FN}churn-batch",
        "function_name": "churn-batch",
        "prefix": "batch/in/",
        "suffixes": [".csv", ".jsonl"],
        "write_prefixes": ["batch/out/", "batch/errors/"],
    },
    "actuals": {
        "function_arn": f"{FN}churn-actuals",
        "function_name": "churn-actuals",
        "prefix": "upload_actuals/",
        "write_prefixes": ["actuals-failed/", "actuals-state/"],
    },
}
BASE: dict[str, Any] = {"name": "churn", "bucket": "churn-data", "triggers": TRIGGERS}


def test_notification_mode_writes_one_configuration_for_every_trigger(tf: Workspace) -> None:
    plan = tf.plan(MODULE, BASE)
    notification = plan.resource("aws_s3_bucket_notification.this[0]")
    assert notification["bucket"] == "churn-data"
    rules = {r["id"]: r for r in notification["lambda_function"]}
    assert set(rules) == {"batch-csv", "batch-jsonl", "actuals"}
    assert rules["batch-csv"]["filter_prefix"] == "batch/in/"
    assert rules["batch-csv"]["filter_suffix"] == ".csv"
    assert rules["batch-jsonl"]["lambda_function_arn"] == f"{FN}churn-batch"
    assert rules["actuals"]["filter_prefix"] == "upload_actuals/"
    assert rules["actuals"]["filter_suffix"] is None
    assert all(r["events"] == ["s3:ObjectCreated:*"] for r in rules.values())

    permission = plan.resource('aws_lambda_permission.s3["actuals"]')
    assert permission["principal"] == "s3.amazonaws.com"
    assert permission["source_arn"] == "arn:aws:s3:::churn-data"
    assert permission["source_account"] == "123456789012"
    assert permission["function_name"] == "churn-actuals"
    assert not plan.addresses("aws_cloudwatch_event_rule")


def test_trigger_rules_output_names_what_invokes_which_function(tf: Workspace) -> None:
    # Local mode serves the triggers from this output: one rule per notification rule, with the
    # ids, filters and functions of the planned configuration.
    plan = tf.plan(MODULE, BASE)
    rules = plan.raw._raw["output_changes"]["trigger_rules"]["after"]
    notification = plan.resource("aws_s3_bucket_notification.this[0]")["lambda_function"]
    assert set(rules) == {r["id"] for r in notification} == {"batch-csv", "batch-jsonl", "actuals"}
    for planned in notification:
        rule = rules[planned["id"]]
        assert rule["filter_prefix"] == planned["filter_prefix"]
        assert rule["filter_suffix"] == planned["filter_suffix"]
        assert rule["function_arn"] == planned["lambda_function_arn"]
        assert rule["events"] == planned["events"]
    assert rules["batch-jsonl"] == {
        "bucket": "churn-data",
        "events": ["s3:ObjectCreated:*"],
        "filter_prefix": "batch/in/",
        "filter_suffix": ".jsonl",
        "function_arn": f"{FN}churn-batch",
        "function_name": "churn-batch",
        "mode": "notification",
        "trigger": "batch",
    }
    assert rules["actuals"]["filter_suffix"] is None
    eventbridge = tf.plan(MODULE, {**BASE, "mode": "eventbridge"}).raw._raw["output_changes"]["trigger_rules"]
    assert {r["mode"] for r in eventbridge["after"].values()} == {"eventbridge"}


def test_eventbridge_mode_matches_prefix_and_suffixes_per_rule(tf: Workspace) -> None:
    plan = tf.plan(MODULE, {**BASE, "mode": "eventbridge"})
    assert plan.resource("aws_s3_bucket_notification.this[0]")["eventbridge"] is True
    assert plan.resource("aws_s3_bucket_notification.this[0]")["lambda_function"] == []
    batch = json.loads(plan.resource('aws_cloudwatch_event_rule.this["batch"]')["event_pattern"])
    assert batch == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": ["churn-data"]},
            "object": {"key": [{"wildcard": "batch/in/*.csv"}, {"wildcard": "batch/in/*.jsonl"}]},
        },
    }
    actuals = json.loads(plan.resource('aws_cloudwatch_event_rule.this["actuals"]')["event_pattern"])
    assert actuals["detail"]["object"]["key"] == [{"prefix": "upload_actuals/"}]
    assert plan.resource('aws_cloudwatch_event_target.this["actuals"]')["arn"] == f"{FN}churn-actuals"
    assert plan.resource('aws_lambda_permission.eventbridge["batch"]')["principal"] == "events.amazonaws.com"
    assert not plan.addresses("aws_lambda_permission.s3")


def test_eventbridge_on_a_bucket_that_already_sends_events_leaves_its_configuration_alone(
    tf: Workspace,
) -> None:
    plan = tf.plan(MODULE, {**BASE, "mode": "eventbridge", "manage_notification": False})
    assert not plan.addresses("aws_s3_bucket_notification")
    assert plan.addresses("aws_cloudwatch_event_rule") == [
        'aws_cloudwatch_event_rule.this["actuals"]',
        'aws_cloudwatch_event_rule.this["batch"]',
    ]
    assert "needs manage_notification = true" in tf.plan_error(MODULE, {**BASE, "manage_notification": False})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"batch": {**TRIGGERS["batch"], "write_prefixes": ["batch/in/results/"]}},
            "a function would be triggered",
        ),
        ({"batch": {**TRIGGERS["batch"], "write_prefixes": ["batch/"]}}, "a function would be triggered"),
        (
            {"actuals": {**TRIGGERS["actuals"], "prefix": "batch/in/actuals/"}},
            "two triggers watch overlapping prefixes",
        ),
        (
            {"batch": {**TRIGGERS["batch"], "prefix": "batch/in"}},
            "must be a non-empty key prefix ending with",
        ),
        (
            {"batch": {**TRIGGERS["batch"], "write_prefixes": ["out"]}},
            "write_prefixes must be key prefixes ending",
        ),
        (
            {"batch": {**TRIGGERS["batch"], "suffixes": [".csv", "data.csv"]}},
            "none may end with another",
        ),
        (
            {"batch": {**TRIGGERS["batch"], "suffixes": [".csv", ".csv"]}},
            "none may end with another",
        ),
        (
            {"batch": {**TRIGGERS["batch"], "suffixes": [""]}},
            "suffixes must be non-empty",
        ),
    ],
)
def test_loops_and_ambiguous_prefixes_are_refused(
    tf: Workspace, change: dict[str, Any], message: str
) -> None:
    assert message in tf.plan_error(MODULE, {**BASE, "triggers": {**TRIGGERS, **change}})


def test_bad_mode_and_bucket_fail_with_their_message(tf: Workspace) -> None:
    assert "mode must be notification or eventbridge" in tf.plan_error(MODULE, {**BASE, "mode": "sqs"})
    assert "bucket must be an S3 bucket name" in tf.plan_error(MODULE, {**BASE, "bucket": "Bad_Bucket"})


def test_the_notification_waits_for_the_permissions_s3_checks(tf: Workspace) -> None:
    # The module's plan passes s3.notification-needs-permission; the same module without its
    # depends_on breaks it, so the rule guards this wiring.
    module = tf.path(MODULE)
    main = (module / "main.tf").read_text(encoding="utf-8")
    assert "depends_on = [aws_lambda_permission.s3]" in main
    hcl = main.replace("depends_on = [aws_lambda_permission.s3]", "") + (module / "variables.tf").read_text(
        encoding="utf-8"
    )
    error = tf.plan_error(tf.inline(hcl), BASE)
    assert "s3.notification-needs-permission" in error
    assert "does not depend on aws_lambda_permission.s3" in error
