"""Moving and deleting a processed input never removes a newer version uploaded meanwhile.

moto 5.2.5 evaluates If-Match on DeleteObject (412 PreconditionFailed for another ETag), as S3's
conditional deletes do (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-deletes.html),
so both the happy path and the replaced-meanwhile path run against moto.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlgw.pipeline import objects
from mlgw.pipeline.objects import InputFile

BUCKET = "churn-data"
KEY = "actuals/in/5f1e0d2c3b4a596877665544/labels.csv"
LOG = logging.getLogger("test")


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


class UploadsAfterCopy:
    """An S3 client on which a newer version of the key is uploaded right after the copy: the
    window between a move's copy and its delete."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def __getattr__(self, name: str) -> Any:
        return getattr(self._s3, name)

    def copy_object(self, **kwargs: Any) -> Any:
        copied = self._s3.copy_object(**kwargs)
        self._s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"id,actual\nnewer,1\n")
        return copied


def processed(s3: Any) -> InputFile:
    etag = s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"id,actual\nolder,0\n")["ETag"]
    return InputFile(BUCKET, KEY, "5f1e0d2c3b4a596877665544/labels.csv", etag)


def body(s3: Any, key: str) -> bytes:
    return bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())


def test_a_move_removes_the_input_it_processed(s3: Any) -> None:
    source = processed(s3)
    assert objects.move(s3, source, "actuals/processed/labels.csv", LOG) is True
    assert body(s3, "actuals/processed/labels.csv") == b"id,actual\nolder,0\n"
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=KEY)


def test_a_move_leaves_a_newer_version_uploaded_after_its_copy(
    s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Given the processed version, replaced by a newer upload between the copy and the delete
    source = processed(s3)

    # When it is moved
    with caplog.at_level(logging.WARNING, logger="test"):
        kept = objects.move(UploadsAfterCopy(s3), source, "actuals/processed/labels.csv", LOG)

    # Then the processed version was copied, and the newer one is still there for its own event
    assert kept is False
    assert body(s3, "actuals/processed/labels.csv") == b"id,actual\nolder,0\n"
    assert body(s3, KEY) == b"id,actual\nnewer,1\n"
    assert "newer version is left" in caplog.text


def test_deleting_a_processed_input_spares_a_newer_version(s3: Any) -> None:
    source = processed(s3)
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"id,actual\nnewer,1\n")
    assert objects.delete_if_unchanged(s3, source, LOG) is False
    assert body(s3, KEY) == b"id,actual\nnewer,1\n"


def test_deleting_an_input_already_gone_is_done(s3: Any) -> None:
    source = processed(s3)
    s3.delete_object(Bucket=BUCKET, Key=KEY)
    assert objects.delete_if_unchanged(s3, source, LOG) is True
