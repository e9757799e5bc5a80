"""The skeleton of an S3 pipeline's handler: every object of the event handled on its own, its
outcome counted, and the invocation failed at the end if any object raised.

Raising at the end, and only then, lets Lambda's async retries and the on-failure destination
see a failure without stopping the other objects of the same event; metrics are flushed
whatever happens, so a failed invocation still reports what it did.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import Any, TypeVar

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from mlgw.pipeline.events import S3Object, handle_each
from mlgw.pipeline.objects import Invocation

T = TypeVar("T")


def run_objects(
    event: Mapping[str, Any],
    invocation: Invocation,
    *,
    process: Callable[[S3Object, Invocation], T],
    count: Callable[[Metrics, T], None],
    metrics: Metrics,
    logger: Any,
    failure_message: str,
    error: Callable[[str], Exception],
    failed_as: str,
) -> dict[str, Any]:
    """Process every created object of `event`; raises `error` naming each object that raised."""
    try:
        results = handle_each(
            event, lambda obj: process(obj, invocation), logger, failure_message=failure_message
        )
        for outcome in results.outcomes:
            count(metrics, outcome)
        if results.problems:
            metrics.add_metric(name="FilesFailed", unit=MetricUnit.Count, value=len(results.problems))
    finally:
        metrics.flush_metrics()
    if results.problems:
        raise error(f"{len(results.problems)} object(s) {failed_as}: " + " | ".join(results.problems))
    return {"results": [asdict(outcome) for outcome in results.outcomes]}  # type: ignore[call-overload]
