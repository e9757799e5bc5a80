"""Settings of the batch prediction function, read once per cold start from its settings document.

Everything that could make the function loop (an output prefix inside the input prefix) or send
requests the endpoint must refuse (a record larger than the payload limit) is rejected here, so a
misconfiguration fails the first invocation with the field's name instead of a file later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from mlgw.backends.clients import CallBudget
from mlgw.env import SETTINGS_VARIABLE, Document, SettingsError, load_document
from mlgw.pipeline.prefixes import check_prefixes
from mlgw.routing import Route, parse_routes

MIB = 1024 * 1024
# SageMaker's transform job names: 63 characters, letters, digits and hyphens, starting and ending
# with a letter or digit; the hash suffix takes 17 of them. Lower case, as ARNs spell job names.
_JOB_PREFIX = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,44}[a-z0-9])?")
_COLUMN_NUMBER = re.compile(r"[1-9][0-9]*")
# botocore's standard retry mode raises a retry's backoff to the service's `x-amz-retry-after`
# header, by at most 5 s more than the computed backoff (botocore/retries/standard.py,
# ExponentialBackoff: https://github.com/boto/botocore/blob/develop/botocore/retries/standard.py).
_RETRY_AFTER_EXTRA_SECONDS = 5.0


def call_worst_case_seconds(budget: CallBudget) -> float:
    """Longest one model call can take, retries included: every attempt times out in full and
    every backoff sleeps its longest, Retry-After included. The `http` backend's own backoff
    (urllib3, 0.05 s doubling) is shorter than botocore's for every attempt count settings allow,
    so this bounds both backends."""
    return budget.worst_case_seconds() + _RETRY_AFTER_EXTRA_SECONDS * (budget.max_attempts - 1)


@dataclass(frozen=True, slots=True)
class TransformSettings:
    """Batch Transform for files too large to stream; absent when no model name is configured."""

    model_name: str
    min_bytes: int
    instance_type: str
    instance_count: int
    max_payload_mb: int
    job_name_prefix: str
    kms_key_id: str | None


@dataclass(frozen=True, slots=True)
class Columns:
    """Which input columns the model reads and which one identifies a row.

    Names when CSV files have a header and for JSON Lines; 0-based positions for CSV files
    without one (configured 1-based, as people count columns).
    """

    features: tuple[str, ...] | tuple[int, ...] | None
    id: str | int | None


@dataclass(frozen=True, slots=True)
class BatchSettings:
    bucket: str
    input_prefix: str
    output_prefix: str
    error_prefix: str
    staging_prefix: str
    route: Route
    csv_header: bool
    csv_columns: Columns
    json_columns: Columns
    prediction_columns: tuple[str, ...]
    batch_size: int
    concurrency: int
    max_record_bytes: int
    retry_attempts: int
    backoff_base: float
    backoff_max: float
    isolation_calls: int
    part_bytes: int
    time_margin: float
    stream_bytes_per_second: float
    transform: TransformSettings | None
    model_budget: CallBudget
    service_name: str

    @property
    def own_prefixes(self) -> dict[str, str]:
        """Prefixes this function writes to, by the field that sets them."""
        return {
            f"{SETTINGS_VARIABLE}.output_prefix": self.output_prefix,
            f"{SETTINGS_VARIABLE}.error_prefix": self.error_prefix,
            f"{SETTINGS_VARIABLE}.staging_prefix": self.staging_prefix,
        }


def load_settings(env: Mapping[str, str]) -> BatchSettings:
    document = load_document(env)
    input_prefix = document.prefix("input_prefix")
    route = _route(document)
    csv_header = document.flag("csv_header")
    features = _names(document, "feature_columns")
    id_column = document.opt_text("id_column")
    call = document.section("model_call")
    model_budget = CallBudget(
        connect_timeout=call.number("connect_timeout_seconds", minimum=0.1, maximum=60),
        read_timeout=call.number("read_timeout_seconds", minimum=0.1, maximum=600),
        max_attempts=call.whole("max_attempts", minimum=1, maximum=10),
    )
    retry = document.section("batch_retry")
    settings = BatchSettings(
        bucket=document.text("bucket"),
        input_prefix=input_prefix,
        output_prefix=document.prefix("output_prefix"),
        error_prefix=document.prefix("error_prefix"),
        # Batch Transform's header-free copies of inputs, job records and raw job outputs.
        staging_prefix=document.prefix("staging_prefix"),
        route=route,
        csv_header=csv_header,
        csv_columns=Columns(features, id_column) if csv_header else _positions(document, features, id_column),
        json_columns=Columns(features, id_column),
        prediction_columns=_names(document, "prediction_columns") or ("prediction",),
        batch_size=document.whole("batch_size", minimum=1, maximum=100_000),
        concurrency=document.whole("concurrency", minimum=1, maximum=64),
        max_record_bytes=document.whole("max_record_bytes", minimum=1024, maximum=route.max_payload_bytes),
        retry_attempts=retry.whole("attempts", minimum=1, maximum=20),
        backoff_base=retry.number("backoff_base_seconds", minimum=0, maximum=60),
        backoff_max=retry.number("backoff_max_seconds", minimum=0, maximum=300),
        isolation_calls=document.whole("isolation_calls", minimum=0, maximum=100_000),
        # S3 refuses parts below 5 MiB (but the last). The output buffer holds one part, so the
        # smallest is the default: 10,000 of them still allow a 50 GB output.
        part_bytes=document.whole("part_size_mb", minimum=5, maximum=512) * MIB,
        time_margin=_time_margin(document, model_budget),
        stream_bytes_per_second=document.number("stream_bytes_per_second", minimum=1, maximum=1e10),
        transform=_transform(document),
        model_budget=model_budget,
        service_name=env.get("POWERTOOLS_SERVICE_NAME", "").strip() or "batch_predict",
    )
    check_prefixes(document.name("input_prefix"), settings.input_prefix, settings.own_prefixes)
    if settings.transform and not csv_header and id_column is not None and features is None:
        raise SettingsError(
            f"set {document.name('feature_columns')} when {document.name('id_column')} is set for headerless "
            "CSV and Batch Transform is on: the job's input filter must leave the id column out without "
            "reading the file first"
        )
    return settings


def _time_margin(document: Document, budget: CallBudget) -> float:
    """No model call starts once the margin is reached, but a call started just before it may
    last its worst case, so a smaller margin would let the function run into its timeout."""
    worst = call_worst_case_seconds(budget)
    name = document.name("time_margin_seconds")
    margin = document.number("time_margin_seconds", minimum=1, maximum=900)
    if margin < worst:
        raise SettingsError(
            f"{name} ({margin:g} s) must be at least the worst case of one model call ({worst:g} s: "
            "model_call.max_attempts x (connect_timeout_seconds + read_timeout_seconds) plus the "
            "retries' backoff): raise the margin, or lower the model timeouts or attempts"
        )
    return margin


def _route(document: Document) -> Route:
    """The one route of the routing table that scores files; Amazon ML's Predict takes a single
    record per call, which defeats batching, so it is refused."""
    name = document.text("model_route")
    where = document.name("route")
    table = parse_routes(
        {name: document.section("route").raw_fields()}, default_endpoint_name=None, source=where
    )
    route = table.get(name)
    if route is None:
        raise SettingsError(f"{where} is not a route")
    if route.backend == "amazon-ml":
        raise SettingsError(
            f"{document.name('model_route')} {name!r} is an amazon-ml route: it scores one record a call"
        )
    return route


def _names(document: Document, key: str) -> tuple[str, ...] | None:
    names = document.texts(key)
    if not names:
        return None
    if not all(name.strip() for name in names) or len(set(names)) != len(names):
        raise SettingsError(f"{document.name(key)} must list distinct, non-empty names, got {list(names)!r}")
    return tuple(name.strip() for name in names)


def _positions(document: Document, features: tuple[str, ...] | None, id_column: str | None) -> Columns:
    """Without a header, columns can only be named by their 1-based position."""

    def position(key: str, value: str) -> int:
        if not _COLUMN_NUMBER.fullmatch(value):
            raise SettingsError(
                f"{document.name(key)} must name columns by 1-based position when "
                f"{document.name('csv_header')} is false, got {value!r}"
            )
        return int(value) - 1

    return Columns(
        tuple(position("feature_columns", item) for item in features) if features else None,
        position("id_column", id_column) if id_column is not None else None,
    )


def _transform(document: Document) -> TransformSettings | None:
    transform = document.opt_section("transform")
    if transform is None:
        return None
    prefix = transform.text("job_name_prefix")
    if not _JOB_PREFIX.fullmatch(prefix):
        raise SettingsError(
            f"{transform.name('job_name_prefix')} must be 1-46 lower-case letters, digits and hyphens, "
            f"starting and ending with a letter or digit, got {prefix!r}"
        )
    return TransformSettings(
        model_name=transform.text("model_name"),
        min_bytes=transform.whole("min_bytes", minimum=1),
        instance_type=transform.text("instance_type"),
        instance_count=transform.whole("instance_count", minimum=1, maximum=100),
        max_payload_mb=transform.whole("max_payload_mb", minimum=1, maximum=100),
        job_name_prefix=prefix,
        kms_key_id=transform.opt_text("kms_key_id"),
    )
