import pytest
from actuals_helpers import load_event

from mlgw.pipeline.events import S3Object, UnsupportedEvent, created_objects

DECODED = "upload_actuals/5f0c1f2e3d4c5b6a79881234/daily actuals+v2 é.csv"


def test_notification_with_several_records_decodes_every_key() -> None:
    objects = created_objects(load_event("s3_actuals_object_created.json"))

    assert [obj.key for obj in objects] == [DECODED, "upload_actuals/5f0c1f2e3d4c5b6a79881234/2024-06-01.csv"]
    assert objects[0] == S3Object(
        bucket="actuals-bucket",
        key=DECODED,
        size=120,
        etag="d41d8cd98f00b204e9800998ecf8427e",
        sequencer="0A1B2C3D4E5F678901",
    )


def test_eventbridge_object_created_decodes_the_key() -> None:
    (obj,) = created_objects(load_event("eventbridge_actuals_object_created.json"))

    assert (obj.bucket, obj.key, obj.size) == ("actuals-bucket", DECODED, 120)


def test_records_that_are_not_creations_are_skipped() -> None:
    event = load_event("s3_actuals_object_created.json")
    event["Records"][0]["eventName"] = "ObjectRemoved:Delete"

    assert [obj.key for obj in created_objects(event)] == [
        "upload_actuals/5f0c1f2e3d4c5b6a79881234/2024-06-01.csv"
    ]


def test_other_eventbridge_s3_events_and_the_test_event_yield_nothing() -> None:
    event = load_event("eventbridge_actuals_object_created.json")
    event["detail-type"] = "Object Deleted"

    assert created_objects(event) == []
    assert created_objects({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "b"}) == []


@pytest.mark.parametrize(
    "event",
    [{"foo": "bar"}, {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "s3": {}}]}],
)
def test_unknown_or_broken_events_raise(event: dict) -> None:
    with pytest.raises(UnsupportedEvent):
        created_objects(event)
