"""CloudWatch alarm rules of the conformance layer: each plan of a minimal breaking configuration
fails naming the rule, and the fixed configuration plans."""

from __future__ import annotations

import pytest

from tfharness import Workspace

pytestmark = pytest.mark.terraform


def _alarm(period: int = 60, evaluation_periods: int = 5, datapoints: int = 3) -> str:
    return f"""
resource "aws_cloudwatch_metric_alarm" "this" {{
  alarm_name          = "conformance-errors"
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  evaluation_periods  = {evaluation_periods}
  datapoints_to_alarm = {datapoints}
  metric_name         = "Errors"
  namespace           = "AWS/Lambda"
  statistic           = "Sum"
  period              = {period}
  dimensions          = {{ FunctionName = "conformance" }}
}}
"""


def _math_alarm(ratio_id: str = "ratio", errors_return: str = "false", ratio_return: str = "true") -> str:
    return f"""
resource "aws_cloudwatch_metric_alarm" "this" {{
  alarm_name          = "conformance-error-rate"
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0.05
  evaluation_periods  = 1

  metric_query {{
    id          = "{ratio_id}"
    expression  = "errors / invocations"
    return_data = {ratio_return}
  }}
  metric_query {{
    id          = "errors"
    return_data = {errors_return}
    metric {{
      metric_name = "Errors"
      namespace   = "AWS/Lambda"
      period      = 60
      stat        = "Sum"
    }}
  }}
  metric_query {{
    id          = "invocations"
    return_data = false
    metric {{
      metric_name = "Invocations"
      namespace   = "AWS/Lambda"
      period      = 60
      stat        = "Sum"
    }}
  }}
}}
"""


@pytest.mark.parametrize("period", [45, 90, 100])
def test_period_that_is_not_a_multiple_of_60_is_rejected(tf: Workspace, period: int) -> None:
    error = tf.plan_error(tf.inline(_alarm(period=period)))
    assert "cloudwatch.alarm-period" in error
    assert f"period {period} is not one CloudWatch alarms take" in error


def test_evaluation_range_above_a_day_for_short_periods_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_alarm(period=60, evaluation_periods=1441, datapoints=1)))
    assert "cloudwatch.alarm-evaluation-range" in error
    assert "above the 86400 s CloudWatch evaluates" in error


def test_evaluation_range_above_seven_days_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_alarm(period=3600, evaluation_periods=169, datapoints=1)))
    assert "cloudwatch.alarm-evaluation-range" in error
    assert "above the 604800 s" in error


def test_more_datapoints_than_evaluation_periods_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_alarm(evaluation_periods=3, datapoints=4)))
    assert "cloudwatch.datapoints-to-alarm" in error
    assert "datapoints_to_alarm 4 is more than evaluation_periods 3" in error


@pytest.mark.parametrize(("period", "evaluation_periods"), [(60, 1440), (3600, 168), (30, 5)])
def test_alarm_within_the_limits_plans(tf: Workspace, period: int, evaluation_periods: int) -> None:
    assert tf.plan(
        tf.inline(_alarm(period=period, evaluation_periods=evaluation_periods, datapoints=1))
    ).resources


@pytest.mark.parametrize("query_id", ["Ratio", "1ratio", "error-rate"])
def test_metric_query_id_not_starting_lower_case_is_rejected(tf: Workspace, query_id: str) -> None:
    error = tf.plan_error(tf.inline(_math_alarm(ratio_id=query_id)))
    assert "cloudwatch.metric-query-id" in error
    assert f"metric_query id '{query_id}' must start with a lower-case letter" in error


def test_two_queries_returning_data_are_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_math_alarm(errors_return="true")))
    assert "cloudwatch.metric-query-one-return-data" in error
    assert "2 metric_query blocks set return_data = true" in error


def test_no_query_returning_data_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_math_alarm(ratio_return="false")))
    assert "cloudwatch.metric-query-one-return-data" in error
    assert "0 metric_query blocks set return_data = true" in error


def test_metric_math_alarm_with_one_expression_returning_data_plans(tf: Workspace) -> None:
    assert tf.plan(tf.inline(_math_alarm())).resources
