"""The batch pipeline under faults: for every case, each input row ends up in the output or in the
errors object (or the invocation fails and leaves no output, for a retry), the input object is
kept, and the invocation succeeds or fails as it must."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest
from batch_fake_model import Failure, FakeSageMakerRuntime
from batch_helpers import BUCKET, ERRORS, INPUT, OUTPUT, Harness, csv_rows, expected, notification

from mlgw.backends.base import ModelResponse
from mlgw.backends.payload import Payload
from mlgw.batch.pipeline import BatchFailed
from mlgw.pipeline.events import S3Object

HEADER = "id,x,y\n"


def csv_file(rows: list[str]) -> str:
    return HEADER + "\n".join(rows) + "\n"


def ids_in_output(harness: Harness, relative_key: str) -> list[str]:
    return [line.split(",", 1)[0] for line in harness.output_rows(relative_key)[1:] if line.startswith("id-")]


def ids_in_errors(harness: Harness, relative_key: str) -> list[str]:
    return [error["original"].split(",", 1)[0] for error in harness.errors(relative_key)]


def assert_every_row_accounted(harness: Harness, relative_key: str, ids: list[str]) -> None:
    """Each input id is in the output or the errors object, exactly once, and the report's line
    counts add up to the physical lines of the input."""
    scored = ids_in_output(harness, relative_key)
    rejected = ids_in_errors(harness, relative_key)
    assert sorted(scored + rejected) == sorted(ids)
    report = harness.report(relative_key)
    assert report["rows"] == report["predictedRows"] + report["errorRows"]
    lines = report["lines"]
    assert lines["physical"] == lines["header"] + lines["blank"] + lines["continuation"] + report["rows"]


def assert_failed_for_a_retry(harness: Harness, relative_key: str, kind: str) -> None:
    """A failed invocation leaves no output, no unfinished upload, a `failed` report, and the input."""
    assert harness.exists(f"{INPUT}{relative_key}")
    assert not harness.exists(f"{OUTPUT}{relative_key}")
    assert not harness.exists(f"{ERRORS}{relative_key}.errors.jsonl")
    assert harness.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    report = harness.report(relative_key)
    assert report["status"] == "failed"
    assert kind in report["reason"]


def run_failing(harness: Harness, *keys: str) -> str:
    handler = harness.handler()
    with pytest.raises(handler.BatchPredictionError) as failure:
        handler.lambda_handler(notification(*keys), harness.context)
    return str(failure.value)


# Stray and unclosed quotes


def test_a_stray_quote_inside_an_unquoted_field_does_not_swallow_the_following_rows(harness: Harness) -> None:
    # Given a height written 5'11" (a quote inside an unquoted field) followed by 20,000 rows
    rows = ["id-0,5'11\",1", *csv_rows(20_000)]
    harness.put(f"{INPUT}heights.csv", csv_file(rows))

    result = harness.run(notification(f"{INPUT}heights.csv"))

    # Then the quote is a character of its field (RFC 4180 opens quotes at a field start only)
    assert result["results"][0]["status"] == "predicted"
    ids = [row.split(",", 1)[0] for row in rows]
    assert_every_row_accounted(harness, "heights.csv", ids)
    assert harness.errors("heights.csv") == []
    assert harness.output_rows("heights.csv")[1] == "id-0,5'11\",1,1.0"
    assert harness.report("heights.csv")["lines"]["physical"] == 20_002


def test_an_unclosed_quote_at_a_field_start_costs_only_its_own_line(harness: Harness) -> None:
    # Given a quoted field that is never closed, then more rows than a record may span
    rows = [*csv_rows(5), 'id-6,"unclosed,1', *csv_rows(3000, start=7)]
    harness.put(f"{INPUT}unclosed.csv", csv_file(rows))

    harness.run(notification(f"{INPUT}unclosed.csv"))

    # Then that line alone is an error, and reading resumes on the line after it
    ids = [row.split(",", 1)[0] for row in rows]
    assert_every_row_accounted(harness, "unclosed.csv", ids)
    [error] = harness.errors("unclosed.csv")
    assert (error["row"], error["line"], error["code"]) == (6, 7, "MalformedCsv")
    assert "not closed" in error["reason"]


def test_a_long_unclosed_quote_does_not_turn_into_record_too_large_for_the_rows_after_it(
    harness: Harness,
) -> None:
    # Given a 4 KiB record limit: the open quote reaches the byte limit before the line limit
    harness.configure(max_record_bytes=4096)
    rows = ['id-0,"open,1', *csv_rows(2000)]
    harness.put(f"{INPUT}window.csv", csv_file(rows))

    harness.run(notification(f"{INPUT}window.csv"))

    assert_every_row_accounted(harness, "window.csv", [row.split(",", 1)[0] for row in rows])
    assert [error["code"] for error in harness.errors("window.csv")] == ["MalformedCsv"]


def test_a_multi_line_record_that_does_not_parse_is_split_back_into_lines(harness: Harness) -> None:
    # Given a quote opened at a field start and closed two lines later by a stray quote
    rows = ['id-1,"a,1', "id-2,2,1", 'id-3,b"c,1', "id-4,4,1"]
    harness.put(f"{INPUT}split.csv", csv_file(rows))

    harness.run(notification(f"{INPUT}split.csv"))

    # Then only the line that opened the quote is rejected; the others are read on their own
    assert_every_row_accounted(harness, "split.csv", ["id-1", "id-2", "id-3", "id-4"])
    assert [(error["line"], error["code"]) for error in harness.errors("split.csv")] == [(2, "MalformedCsv")]


def test_a_valid_multi_line_record_counts_its_continuation_lines(harness: Harness) -> None:
    harness.put(f"{INPUT}multi.csv", 'id,note,y\nid-1,"two\nlines",1\n\nid-2,x,2\n')

    harness.run(notification(f"{INPUT}multi.csv"))

    assert harness.output_rows("multi.csv")[1:] == ['id-1,"two', 'lines",1,1.0', "id-2,x,2,2.0"]
    report = harness.report("multi.csv")
    assert report["lines"] == {"physical": 5, "header": 1, "blank": 1, "continuation": 1}
    assert report["rows"] == 2


# Malformed, empty, non-UTF-8 and rejected files


def test_malformed_rows_are_errors_and_the_rest_is_scored(harness: Harness) -> None:
    rows = ["id-1,1,1", "id-2,1", "id-3,1,1,1", 'id-4,"a"b,1', "id-5,5,1"]
    harness.put(f"{INPUT}malformed.csv", csv_file(rows))

    result = harness.run(notification(f"{INPUT}malformed.csv"))

    assert result["results"][0]["status"] == "predicted"
    assert_every_row_accounted(harness, "malformed.csv", [f"id-{n}" for n in range(1, 6)])
    assert harness.exists(f"{INPUT}malformed.csv")


def test_malformed_json_lines_including_deep_nesting_and_huge_integers_are_row_errors(
    harness: Harness,
) -> None:
    body = "\n".join(
        [
            '{"id": "id-1", "x": 1}',
            '{"id": "id-2", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
            '{"id": "id-3", "x": ' + "9" * 5000 + "}",
            '{"id": "id-4", "x": 4}',
        ]
    )
    harness.put(f"{INPUT}deep.jsonl", body + "\n")

    result = harness.run(notification(f"{INPUT}deep.jsonl"))

    assert result["results"][0]["status"] == "predicted"
    assert [json.loads(line)["id"] for line in harness.output_rows("deep.jsonl")] == ["id-1", "id-4"]
    assert [(error["row"], error["code"]) for error in harness.errors("deep.jsonl")] == [
        (2, "MalformedJson"),
        (3, "MalformedJson"),
    ]


@pytest.mark.parametrize(
    ("body", "rows"), [(b"", 0), (b"id,x,y\n", 0), (b"\n\n", 0)], ids=["empty", "header", "blank"]
)
def test_empty_and_header_only_files_complete_without_a_model_call(
    harness: Harness, body: bytes, rows: int
) -> None:
    harness.put(f"{INPUT}nothing.csv", body)

    result = harness.run(notification(f"{INPUT}nothing.csv"))

    assert result["results"][0]["status"] == "predicted"
    assert harness.report("nothing.csv")["rows"] == rows
    assert harness.model.calls == []
    assert harness.exists(f"{INPUT}nothing.csv")


def test_non_utf8_rows_are_errors_with_their_exact_line(harness: Harness) -> None:
    body = (HEADER + "id-1,1,1\nid-2,caf\xe9,1\n" + "\n".join(csv_rows(100, start=3)) + "\n").encode(
        "latin-1"
    )
    harness.put(f"{INPUT}latin.csv", body)

    harness.run(notification(f"{INPUT}latin.csv"))

    assert_every_row_accounted(harness, "latin.csv", [f"id-{n}" for n in range(1, 103)])
    [error] = harness.errors("latin.csv")
    assert (error["line"], error["code"]) == (3, "NotUtf8")


def emitted_metrics(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]


@pytest.mark.parametrize(
    ("key", "body", "env"),
    [
        ("latin-header.csv", "ïd,x,y\nid-1,1,1\n".encode("latin-1"), {}),
        ("no-id.csv", b"key,x,y\nid-1,1,1\n", {}),
        ("notes.txt", b"hello", {}),
    ],
    ids=["header-not-utf8", "missing-id-column", "unsupported-type"],
)
def test_a_rejected_file_is_counted_in_the_files_rejected_metric(
    harness: Harness, capsys: pytest.CaptureFixture[str], key: str, body: bytes, env: dict[str, Any]
) -> None:
    harness.configure(
        POWERTOOLS_SERVICE_NAME="batch_predict", POWERTOOLS_METRICS_NAMESPACE="MlGateway", **env
    )
    harness.put(f"{INPUT}{key}", body, ContentType="text/plain")
    capsys.readouterr()

    result = harness.run(notification(f"{INPUT}{key}"))

    # Then the invocation succeeds (no retry can help), the report says why, and a metric shows it
    assert result["results"][0]["status"] == "rejected"
    assert harness.report(key)["status"] == "rejected"
    assert harness.exists(f"{INPUT}{key}")
    [emf] = emitted_metrics(capsys.readouterr().out)
    [directive] = emf["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "MlGateway"
    assert directive["Dimensions"] == [["service"]]
    assert emf["service"] == "batch_predict"
    assert emf["FilesRejected"] == [1.0]
    assert "FilesRejected" in [metric["Name"] for metric in directive["Metrics"]]


def test_a_file_that_completes_emits_no_files_rejected(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    harness.put(f"{INPUT}fine.csv", csv_file(csv_rows(3)))
    capsys.readouterr()

    harness.run(notification(f"{INPUT}fine.csv"))

    [emf] = emitted_metrics(capsys.readouterr().out)
    assert "FilesRejected" not in emf


# Model failures


def test_model_5xx_on_some_calls_puts_only_those_rows_in_the_errors_object(harness: Harness) -> None:
    # Given two rows that make the container fail (original status 500) among 300
    rows = csv_rows(300)
    rows[10] = "id-11,CRASH,1"
    rows[200] = "id-201,CRASH,1"
    harness.put(f"{INPUT}some-5xx.csv", csv_file(rows))

    result = harness.run(notification(f"{INPUT}some-5xx.csv"))

    assert result["results"][0]["status"] == "predicted"
    assert_every_row_accounted(harness, "some-5xx.csv", [f"id-{n}" for n in range(1, 301)])
    assert sorted(ids_in_errors(harness, "some-5xx.csv")) == ["id-11", "id-201"]


def test_model_5xx_on_every_call_fails_the_invocation(harness: Harness) -> None:
    # Given a container that fails every call with a 500
    harness.model.always = Failure(424, "ModelError", {"OriginalStatusCode": 500})
    harness.put(f"{INPUT}all-5xx.csv", csv_file(csv_rows(1000)))

    message = run_failing(harness, f"{INPUT}all-5xx.csv")

    assert "ModelServerError" in message
    assert_failed_for_a_retry(harness, "all-5xx.csv", "ModelServerError")


def test_a_small_file_whose_only_call_fails_with_5xx_fails_the_invocation(harness: Harness) -> None:
    harness.configure(isolation_calls=0)
    harness.model.always = Failure(424, "ModelError", {"OriginalStatusCode": 503})
    harness.put(f"{INPUT}tiny.csv", csv_file(csv_rows(2)))

    run_failing(harness, f"{INPUT}tiny.csv")

    assert_failed_for_a_retry(harness, "tiny.csv", "ModelServerError")


@pytest.mark.parametrize("status", [502, 504, 500])
def test_gateway_errors_of_an_http_model_on_every_call_fail_the_invocation(
    harness: Harness, model: FakeSageMakerRuntime, status: int
) -> None:
    route = {"backend": "http", "url": f"{model.url}/endpoints/e/invocations", "content_type": "text/csv"}
    harness.configure(route=route)
    model.always = Failure(status, "Gateway")
    harness.put(f"{INPUT}gateway.csv", csv_file(csv_rows(400)))

    run_failing(harness, f"{INPUT}gateway.csv")

    assert_failed_for_a_retry(harness, "gateway.csv", "ModelServerError")


def test_a_model_refusing_every_row_with_a_4xx_still_completes_with_every_row_in_errors(
    harness: Harness,
) -> None:
    harness.model.always = Failure(424, "ModelError", {"OriginalStatusCode": 400})
    harness.put(f"{INPUT}all-4xx.csv", csv_file(csv_rows(120)))

    result = harness.run(notification(f"{INPUT}all-4xx.csv"))

    assert result["results"][0]["status"] == "predicted"
    assert_every_row_accounted(harness, "all-4xx.csv", [f"id-{n}" for n in range(1, 121)])


def test_throttling_that_clears_scores_every_row(harness: Harness) -> None:
    harness.model.fail(Failure(400, "ThrottlingException"), Failure(400, "ThrottlingException"))
    harness.put(f"{INPUT}throttled.csv", csv_file(csv_rows(100)))

    result = harness.run(notification(f"{INPUT}throttled.csv"))

    assert result["results"][0]["status"] == "predicted"
    assert_every_row_accounted(harness, "throttled.csv", [f"id-{n}" for n in range(1, 101)])


def test_throttling_that_does_not_clear_fails_the_invocation(harness: Harness) -> None:
    harness.configure(batch_retry={"attempts": 2})
    harness.model.always = Failure(400, "ThrottlingException")
    harness.put(f"{INPUT}throttled.csv", csv_file(csv_rows(100)))

    run_failing(harness, f"{INPUT}throttled.csv")

    assert_failed_for_a_retry(harness, "throttled.csv", "Throttled")


def test_a_model_timeout_fails_the_invocation(harness: Harness) -> None:
    harness.configure(model_call={"read_timeout_seconds": 0.2})
    harness.model.delay = 0.5
    harness.put(f"{INPUT}timeout.csv", csv_file(csv_rows(10)))

    run_failing(harness, f"{INPUT}timeout.csv")

    assert_failed_for_a_retry(harness, "timeout.csv", "Timeout")


def test_an_endpoint_gone_mid_file_fails_the_invocation(harness: Harness) -> None:
    rows = csv_rows(500)
    rows[300] = "id-301,VANISH,1"
    harness.put(f"{INPUT}gone.csv", csv_file(rows))

    run_failing(harness, f"{INPUT}gone.csv")

    assert_failed_for_a_retry(harness, "gone.csv", "BackendRejected")


# Events: encoded keys, duplicates, concurrency, versions


def test_url_encoded_keys_are_read_and_written_under_their_decoded_names(harness: Harness) -> None:
    key = "daily scores+v2 é/100%.csv"
    harness.put(f"{INPUT}{key}", csv_file(csv_rows(20)))

    result = harness.run(notification(f"{INPUT}{key}"))

    assert result["results"][0]["status"] == "predicted"
    assert_every_row_accounted(harness, key, [f"id-{n}" for n in range(1, 21)])


def test_a_duplicate_event_scores_nothing_again(harness: Harness) -> None:
    harness.put(f"{INPUT}twice.csv", csv_file(csv_rows(20)))

    first = harness.run(notification(f"{INPUT}twice.csv", f"{INPUT}twice.csv"))

    assert [outcome["status"] for outcome in first["results"]] == ["predicted", "duplicate"]
    assert len(harness.model.calls) == 1
    assert_every_row_accounted(harness, "twice.csv", [f"id-{n}" for n in range(1, 21)])


def test_concurrent_invocations_for_the_same_version_write_the_same_complete_output(harness: Harness) -> None:
    harness.model.delay = 0.02
    harness.put(f"{INPUT}together.csv", csv_file(csv_rows(200)))
    predictors = [harness.predictor(), harness.predictor()]
    outcomes: list[str] = []

    def run(index: int) -> None:
        outcome = predictors[index].process(S3Object(BUCKET, f"{INPUT}together.csv"), harness.invocation())
        outcomes.append(outcome.status)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert set(outcomes) <= {"predicted", "duplicate"}
    assert_every_row_accounted(harness, "together.csv", [f"id-{n}" for n in range(1, 201)])
    assert harness.output_rows("together.csv")[200] == f"id-200,200,100.0,{expected(200)}"


class _UploadsANewVersionMidFile:
    """A backend that, on its first call, lets a new version of the input be uploaded and fully
    scored by another invocation before answering: the older run is still streaming when the
    newer one finishes."""

    def __init__(self, inner: Any, on_first_call: Any) -> None:
        self._inner = inner
        self._on_first_call = on_first_call
        self._done = False

    def predict(self, payload: Payload, *, inference_id: str) -> ModelResponse:
        if not self._done:
            self._done = True
            self._on_first_call()
        return self._inner.predict(payload, inference_id=inference_id)


@pytest.mark.parametrize("versioned", [False, True], ids=["unversioned", "versioned"])
def test_an_older_version_finishing_last_does_not_overwrite_the_newer_output(
    harness: Harness, caplog: pytest.LogCaptureFixture, versioned: bool
) -> None:
    if versioned:
        harness.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    key = f"{INPUT}daily.csv"
    harness.put(key, csv_file(csv_rows(100)))
    newer: dict[str, Any] = {}

    def upload_and_score_version_2() -> None:
        newer["etag"] = harness.put(key, csv_file(csv_rows(3, start=1000)))
        newer["outcome"] = harness.predictor().process(S3Object(BUCKET, key), harness.invocation())

    older = harness.predictor()
    older._backend = _UploadsANewVersionMidFile(older._backend, upload_and_score_version_2)

    with caplog.at_level(logging.INFO, logger="test"):
        outcome = older.process(S3Object(BUCKET, key), harness.invocation())

    # Then the newer version's output, errors and report stand; the older run says it dropped its own
    assert newer["outcome"].status == "predicted"
    assert outcome.status == "superseded"
    assert harness.metadata(f"{OUTPUT}daily.csv")["source-etag"] == newer["etag"]
    assert ids_in_output(harness, "daily.csv") == ["id-1000", "id-1001", "id-1002"]
    assert harness.report("daily.csv")["etag"] == newer["etag"]
    assert "superseded" in caplog.text
    assert harness.s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_an_input_deleted_before_the_output_is_written_leaves_no_output(harness: Harness) -> None:
    key = f"{INPUT}removed.csv"
    harness.put(key, csv_file(csv_rows(100)))
    older = harness.predictor()
    older._backend = _UploadsANewVersionMidFile(
        older._backend, lambda: harness.s3.delete_object(Bucket=BUCKET, Key=key)
    )

    outcome = older.process(S3Object(BUCKET, key), harness.invocation())

    assert outcome.status == "superseded"
    assert not harness.exists(f"{OUTPUT}removed.csv")


# Deadline pressure


def test_deadline_pressure_fails_the_invocation_before_the_margin_with_no_output(harness: Harness) -> None:
    # Given a slow model and barely more time left than the margin the function keeps back
    harness.configure(time_margin_seconds=10, batch_size=10, concurrency=1)
    harness.model.delay = 0.05
    harness.context.remaining_ms = 10_300
    harness.put(f"{INPUT}late.csv", csv_file(csv_rows(500)))

    message = run_failing(harness, f"{INPUT}late.csv")

    assert "Deadline" in message
    assert_failed_for_a_retry(harness, "late.csv", "Deadline")
    # No call started after the deadline: about 0.3 s of 0.05 s calls
    assert len(harness.model.calls) <= 8


def test_a_margin_below_the_worst_case_of_one_model_call_fails_every_invocation(harness: Harness) -> None:
    harness.configure(time_margin_seconds=30, model_call={"read_timeout_seconds": 70, "max_attempts": 3})
    harness.put(f"{INPUT}x.csv", csv_file(csv_rows(1)))

    with pytest.raises(ValueError, match=r"MLGW_SETTINGS.time_margin_seconds \(30 s\).*\(229 s"):
        harness.run(notification(f"{INPUT}x.csv"))
    assert harness.model.calls == []


def test_the_outcome_of_a_failed_invocation_is_raised_not_returned(harness: Harness) -> None:
    harness.model.always = Failure(424, "ModelError", {"OriginalStatusCode": 500})
    harness.put(f"{INPUT}raised.csv", csv_file(csv_rows(10)))

    with pytest.raises(BatchFailed, match="ModelServerError"):
        harness.predictor().process(S3Object(BUCKET, f"{INPUT}raised.csv"), harness.invocation())
