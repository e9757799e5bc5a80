"""Settings of the actuals reporter, read once per cold start from its settings document.

Every rule that could make the function loop, leak a token or send oversized requests
is checked here, before the first object is touched: a function whose output prefix sits
inside its own trigger prefix would re-trigger itself on every file it moves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from mlgw.env import SETTINGS_VARIABLE, Document, SettingsError, load_document
from mlgw.pipeline.prefixes import check_prefixes

SINK_DATAROBOT = "datarobot"
SINK_MODEL_MONITOR = "model-monitor"
SINKS = (SINK_DATAROBOT, SINK_MODEL_MONITOR)

MAX_REPORT_ROWS = 10_000
"""The actuals API rejects requests with more rows than this."""

MAX_ACTUALS_PER_HOUR = 10_000_000
"""The platform's limit of actuals per deployment and hour (its API reference for the actuals
endpoints, and the R client's SubmitActuals documentation)."""

TOKEN_SECRET_VARIABLE = "ACTUALS_TOKEN_SECRET_ARN"  # noqa: S105 - the name of a variable holding an ARN
DATASET_FETCH_URL = "url"
DATASET_FETCH_UPLOAD = "upload"
MAX_PRESIGN_SECONDS = 3600
"""A presigned URL stops working when the temporary credentials that signed it expire, whatever
its own expiry, and a Lambda execution role's session need not follow the role's session duration
(https://repost.aws/knowledge-center/presigned-url-s3-bucket-expiration). The function signs with
those credentials, so a URL promising longer than an hour would promise what it may not keep; a
registration whose fetch fails is signed again once (mlgw/actuals/dataset.py)."""
MAX_DATASET_MIN_BYTES = 5 * 2**40
"""S3's largest object (5 TiB): a threshold above it would never apply."""
_URL_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


@dataclass(frozen=True, slots=True)
class DatasetPathSettings:
    """When a file goes to the platform's dataset path instead of streaming through the function
    (mlgw/actuals/dataset.py), and how the platform gets it."""

    enabled: bool
    min_bytes: int
    fetch: str
    url_expiry_seconds: int


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
    max_idle_handoffs: int
    actuals_per_hour: int
    pacing_window_seconds: int
    dataset_path: DatasetPathSettings

    @property
    def output_prefixes(self) -> dict[str, str]:
        """Prefixes this function writes to, by the field that sets them."""
        prefixes = {
            f"{SETTINGS_VARIABLE}.processed_prefix": self.processed_prefix,
            f"{SETTINGS_VARIABLE}.failed_prefix": self.failed_prefix,
            f"{SETTINGS_VARIABLE}.state_prefix": self.state_prefix,
        }
        if SINK_MODEL_MONITOR in self.sinks and self.ground_truth_bucket == self.bucket:
            prefixes[f"{SETTINGS_VARIABLE}.ground_truth_prefix"] = self.ground_truth_prefix
        return prefixes

    def is_deployment_id(self, segment: str) -> bool:
        """A valid id matches the pattern and is safe to put into a URL path unescaped."""
        return (
            bool(self.deployment_id_pattern.fullmatch(segment))
            and bool(_URL_SAFE_SEGMENT.fullmatch(segment))
            and segment not in {".", ".."}
        )


