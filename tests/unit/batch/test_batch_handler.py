"""The batch prediction function end to end: canonical events in, objects in moto S3 out, every
model call answered by a real local SageMaker-runtime-compatible server."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
from batch_fake_model import Failure, FakeSageMakerRuntime
from batch_helpers import ERRORS, INPUT, OUTPUT, Harness, csv_rows, expected, load_event, notification

from mlgw.pipeline.events import S3Object


def test_csv_rows_are_scored_in_batches_and_written_in_input_order(harness: Harness) -> None:
    # Given 1,000 rows, batches of 50 and four workers against a model that takes a while
    harness.model.delay = 0.005
    harness.configure(concurrency=4)
    etag = harness.put(f"{INPUT}scores.csv", "id,x,y\n" + "\n".join(csv_rows(1000)) + "\n")

    result = harness.run(notification(f"{INPUT}scores.csv"))

    # Then 20 calls of 50 rows scored every row, and the output keeps the input order
    assert result["results"][0]["status"] == "predicted"
    assert [call.rows for call in harness.model.calls] == [50] * 20
    rows = harness.output_rows("scores.csv")
    assert rows[0] == "id,x,y,prediction"
    assert rows[1:] == [f"{line},{expected(i)}" for i, line in enumerate(csv_rows(1000), start=1)]
    # The id column passes through but is not a feature; each call carries its first row's id
    assert sorted(call.inference_id for call in harness.model.calls) == sorted(
        f"id-{first}" for first in range(1, 1001, 50)
    )
    assert {call.content_type for call in harness.model.calls} == {"text/csv"}
    assert harness.metadata(f"{OUTPUT}scores.csv") == {
        "source-etag": etag,
        "source-version-id": "",
        "model-route": "default",
        "rows": "1000",
        "error-rows": "0",
    }
    report = harness.report("scores.csv")
    assert (report["status"], report["rows"], report["errorRows"], report["modelCalls"]) == (
        "completed",
        1000,
        0,
        20,
    )
    assert harness.text(f"{ERRORS}scores.csv.errors.jsonl") == ""


def test_a_multi_megabyte_file_is_streamed_and_its_output_uploaded_in_parts(harness: Harness) -> None:
    # Given a ~14 MB file and 5 MiB output parts, so the output goes up as a multipart upload
    harness.configure(batch_size=2000, part_size_mb=5, concurrency=8)
    count = 200_000
    padding = "p" * 40
    lines = [f"{row},{padding}" for row in csv_rows(count)]
    harness.put(f"{INPUT}big/large.csv", "id,x,y,pad\n" + "\n".join(lines) + "\n")
    harness.configure(feature_columns=["x", "y"])

    result = harness.run(notification(f"{INPUT}big/large.csv"))

    assert result["results"][0]["rows"] == count
    output = harness.get(f"{OUTPUT}big/large.csv")
    assert len(output) > 10 * 1024 * 1024
    rows = output.decode().splitlines()
    assert len(rows) == count + 1
    assert rows[-1] == f"id-{count},{count},{count * 0.5},{padding},{expected(count)}"
    # The final metadata (row count) reached the multipart output through the self-copy
    assert harness.metadata(f"{OUTPUT}big/large.csv")["rows"] == str(count)
    assert harness.s3.list_multipart_uploads(Bucket="batch-bucket").get("Uploads", []) == []


def test_json_lines_records_get_a_prediction_and_keep_every_key(harness: Harness) -> None:
    # Given a JSON Lines object named without a suffix, recognised by its content type
    lines = [
        json.dumps({"id": f"r{i}", "x": i, "y": 2 * i, "note": "é"}, ensure_ascii=False) for i in range(1, 6)
    ]
    harness.put(f"{INPUT}export-0001", "\n".join(lines) + "\n", ContentType="application/x-ndjson")
    harness.configure(feature_columns=["x", "y"], route={"endpoint_name": "e"})

    harness.run(notification(f"{INPUT}export-0001"))

    out = [json.loads(line) for line in harness.output_rows("export-0001")]
    assert out == [
        {"id": f"r{i}", "x": i, "y": 2 * i, "note": "é", "prediction": 3.0 * i} for i in range(1, 6)
    ]
    # A JSON model receives {"instances": [...]} of the feature columns only
    assert [call.content_type for call in harness.model.calls] == ["application/json"]


def test_a_duplicate_event_for_the_same_version_is_skipped(harness: Harness) -> None:
    harness.put(f"{INPUT}dup.csv", "id,x,y\n" + "\n".join(csv_rows(10)) + "\n")
    harness.run(notification(f"{INPUT}dup.csv"))
    calls = len(harness.model.calls)

    again = harness.run(notification(f"{INPUT}dup.csv"))

    assert again["results"][0]["status"] == "duplicate"
    assert len(harness.model.calls) == calls


def test_a_reupload_with_new_content_is_processed_again_and_replaces_the_output(harness: Harness) -> None:
    harness.put(f"{INPUT}daily.csv", "id,x,y\n" + "\n".join(csv_rows(3)) + "\n")
    harness.run(notification(f"{INPUT}daily.csv"))

    etag = harness.put(f"{INPUT}daily.csv", "id,x,y\n" + "\n".join(csv_rows(2, start=10)) + "\n")
    result = harness.run(notification(f"{INPUT}daily.csv"))

    assert result["results"][0]["status"] == "predicted"
    assert harness.output_rows("daily.csv")[1:] == [
        f"id-10,10,5.0,{expected(10)}",
        f"id-11,11,5.5,{expected(11)}",
    ]
    assert harness.metadata(f"{OUTPUT}daily.csv")["source-etag"] == etag


def test_a_partial_output_without_a_row_count_does_not_count_as_done(harness: Harness) -> None:
    # An output carrying the source ETag but no row count is what a run that died between
    # completing the upload and writing the final metadata leaves behind
    etag = harness.put(f"{INPUT}half.csv", "id,x,y\n" + "\n".join(csv_rows(2)) + "\n")
    harness.s3.put_object(
        Bucket="batch-bucket", Key=f"{OUTPUT}half.csv", Body=b"partial", Metadata={"source-etag": etag}
    )

    result = harness.run(notification(f"{INPUT}half.csv"))

    assert result["results"][0]["status"] == "predicted"
    assert len(harness.output_rows("half.csv")) == 3


@pytest.mark.parametrize(
    "event_name", ["s3_batch_object_created.json", "eventbridge_batch_object_created.json"]
)
def test_encoded_keys_from_both_event_shapes_are_decoded(harness: Harness, event_name: str) -> None:
    # The canonical events carry "daily scores+v2 é.csv" URL-encoded (space as +, + as %2B)
    key = f"{INPUT}daily scores+v2 é.csv"
    harness.put(key, "id,x,y\n" + "\n".join(csv_rows(2)) + "\n")
    harness.put(f"{INPUT}2024/06/records.jsonl", json.dumps({"id": "a", "x": 1, "y": 2}) + "\n")

    result = harness.run(load_event(event_name))

    assert all(outcome["status"] == "predicted" for outcome in result["results"])
    assert harness.output_rows("daily scores+v2 é.csv")[1] == f"id-1,1,0.5,{expected(1)}"
    if event_name.startswith("s3_"):
        assert json.loads(harness.output_rows("2024/06/records.jsonl")[0])["prediction"] == 3.0


def test_an_empty_file_gets_an_empty_output_and_no_model_call(harness: Harness) -> None:
    harness.put(f"{INPUT}empty.csv", b"")

    result = harness.run(notification(f"{INPUT}empty.csv"))

    assert result["results"][0]["status"] == "predicted"
    assert harness.get(f"{OUTPUT}empty.csv") == b""
    assert harness.metadata(f"{OUTPUT}empty.csv")["rows"] == "0"
    assert harness.model.calls == []


def test_a_header_only_file_gets_the_output_header_and_no_model_call(harness: Harness) -> None:
    harness.put(f"{INPUT}header.csv", "id,x,y\r\n")

    harness.run(notification(f"{INPUT}header.csv"))

    assert harness.text(f"{OUTPUT}header.csv") == "id,x,y,prediction\n"
    assert harness.report("header.csv")["rows"] == 0
    assert harness.model.calls == []


def test_bom_and_crlf_are_read_like_plain_utf8(harness: Harness) -> None:
    # Without BOM handling the first column would be "\ufeffid" and the id column missing
    harness.put(f"{INPUT}excel.csv", b"\xef\xbb\xbfid,x,y\r\nid-1,1,0.5\r\n\r\nid-2,2,1.0\r\n")

    harness.run(notification(f"{INPUT}excel.csv"))

    assert harness.text(f"{OUTPUT}excel.csv") == "id,x,y,prediction\nid-1,1,0.5,1.5\nid-2,2,1.0,3.0\n"


def test_a_very_long_line_is_one_row_error_and_memory_is_not_spent_on_it(harness: Harness) -> None:
    harness.configure(max_record_bytes=4096)
    long_line = "id-x," + "9" * (3 * 1024 * 1024) + ",1"
    body = "id,x,y\n" + "\n".join([*csv_rows(2), long_line, *csv_rows(2, start=3)]) + "\n"
    harness.put(f"{INPUT}long.csv", body)

    harness.run(notification(f"{INPUT}long.csv"))

    assert len(harness.output_rows("long.csv")) == 5
    [error] = harness.errors("long.csv")
    assert (error["row"], error["line"], error["code"]) == (3, 4, "RecordTooLarge")
    assert len(error["original"]) <= 1025


def test_bytes_that_are_not_utf8_become_a_row_error_not_a_crash(harness: Harness) -> None:
    harness.put(f"{INPUT}latin1.csv", "id,x,y\nid-1,1,1\nid-2,caf\xe9,1\nid-3,3,1\n".encode("latin-1"))

    result = harness.run(notification(f"{INPUT}latin1.csv"))

    assert result["results"][0]["rows"] == 2
    [error] = harness.errors("latin1.csv")
    assert (error["row"], error["code"], error["original"]) == (2, "NotUtf8", "id-2,caf\\xe9,1")


def test_malformed_csv_rows_go_to_the_error_object_with_row_line_and_reason(harness: Harness) -> None:
    body = 'id,x,y\nid-1,1,1\nid-2,1\nid-3,"a"b,1\n"id-4","multi\nline",1\nid-5,5,"unclosed\n'
    harness.put(f"{INPUT}bad.csv", body)

    harness.run(notification(f"{INPUT}bad.csv"))

    assert harness.output_rows("bad.csv") == [
        "id,x,y,prediction",
        "id-1,1,1,2.0",
        '"id-4","multi',
        'line",1,1.0',
    ]
    errors = {
        error["row"]: (error["line"], error["code"], error["original"]) for error in harness.errors("bad.csv")
    }
    assert errors == {
        2: (3, "WrongFieldCount", "id-2,1"),
        3: (4, "MalformedCsv", 'id-3,"a"b,1'),
        5: (7, "MalformedCsv", 'id-5,5,"unclosed'),
    }
    assert harness.report("bad.csv")["errorCodes"] == {"MalformedCsv": 2, "WrongFieldCount": 1}


def test_malformed_json_lines_go_to_the_error_object(harness: Harness) -> None:
    body = '{"id": "a", "x": 1}\nnot json\n[1, 2]\n{"id": "b", "x": {"nested": 1}}\n{"id": "c", "x": 2}\n'
    harness.put(f"{INPUT}bad.jsonl", body)

    harness.run(notification(f"{INPUT}bad.jsonl"))

    assert [json.loads(row)["id"] for row in harness.output_rows("bad.jsonl")] == ["a", "c"]
    codes = [(error["row"], error["code"]) for error in harness.errors("bad.jsonl")]
    assert codes == [(2, "MalformedJson"), (3, "InvalidRecord"), (4, "InvalidRecord")]


def test_a_model_error_for_one_batch_rejects_only_the_rows_the_model_refuses(harness: Harness) -> None:
    # Given a batch of 50 in which one row makes the model answer with an error
    rows = csv_rows(120)
    rows[60] = "id-61,REJECT,1"
    harness.put(f"{INPUT}one-bad.csv", "id,x,y\n" + "\n".join(rows) + "\n")

    result = harness.run(notification(f"{INPUT}one-bad.csv"))

    # Then the batch is split until the refused row stands alone; every other row is predicted
    assert result["results"][0]["rows"] == 119
    [error] = harness.errors("one-bad.csv")
    assert (error["row"], error["code"], error["original"]) == (61, "ModelError", "id-61,REJECT,1")
    assert "status 400" in error["reason"]
    out = harness.output_rows("one-bad.csv")
    assert "id-61" not in "".join(out)
    assert out[61] == f"id-62,62,31.0,{expected(62)}"


def test_without_isolation_budget_the_whole_refused_batch_is_rejected(harness: Harness) -> None:
    harness.configure(isolation_calls=0)
    rows = csv_rows(120)
    rows[60] = "id-61,REJECT,1"
    harness.put(f"{INPUT}no-split.csv", "id,x,y\n" + "\n".join(rows) + "\n")

    result = harness.run(notification(f"{INPUT}no-split.csv"))

    assert result["results"][0]["status"] == "predicted"
    assert [error["row"] for error in harness.errors("no-split.csv")] == list(range(51, 101))
    assert len(harness.model.calls) == 3


@pytest.mark.parametrize(
    "failure",
    [
        Failure(400, "ThrottlingException"),
        Failure(429, "ModelNotReadyException"),
        Failure(503, "ServiceUnavailable"),
    ],
    ids=["throttled", "not-ready", "unavailable"],
)
def test_throttling_and_model_not_ready_are_retried_with_backoff(harness: Harness, failure: Failure) -> None:
    harness.model.fail(failure, failure)
    harness.put(f"{INPUT}retry.csv", "id,x,y\n" + "\n".join(csv_rows(10)) + "\n")

    result = harness.run(notification(f"{INPUT}retry.csv"))

    assert result["results"][0]["rows"] == 10
    assert result["results"][0]["model_calls"] == 3


def test_an_endpoint_that_is_down_fails_the_invocation_and_leaves_no_output(harness: Harness) -> None:
    # Given an endpoint that does not exist, while a second file of the same event is fine
    harness.put(f"{INPUT}a.csv", "id,x,y\n" + "\n".join(csv_rows(200)) + "\n")
    harness.put(f"{INPUT}b.csv", "id,x,y\n" + "\n".join(csv_rows(2)) + "\n")
    harness.model.always = Failure(400, "ValidationError", {"message": "Endpoint churn-prod not found."})
    handler = harness.handler()

    with pytest.raises(handler.BatchPredictionError, match="1 object"):
        handler.lambda_handler(notification(f"{INPUT}a.csv", f"{INPUT}zz-not-there.csv"), harness.context)

    assert not harness.exists(f"{OUTPUT}a.csv")
    report = harness.report("a.csv")
    assert report["status"] == "failed"
    assert "BackendRejected" in report["reason"]
    assert harness.s3.list_multipart_uploads(Bucket="batch-bucket").get("Uploads", []) == []


def test_a_failure_after_parts_were_uploaded_aborts_the_multipart_uploads(harness: Harness) -> None:
    # Given 5 MiB parts and an endpoint that disappears near the end of a ~8 MB file
    harness.configure(batch_size=1000, part_size_mb=5, concurrency=1)
    rows = [f"{row},{'p' * 40}" for row in csv_rows(120_000)]
    rows[-10] = "id-x,VANISH,1," + "p" * 40
    harness.put(f"{INPUT}vanish.csv", "id,x,y,pad\n" + "\n".join(rows) + "\n")
    harness.configure(feature_columns=["x", "y"])
    handler = harness.handler()

    with pytest.raises(handler.BatchPredictionError, match="BackendRejected"):
        handler.lambda_handler(notification(f"{INPUT}vanish.csv"), harness.context)

    # Then no part is left behind, and neither output nor error object exists
    assert harness.s3.list_multipart_uploads(Bucket="batch-bucket").get("Uploads", []) == []
    assert not harness.exists(f"{OUTPUT}vanish.csv")
    assert not harness.exists(f"{ERRORS}vanish.csv.errors.jsonl")
    assert harness.report("vanish.csv")["status"] == "failed"


def test_throttling_that_outlasts_the_retries_is_a_systemic_failure(harness: Harness) -> None:
    harness.configure(batch_retry={"attempts": 2})
    harness.model.always = Failure(400, "ThrottlingException")
    harness.put(f"{INPUT}slow.csv", "id,x,y\n" + "\n".join(csv_rows(3)) + "\n")
    handler = harness.handler()

    with pytest.raises(handler.BatchPredictionError, match="Throttled"):
        handler.lambda_handler(notification(f"{INPUT}slow.csv"), harness.context)
    assert len(harness.model.calls) == 2


@pytest.mark.parametrize("key", [f"{OUTPUT}scores.csv", f"{ERRORS}scores.csv.report.json", "elsewhere/x.csv"])
def test_keys_outside_the_input_prefix_are_refused_to_prevent_loops(harness: Harness, key: str) -> None:
    harness.put(key, "id,x,y\nid-1,1,1\n")

    result = harness.run(notification(key))

    assert result["results"][0]["status"] == "refused"
    loop = key.startswith((OUTPUT, ERRORS))
    assert ("refusing to loop" in result["results"][0]["detail"]["reason"]) is loop
    assert harness.model.calls == []
    assert not harness.exists(f"{OUTPUT}{OUTPUT}")


def test_a_file_of_another_type_is_rejected_with_a_report(harness: Harness) -> None:
    harness.put(f"{INPUT}notes.txt", "hello", ContentType="text/plain")

    result = harness.run(notification(f"{INPUT}notes.txt"))

    assert result["results"][0]["status"] == "rejected"
    assert harness.report("notes.txt")["status"] == "rejected"


def test_a_header_without_the_configured_columns_rejects_the_file(harness: Harness) -> None:
    harness.configure(feature_columns=["x", "z"])
    harness.put(f"{INPUT}cols.csv", "id,x,y\nid-1,1,1\n")

    result = harness.run(notification(f"{INPUT}cols.csv"))

    assert result["results"][0]["status"] == "rejected"
    assert "lacks column(s) z" in harness.report("cols.csv")["reason"]
    assert not harness.exists(f"{OUTPUT}cols.csv")


def test_headerless_csv_names_columns_by_position(harness: Harness) -> None:
    harness.configure(csv_header=False, id_column="3", prediction_columns=["score"])
    harness.put(f"{INPUT}plain.csv", "1,2,a\n3,4,b\n")

    harness.run(notification(f"{INPUT}plain.csv"))

    assert harness.output_rows("plain.csv") == ["1,2,a,3.0", "3,4,b,7.0"]
    assert sorted(call.inference_id or "" for call in harness.model.calls) == ["a"]


def test_invalid_settings_fail_every_invocation_naming_the_variable(
    harness: Harness, model: FakeSageMakerRuntime
) -> None:
    harness.configure(output_prefix="batch/in/out/")

    with pytest.raises(ValueError, match=r"MLGW_SETTINGS\.output_prefix"):
        harness.run(notification(f"{INPUT}x.csv"))
    assert model.calls == []


def test_on_a_versioned_bucket_the_version_is_recorded_and_the_read_pinned_by_etag(harness: Harness) -> None:
    # Reading by VersionId would need s3:GetObjectVersion; IfMatch on the ETag needs nothing more
    harness.s3.put_bucket_versioning(Bucket="batch-bucket", VersioningConfiguration={"Status": "Enabled"})
    etag = harness.put(f"{INPUT}v.csv", "id,x,y\n" + "\n".join(csv_rows(2)) + "\n")
    version = harness.s3.head_object(Bucket="batch-bucket", Key=f"{INPUT}v.csv")["VersionId"]
    predictor = harness.predictor()
    reads: list[dict[str, Any]] = []
    harness.s3.meta.events.register(
        "provide-client-params.s3.GetObject", lambda params, **_: reads.append(params)
    )

    outcome = predictor.process(S3Object("batch-bucket", f"{INPUT}v.csv"), harness.invocation())

    assert outcome.status == "predicted"
    assert [(read["IfMatch"], "VersionId" in read) for read in reads] == [(etag, False)]
    assert harness.metadata(f"{OUTPUT}v.csv")["source-version-id"] == version


def test_a_403_on_the_output_means_no_output_yet(harness: Harness) -> None:
    # Without s3:ListBucket for the request, S3 answers HEAD of a missing key with 403
    harness.put(f"{INPUT}denied.csv", "id,x,y\n" + "\n".join(csv_rows(2)) + "\n")
    predictor = harness.predictor()

    def forbid_output_head(params: dict[str, Any], **_: Any) -> Any:
        if f"/{OUTPUT}" in params["url_path"]:
            error = {
                "Error": {"Code": "403", "Message": "Forbidden"},
                "ResponseMetadata": {"HTTPStatusCode": 403},
            }
            return SimpleNamespace(status_code=403), error
        return None

    harness.s3.meta.events.register("before-call.s3.HeadObject", forbid_output_head)

    outcome = predictor.process(S3Object("batch-bucket", f"{INPUT}denied.csv"), harness.invocation())

    assert (outcome.status, outcome.rows) == ("predicted", 2)
