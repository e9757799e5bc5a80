"""S3 "object created" notifications in the two shapes a function can receive them.

A bucket notification configuration delivers ``{"Records": [...]}`` with one or more
records; EventBridge delivers one ``"Object Created"`` event per object. Both carry the
key URL-encoded (a space arrives as ``+``, a literal ``+`` as ``%2B``), so a key used as
it arrives would miss the object for any name outside plain ASCII letters and digits.
Parsing lives here, away from any handler, so every S3-driven function decodes keys the
same way, and exactly once.

Powertools' event data classes give the structure. Their key properties are not used: the
notification record's returns the key as it arrives, the EventBridge detail's decodes it
(`S3Object.key` and `S3EventBridgeNotificationObject.key` in
https://github.com/aws-powertools/powertools-lambda-python/blob/v3.23.0/aws_lambda_powertools/utilities/data_classes/s3_event.py),
so the raw key of either shape is decoded here instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes import S3Event, S3EventBridgeNotificationEvent
from aws_lambda_powertools.utilities.data_classes.s3_event import S3EventRecord

from mlgw.pipeline.continuation import EVENT_KEY, Continuation


class UnsupportedEvent(ValueError):
    """The event is neither an S3 notification nor an EventBridge S3 event."""


@dataclass(frozen=True, slots=True)
class S3Object:
    """One created object, with its key already decoded."""

    bucket: str
    key: str
    size: int | None = None
    etag: str | None = None
    version_id: str | None = None
    sequencer: str | None = None
    continuation: Continuation | None = None


def created_objects(event: Mapping[str, Any]) -> list[S3Object]:
    """Every created object named by ``event``, in delivery order.

    Records of other kinds (removals, restores) and S3's ``s3:TestEvent`` yield nothing,
    because a trigger may be shared and S3 sends a test event when a configuration is
    saved; an event of an unknown shape raises, because silently ignoring it would hide
    a wiring mistake. A continuation event (a function handing the rest of an object to its
    next invocation, see continuation.py) names the one object it continues.
    """
    if EVENT_KEY in event:
        try:
            continuation = Continuation.from_event(event)
        except (KeyError, TypeError, ValueError) as exc:
            raise UnsupportedEvent(f"continuation event without {exc}") from None
        return [
            S3Object(
                continuation.bucket,
                continuation.key,
                etag=continuation.etag,
                version_id=continuation.version_id,
                continuation=continuation,
            )
        ]
    if "Records" in event:
        return [_from_record(record) for record in S3Event(event).records if _is_created_record(record)]
    if event.get("source") == "aws.s3" and "detail" in event:
        bridged = S3EventBridgeNotificationEvent(event)
        if bridged.detail_type != "Object Created":
            return []
        return [_from_eventbridge(bridged)]
    if event.get("Event") == "s3:TestEvent":
        return []
    raise UnsupportedEvent("expected an S3 notification (Records) or an EventBridge S3 event")


T = TypeVar("T")


@dataclass(slots=True)
class EventResults(Generic[T]):
    """What became of each object of one event: outcomes of those handled, and one line per
    object that raised, for the exception that fails the invocation."""

    outcomes: list[T] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def handle_each(
    event: Mapping[str, Any], handle: Callable[[S3Object], T], logger: Any, *, failure_message: str
) -> EventResults[T]:
    """Run `handle` on every created object, each in isolation: one object failing must not stop
    the others of the same event, which would otherwise wait for a retry of the whole event.
    Log lines inside carry the object's key (`s3_key`) as a correlation field."""
    results: EventResults[T] = EventResults()
    for obj in created_objects(event):
        logger.append_keys(s3_key=obj.key)
        try:
            results.outcomes.append(handle(obj))
        except Exception as exc:
            logger.exception(failure_message, extra={"error_type": type(exc).__name__})
            results.problems.append(f"{obj.key}: {type(exc).__name__}: {exc}")
        finally:
            logger.remove_keys(["s3_key"])
    return results


def _is_created_record(record: S3EventRecord) -> bool:
    return record.get("eventSource") == "aws:s3" and str(record.get("eventName", "")).startswith(
        "ObjectCreated:"
    )


def _from_record(record: S3EventRecord) -> S3Object:
    try:
        message = record.s3
        obj = message.get_object
        return S3Object(
            bucket=message.bucket.name,
            key=_decoded(obj["key"]),
            size=_opt_int(obj.get("size")),
            etag=obj.get("eTag"),
            version_id=obj.version_id,
            sequencer=obj.get("sequencer"),
        )
    except (KeyError, TypeError) as exc:
        raise UnsupportedEvent(f"S3 notification record without {exc}") from None


def _from_eventbridge(event: S3EventBridgeNotificationEvent) -> S3Object:
    try:
        detail = event.detail
        obj = detail.object
        return S3Object(
            bucket=detail.bucket.name,
            key=_decoded(obj["key"]),
            size=_opt_int(obj.get("size")),
            etag=obj.get("etag"),
            version_id=obj.get("version-id"),
            sequencer=obj.get("sequencer"),
        )
    except (KeyError, TypeError) as exc:
        raise UnsupportedEvent(f"EventBridge S3 event without {exc}") from None


def _decoded(raw: str) -> str:
    return unquote_plus(raw, encoding="utf-8")


def _opt_int(value: Any) -> int | None:
    return int(value) if value is not None else None