def load_settings(env: Mapping[str, str]) -> ActualsSettings:
    document = load_document(env)
    sinks = _sinks(document)
    datarobot = SINK_DATAROBOT in sinks
    http = document.section("http")
    poll = document.section("status_poll")
    pacing = document.section("pacing")
    settings = ActualsSettings(
        bucket=document.text("bucket"),
        prefix=document.prefix("prefix"),
        processed_prefix=document.prefix("processed_prefix"),
        failed_prefix=document.prefix("failed_prefix"),
        state_prefix=document.prefix("state_prefix"),
        on_success=document.choice("on_success", ("delete", "archive")),
        sinks=sinks,
        api_url=_api_url(document) if datarobot else None,
        # Apart from the document: the ARN of a secret the module creates is known only after apply.
        token_secret_arn=_token_secret_arn(env) if datarobot else None,
        report_rows=document.whole("report_rows", minimum=1, maximum=MAX_REPORT_ROWS),
        deployment_id_pattern=_pattern(document),
        skip_bad_rows=document.choice("bad_rows", ("reject", "skip")) == "skip",
        bad_rows_in_report=document.whole("bad_rows_in_report", minimum=1, maximum=10_000),
        max_in_flight=document.whole("max_in_flight", minimum=1, maximum=16),
        spool_limit_bytes=document.whole("spool_limit_mb", minimum=0, maximum=10_240) * 2**20,
        connect_timeout=http.number("connect_timeout_seconds", minimum=0.1, maximum=60),
        read_timeout=http.number("read_timeout_seconds", minimum=0.1, maximum=900),
        max_retries=http.whole("max_retries", minimum=0, maximum=20),
        backoff_base=http.number("backoff_base_seconds", minimum=0, maximum=60),
        backoff_max=http.number("backoff_max_seconds", minimum=0, maximum=300),
        poll_interval=poll.number("interval_seconds", minimum=0, maximum=60),
        poll_max_interval=poll.number("max_interval_seconds", minimum=0, maximum=300),
        time_margin=document.number("time_margin_seconds", minimum=0, maximum=600),
        max_attempts=document.whole("max_attempts", minimum=1, maximum=100),
        ground_truth_bucket=document.text("ground_truth_bucket"),
        ground_truth_prefix=document.prefix("ground_truth_prefix"),
        ground_truth_endpoint=document.opt_text("ground_truth_endpoint"),
        max_idle_handoffs=document.whole("max_idle_handoffs", minimum=1, maximum=100),
        actuals_per_hour=pacing.whole("actuals_per_hour", minimum=1, maximum=MAX_ACTUALS_PER_HOUR),
        pacing_window_seconds=_window(pacing),
        dataset_path=_dataset_path(document.section("dataset_path")),
    )
    check_prefixes(document.name("prefix"), settings.prefix, settings.output_prefixes)
    return settings


def _window(pacing: Document) -> int:
    """A window that divides the hour, so a budget scaled down to it never lets more through in
    an hour than the hourly one."""
    window = pacing.whole("window_seconds", minimum=60, maximum=3600)
    if 3600 % window:
        raise SettingsError(f"{pacing.name('window_seconds')} must divide 3600, got {window}")
    return window


def _dataset_path(section: Document) -> DatasetPathSettings:
    return DatasetPathSettings(
        enabled=section.flag("enabled"),
        min_bytes=section.whole("min_bytes", minimum=1, maximum=MAX_DATASET_MIN_BYTES),
        fetch=section.choice("fetch", (DATASET_FETCH_URL, DATASET_FETCH_UPLOAD)),
        url_expiry_seconds=section.whole("url_expiry_seconds", minimum=60, maximum=MAX_PRESIGN_SECONDS),
    )


def _token_secret_arn(env: Mapping[str, str]) -> str:
    value = env.get(TOKEN_SECRET_VARIABLE, "").strip()
    if not value:
        raise SettingsError(f"{TOKEN_SECRET_VARIABLE} must be set when the datarobot sink is on")
    return value


def _sinks(document: Document) -> frozenset[str]:
    names = set(document.texts("sinks"))
    unknown = names - set(SINKS)
    if not names or unknown:
        raise SettingsError(
            f"{document.name('sinks')} must name {', '.join(SINKS)} or both, got {sorted(names)!r}"
        )
    return frozenset(names)


def _api_url(document: Document) -> str:
    name = document.name("api_url")
    url = document.text("api_url").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise SettingsError(f"{name} must be an https:// URL, got {url!r}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK_HOSTS:
        raise SettingsError(f"{name} must use https: the bearer token would travel in clear text")
    if parts.query or parts.fragment:
        raise SettingsError(f"{name} must be a base URL without query or fragment")
    return url


def _pattern(document: Document) -> re.Pattern[str]:
    raw = document.text("deployment_id_pattern")
    try:
        return re.compile(raw)
    except re.error as exc:
        raise SettingsError(
            f"{document.name('deployment_id_pattern')} is not a valid regular expression: {exc}"
        ) from None
