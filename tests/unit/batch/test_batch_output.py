"""The streaming S3 writer and the shape of output rows."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mlgw.batch.output import (
    PredictionShape,
    S3ObjectWriter,
    csv_header,
    csv_row,
    csv_rows,
    jsonl_row,
    prediction_cells,
)
from mlgw.batch.records import CsvLayout, Record

MIB = 1024 * 1024


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="out-bucket")
        yield client


def calls(client: Any) -> list[str]:
    seen: list[str] = []
    client.meta.events.register("before-call.s3.*", lambda model, **_: seen.append(model.name))
    return seen


def test_a_large_output_goes_up_in_parts_and_gets_its_final_metadata(s3: Any) -> None:
    seen = calls(s3)
    writer = S3ObjectWriter(
        s3,
        "out-bucket",
        "out/a.csv",
        part_bytes=5 * MIB,
        content_type="text/csv",
        metadata={"source-etag": "e"},
    )
    chunk = b"x" * MIB
    for _ in range(12):
        writer.write(chunk)
    writer.close({"rows": "12"})

    assert seen == [
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPart",
        "UploadPart",
        "CompleteMultipartUpload",
        "CopyObject",
    ]
    head = s3.head_object(Bucket="out-bucket", Key="out/a.csv")
    assert (head["ContentLength"], head["Metadata"]) == (12 * MIB, {"source-etag": "e", "rows": "12"})
    assert head["ContentType"] == "text/csv"


def test_a_small_output_is_one_put_and_an_aborted_one_leaves_nothing(s3: Any) -> None:
    seen = calls(s3)
    small = S3ObjectWriter(
        s3, "out-bucket", "out/s.csv", part_bytes=5 * MIB, content_type="text/csv", metadata={}
    )
    small.write(b"a,1\n")
    small.close({"rows": "1"})
    aborted = S3ObjectWriter(
        s3, "out-bucket", "out/b.csv", part_bytes=5 * MIB, content_type="text/csv", metadata={}
    )
    aborted.write(b"x" * 6 * MIB)
    aborted.abort()

    assert seen == ["PutObject", "CreateMultipartUpload", "UploadPart", "AbortMultipartUpload"]
    assert s3.list_multipart_uploads(Bucket="out-bucket").get("Uploads", []) == []
    assert [item["Key"] for item in s3.list_objects_v2(Bucket="out-bucket")["Contents"]] == ["out/s.csv"]


def test_prediction_cells_fit_the_configured_columns() -> None:
    assert prediction_cells(0.5, ["p"]) == ["0.5"]
    assert prediction_cells([0.5], ["p"]) == ["0.5"]
    assert prediction_cells({"label": "a", "p": 0.9}, ["p"]) == ['{"label":"a","p":0.9}']
    assert prediction_cells([0.1, 0.9], ["no", "yes"]) == ["0.1", "0.9"]
    assert prediction_cells({"yes": 0.9, "no": 0.1}, ["no", "yes"]) == ["0.1", "0.9"]
    with pytest.raises(PredictionShape):
        prediction_cells([0.1], ["no", "yes"])


def test_rows_keep_their_original_text_and_values_are_quoted_when_needed() -> None:
    layout = CsvLayout(("id", "note, with comma"), 2, (1,), 0)
    assert csv_header(layout, ["prediction"]) == b'id,"note, with comma",prediction\n'
    assert csv_header(None, ["prediction"]) == b""
    row = Record(1, 2, '7,"a, b"', ["a, b"], "7")
    assert csv_row(row, "x,y", ["prediction"]) == b'7,"a, b","x,y"\n'
    doc = Record(1, 1, "{}", {}, None, {"id": 1, "prediction": "old"})
    assert jsonl_row(doc, [1, 2]) == b'{"id":1,"prediction":[1,2]}\n'


def test_numbers_kept_as_text_are_written_as_the_model_wrote_them() -> None:
    # Given predictions of a JSON answer read with fractional numbers kept as their text
    texts = ["a,1", "b,2", "c,3"]
    predictions = ["0.50", 7, "1E2"]
    # When the rows are written together, or one by one
    data, failed = csv_rows(texts, predictions, ["p"])
    one_by_one = b"".join(
        csv_row(Record(row, row + 1, text, [], None), prediction, ["p"])
        for row, (text, prediction) in enumerate(zip(texts, predictions, strict=True), start=1)
    )
    # Then each number is the model's own text, the same both ways
    assert (data, failed) == (b"a,1,0.50\nb,2,7\nc,3,1E2\n", [])
    assert one_by_one == data
