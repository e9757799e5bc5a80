"""Settings of the batch prediction function, read once per cold start from the environment.

Everything that could make the function loop (an output prefix inside the input prefix) or send
requests the endpoint must refuse (a record larger than the payload limit) is rejected here, so a
misconfiguration fails the first invocation with the variable's name instead of a file later.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from mlgw.backends.clients import CallBudget
from mlgw.env import (
    SettingsError,
    env_bool,
    env_float,
    env_int,
    env_json,
    env_opt_str,
    env_prefix,
    env_str,
)
from mlgw.pipeline.prefixes import check_prefixes, sibling_prefix
from mlgw.routing import DEFAULT_ROUTE, Route, parse_routes

MIB = 1024 * 1024
# SageMaker's transform job names: 63 characters, letters, digits and hyphens, starting and ending
# with a letter or digit; the hash suffix takes 17 of them. Lower case, as ARNs spell job names.
_JOB_PREFIX = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,44}[a-z0-9])?")
_COLUMN_NUMBER = re.compile(r"[1-9][0-9]*")
# botocore's standard retry mode raises a retry's backoff to the service's `x-amz-retry-after`
# header, by at most 5 s more than the computed backoff (botocore/retries/standard.py,
# ExponentialBackoff: https://github.com/boto/botocore/blob/develop/botocore/retries/standard.py).
_RETRY_AFTER_EXTRA_SECONDS = 5.0
# Time kept back, beyond the longest model call, to write the errors object, the report and the
# output (or abort them) once the last call has returned.
FINISH_SECONDS = 30.0


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
    sagemaker_runtime_endpoint_url: str | None
    service_name: str
    metrics_namespace: str

    @property
    def own_prefixes(self) -> dict[str, str]:
        """Prefixes this function writes to, by the variable that sets them."""
        return {
            "BATCH_OUTPUT_PREFIX": self.output_prefix,
            "BATCH_ERROR_PREFIX": self.error_prefix,
            "BATCH_STAGING_PREFIX": self.staging_prefix,
        }


def load_settings(env: Mapping[str, str]) -> BatchSettings:
    input_prefix = env_prefix(env, "BATCH_INPUT_PREFIX")
    route = _route(env)
    csv_header = env_bool(env, "BATCH_CSV_HEADER", default=True)
    features = _names(env, "BATCH_FEATURE_COLUMNS")
    id_column = env_opt_str(env, "BATCH_ID_COLUMN")
    model_budget = CallBudget(
        connect_timeout=env_float(env, "MODEL_CONNECT_TIMEOUT_SECONDS", 2.0, minimum=0.1, maximum=60),
        read_timeout=env_float(env, "MODEL_READ_TIMEOUT_SECONDS", 70.0, minimum=0.1, maximum=600),
        max_attempts=env_int(env, "MODEL_MAX_ATTEMPTS", 3, minimum=1, maximum=10),
    )
    settings = BatchSettings(
        bucket=env_str(env, "BATCH_BUCKET"),
        input_prefix=input_prefix,
        output_prefix=env_prefix(env, "BATCH_OUTPUT_PREFIX", sibling_prefix(input_prefix, "output")),
        error_prefix=env_prefix(env, "BATCH_ERROR_PREFIX", sibling_prefix(input_prefix, "errors")),
        # Batch Transform's header-free copies of inputs, job records and raw job outputs.
        staging_prefix=env_prefix(env, "BATCH_STAGING_PREFIX", sibling_prefix(input_prefix, "staging")),
        route=route,
        csv_header=csv_header,
        csv_columns=Columns(features, id_column) if csv_header else _positions(features, id_column),
        json_columns=Columns(features, id_column),
        prediction_columns=_names(env, "BATCH_PREDICTION_COLUMNS") or ("prediction",),
        batch_size=env_int(env, "BATCH_SIZE", 500, minimum=1, maximum=100_000),
        concurrency=env_int(env, "BATCH_CONCURRENCY", 4, minimum=1, maximum=64),
        max_record_bytes=env_int(
            env, "BATCH_MAX_RECORD_BYTES", MIB, minimum=1024, maximum=route.max_payload_bytes
        ),
        retry_attempts=env_int(env, "BATCH_RETRY_ATTEMPTS", 6, minimum=1, maximum=20),
        backoff_base=env_float(env, "BATCH_BACKOFF_BASE_SECONDS", 0.5, minimum=0, maximum=60),
        backoff_max=env_float(env, "BATCH_BACKOFF_MAX_SECONDS", 20.0, minimum=0, maximum=300),
        isolation_calls=env_int(env, "BATCH_ISOLATION_CALLS", 100, minimum=0, maximum=100_000),
        # S3 refuses parts below 5 MiB (but the last). The output buffer holds one part, so the
        # smallest is the default: 10,000 of them still allow a 50 GB output.
        part_bytes=env_int(env, "BATCH_PART_SIZE_MB", 5, minimum=5, maximum=512) * MIB,
        time_margin=_time_margin(env, model_budget),
        stream_bytes_per_second=env_float(
            env, "BATCH_STREAM_BYTES_PER_SECOND", 1_000_000.0, minimum=1, maximum=1e10
        ),
        transform=_transform(env),
        model_budget=model_budget,
        sagemaker_runtime_endpoint_url=env_opt_str(env, "SAGEMAKER_RUNTIME_ENDPOINT_URL"),
        service_name=env_str(env, "POWERTOOLS_SERVICE_NAME", "batch_predict"),
        metrics_namespace=env_str(env, "POWERTOOLS_METRICS_NAMESPACE", "MlGateway"),
    )
    check_prefixes("BATCH_INPUT_PREFIX", settings.input_prefix, settings.own_prefixes)
    if settings.transform and not csv_header and id_column is not None and features is None:
        raise SettingsError(
            "set BATCH_FEATURE_COLUMNS when BATCH_ID_COLUMN is set for headerless CSV and Batch Transform "
            "is on: the job's input filter must leave the id column out without reading the file first"
        )
    return settings


def _time_margin(env: Mapping[str, str], budget: CallBudget) -> float:
    """No model call starts once the margin is reached, but a call started just before it may
    last its worst case, so a smaller margin would let the function run into its timeout."""
    worst = call_worst_case_seconds(budget)
    margin = env_float(env, "BATCH_TIME_MARGIN_SECONDS", worst + FINISH_SECONDS, minimum=1, maximum=900)
    if margin < worst:
        raise SettingsError(
            f"BATCH_TIME_MARGIN_SECONDS ({margin:g} s) must be at least the worst case of one model "
            f"call ({worst:g} s: MODEL_MAX_ATTEMPTS x (MODEL_CONNECT_TIMEOUT_SECONDS + "
            "MODEL_READ_TIMEOUT_SECONDS) plus the retries' backoff): raise the margin, or lower the "
            "model timeouts or attempts"
        )
    return margin


def _route(env: Mapping[str, str]) -> Route:
    """The one route of the shared routing table that scores files; Amazon ML's Predict takes a
    single record per call, which defeats batching, so it is refused."""
    name = env_str(env, "BATCH_MODEL_ROUTE", DEFAULT_ROUTE)
    table = parse_routes(
        env_json(env, "MODELS_JSON"),
        default_endpoint_name=env_opt_str(env, "DEFAULT_ENDPOINT_NAME"),
        source="MODELS_JSON",
    )
    route = table.get(name)
    if route is None:
        raise SettingsError(f"BATCH_MODEL_ROUTE {name!r} is not a route of MODELS_JSON")
    if route.backend == "amazon-ml":
        raise SettingsError(f"BATCH_MODEL_ROUTE {name!r} is an amazon-ml route: it scores one record a call")
    return route


def _names(env: Mapping[str, str], name: str) -> tuple[str, ...] | None:
    raw = env_opt_str(env, name)
    if raw is None:
        return None
    names = tuple(part.strip() for part in raw.split(","))
    if not all(names) or len(set(names)) != len(names):
        raise SettingsError(f"{name} must be a comma-separated list of distinct names, got {raw!r}")
    return names


def _positions(features: tuple[str, ...] | None, id_column: str | None) -> Columns:
    """Without a header, columns can only be named by their 1-based position."""

    def position(name: str, value: str) -> int:
        if not _COLUMN_NUMBER.fullmatch(value):
            raise SettingsError(
                f"{name} must name columns by 1-based position when BATCH_CSV_HEADER is false, got {value!r}"
            )
        return int(value) - 1

    return Columns(
        tuple(position("BATCH_FEATURE_COLUMNS", item) for item in features) if features else None,
        position("BATCH_ID_COLUMN", id_column) if id_column is not None else None,
    )


def _transform(env: Mapping[str, str]) -> TransformSettings | None:
    model_name = env_opt_str(env, "BATCH_TRANSFORM_MODEL_NAME")
    if model_name is None:
        return None
    prefix = env_str(env, "BATCH_TRANSFORM_JOB_PREFIX", "batch")
    if not _JOB_PREFIX.fullmatch(prefix):
        raise SettingsError(
            "BATCH_TRANSFORM_JOB_PREFIX must be 1-46 lower-case letters, digits and hyphens, starting and "
            "ending with a letter or digit, "
            f"got {prefix!r}"
        )
    return TransformSettings(
        model_name=model_name,
        min_bytes=env_int(env, "BATCH_TRANSFORM_MIN_BYTES", 512 * MIB, minimum=1),
        instance_type=env_str(env, "BATCH_TRANSFORM_INSTANCE_TYPE", "ml.m5.xlarge"),
        instance_count=env_int(env, "BATCH_TRANSFORM_INSTANCE_COUNT", 1, minimum=1, maximum=100),
        max_payload_mb=env_int(env, "BATCH_TRANSFORM_MAX_PAYLOAD_MB", 6, minimum=1, maximum=100),
        job_name_prefix=prefix,
        kms_key_id=env_opt_str(env, "BATCH_TRANSFORM_KMS_KEY_ID"),
    )
