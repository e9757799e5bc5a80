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
from botocore.exceptions import ClientError
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


def test_a_move_above_the_single_copy_limit_copies_in_parts_conditional_on_the_etag(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an object above the (lowered) single-copy limit, moved in 5 MiB parts
    monkeypatch.setattr(objects, "SINGLE_COPY_MAX_BYTES", 1024 * 1024)
    monkeypatch.setattr(objects, "MOVE_PART_BYTES", 5 * 1024 * 1024)
    body = bytes(range(256)) * (11 * 4096)  # 11 MiB: three parts
    etag = s3.put_object(Bucket=BUCKET, Key=KEY, Body=body, ContentType="text/csv", Metadata={"a": "b"})[
        "ETag"
    ]
    calls: list[str] = []

    class Recording:
        def __getattr__(self, name: str) -> Any:
            calls.append(name)
            return getattr(s3, name)

    # When it is moved
    moved = objects.move(Recording(), InputFile(BUCKET, KEY, "x", etag), "failed/labels.csv", LOG)

    # Then it arrived whole through UploadPartCopy, never through CopyObject, and the source is gone
    assert moved
    assert "copy_object" not in calls
    assert calls.count("upload_part_copy") == 3
    copied = s3.get_object(Bucket=BUCKET, Key="failed/labels.csv")
    assert copied["Body"].read() == body
    assert (copied["ContentType"], copied["Metadata"]) == ("text/csv", {"a": "b"})
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=KEY)


def test_a_multipart_move_of_a_replaced_input_leaves_the_newer_version(
    s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(objects, "SINGLE_COPY_MAX_BYTES", 1024 * 1024)
    monkeypatch.setattr(objects, "MOVE_PART_BYTES", 5 * 1024 * 1024)
    old = s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"x" * (6 * 1024 * 1024))["ETag"]
    s3.put_object(Bucket=BUCKET, Key=KEY, Body=b"y" * (6 * 1024 * 1024))

    class PartCopyIfMatch:
        """moto 5 ignores CopySourceIfMatch on UploadPartCopy; S3 answers 412 when the source's
        ETag differs (https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html)."""

        def __getattr__(self, name: str) -> Any:
            return getattr(s3, name)

        def upload_part_copy(self, **kwargs: Any) -> Any:
            current = s3.head_object(Bucket=BUCKET, Key=KEY)["ETag"]
            if kwargs.get("CopySourceIfMatch") != current:
                raise ClientError({"Error": {"Code": "PreconditionFailed"}}, "UploadPartCopy")
            return s3.upload_part_copy(**kwargs)

    assert not objects.move(PartCopyIfMatch(), InputFile(BUCKET, KEY, "x", old), "failed/labels.csv", LOG)

    assert s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read(1) == b"y"
    assert "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix="failed/")
