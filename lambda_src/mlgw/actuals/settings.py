"""Settings of the actuals reporter, read once per cold start from the environment.

Every rule that could make the function loop, leak a token or send oversized requests
is checked here, before the first object is touched: a function whose output prefix sits
inside its own trigger prefix would re-trigger itself on every file it moves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from mlgw.env import (
    SettingsError,
    env_choice,
    env_float,
    env_int,
    env_opt_str,
    env_prefix,
    env_str,
)
from mlgw.pipeline.prefixes import check_prefixes, sibling_prefix

SINK_DATAROBOT = "datarobot"
SINK_MODEL_MONITOR = "model-monitor"
SINKS = (SINK_DATAROBOT, SINK_MODEL_MONITOR)

MAX_REPORT_ROWS = 10_000
"""The actuals API rejects requests with more rows than this."""

DEFAULT_DEPLOYMENT_ID_PATTERN = r"[0-9a-f]{24}"
_URL_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True, slots=True)
class ActualsSettings:
    bucket: str
    prefix: str
    processed_prefix: str
    failed_prefix: str
    state_prefix: str
    on_success: str
    sinks: frozenset[str]
    api_url: str | None
    token_secret_arn: str | None
    report_rows: int
    deployment_id_pattern: re.Pattern[str]
    skip_bad_rows: bool
    bad_rows_in_report: int
    max_in_flight: int
    spool_limit_bytes: int
    connect_timeout: float
    read_timeout: float
    max_retries: int
    backoff_base: float
    backoff_max: float
    poll_interval: float
    poll_max_interval: float
    time_margin: float
    max_attempts: int
    ground_truth_bucket: str
    ground_truth_prefix: str
    ground_truth_endpoint: str | None
    metrics_namespace: str

    @property
    def output_prefixes(self) -> dict[str, str]:
        """Prefixes this function writes to, by the variable that sets them."""
        prefixes = {
            "ACTUALS_PROCESSED_PREFIX": self.processed_prefix,
            "ACTUALS_FAILED_PREFIX": self.failed_prefix,
            "ACTUALS_STATE_PREFIX": self.state_prefix,
        }
        if SINK_MODEL_MONITOR in self.sinks and self.ground_truth_bucket == self.bucket:
            prefixes["ACTUALS_GROUND_TRUTH_PREFIX"] = self.ground_truth_prefix
        return prefixes

    def is_deployment_id(self, segment: str) -> bool:
        """A valid id matches the pattern and is safe to put into a URL path unescaped."""
        return (
            bool(self.deployment_id_pattern.fullmatch(segment))
            and bool(_URL_SAFE_SEGMENT.fullmatch(segment))
            and segment not in {".", ".."}
        )


def load_settings(env: Mapping[str, str]) -> ActualsSettings:
    bucket = env_str(env, "ACTUALS_BUCKET")
    prefix = env_prefix(env, "ACTUALS_PREFIX")
    sinks = _sinks(env_str(env, "ACTUALS_SINKS", SINK_DATAROBOT))
    datarobot = SINK_DATAROBOT in sinks
    settings = ActualsSettings(
        bucket=bucket,
        prefix=prefix,
        processed_prefix=env_prefix(env, "ACTUALS_PROCESSED_PREFIX", sibling_prefix(prefix, "processed")),
        failed_prefix=env_prefix(env, "ACTUALS_FAILED_PREFIX", sibling_prefix(prefix, "failed")),
        state_prefix=env_prefix(env, "ACTUALS_STATE_PREFIX", sibling_prefix(prefix, "state")),
        on_success=env_choice(env, "ACTUALS_ON_SUCCESS", ("delete", "archive"), "delete"),
        sinks=sinks,
        api_url=_api_url(env) if datarobot else None,
        token_secret_arn=env_str(env, "ACTUALS_TOKEN_SECRET_ARN") if datarobot else None,
        report_rows=env_int(env, "ACTUALS_REPORT_ROWS", MAX_REPORT_ROWS, minimum=1, maximum=MAX_REPORT_ROWS),
        deployment_id_pattern=_pattern(env),
        skip_bad_rows=env_choice(env, "ACTUALS_BAD_ROWS", ("reject", "skip"), "reject") == "skip",
        bad_rows_in_report=env_int(env, "ACTUALS_BAD_ROWS_IN_REPORT", 100, minimum=1, maximum=10_000),
        max_in_flight=env_int(env, "ACTUALS_MAX_IN_FLIGHT", 8, minimum=1, maximum=16),
        spool_limit_bytes=env_int(env, "ACTUALS_SPOOL_LIMIT_MB", 256, minimum=0, maximum=10_240) * 2**20,
        connect_timeout=env_float(env, "ACTUALS_HTTP_CONNECT_TIMEOUT", 5.0, minimum=0.1, maximum=60),
        read_timeout=env_float(env, "ACTUALS_HTTP_READ_TIMEOUT", 60.0, minimum=0.1, maximum=900),
        max_retries=env_int(env, "ACTUALS_HTTP_MAX_RETRIES", 6, minimum=0, maximum=20),
        backoff_base=env_float(env, "ACTUALS_BACKOFF_BASE_SECONDS", 0.5, minimum=0, maximum=60),
        backoff_max=env_float(env, "ACTUALS_BACKOFF_MAX_SECONDS", 30.0, minimum=0, maximum=300),
        poll_interval=env_float(env, "ACTUALS_POLL_INTERVAL_SECONDS", 1.0, minimum=0, maximum=60),
        poll_max_interval=env_float(env, "ACTUALS_POLL_MAX_INTERVAL_SECONDS", 10.0, minimum=0, maximum=300),
        time_margin=env_float(env, "ACTUALS_TIME_MARGIN_SECONDS", 20.0, minimum=0, maximum=600),
        max_attempts=env_int(env, "ACTUALS_MAX_ATTEMPTS", 3, minimum=1, maximum=100),
        ground_truth_bucket=env_str(env, "ACTUALS_GROUND_TRUTH_BUCKET", bucket),
        ground_truth_prefix=env_prefix(
            env, "ACTUALS_GROUND_TRUTH_PREFIX", sibling_prefix(prefix, "ground-truth")
        ),
        ground_truth_endpoint=env_opt_str(env, "ACTUALS_GROUND_TRUTH_ENDPOINT"),
        metrics_namespace=env_str(env, "POWERTOOLS_METRICS_NAMESPACE", "MlGateway"),
    )
    check_prefixes("ACTUALS_PREFIX", settings.prefix, settings.output_prefixes)
    return settings


def _sinks(raw: str) -> frozenset[str]:
    names = {part.strip() for part in raw.split(",") if part.strip()}
    unknown = names - set(SINKS)
    if not names or unknown:
        raise SettingsError(
            f"ACTUALS_SINKS must be a comma-separated subset of {', '.join(SINKS)}, got {raw!r}"
        )
    return frozenset(names)


def _api_url(env: Mapping[str, str]) -> str:
    url = env_str(env, "ACTUALS_API_URL").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise SettingsError(f"ACTUALS_API_URL must be an https:// URL, got {url!r}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise SettingsError("ACTUALS_API_URL must use https: the bearer token would travel in clear text")
    if parts.query or parts.fragment:
        raise SettingsError("ACTUALS_API_URL must be a base URL without query or fragment")
    return url


def _pattern(env: Mapping[str, str]) -> re.Pattern[str]:
    raw = env_str(env, "ACTUALS_DEPLOYMENT_ID_PATTERN", DEFAULT_DEPLOYMENT_ID_PATTERN)
    try:
        return re.compile(raw)
    except re.error as exc:
        raise SettingsError(
            f"ACTUALS_DEPLOYMENT_ID_PATTERN is not a valid regular expression: {exc}"
        ) from None
