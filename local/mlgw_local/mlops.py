"""A local MLOps actuals receiver speaking the DataRobot protocol, showing what it received.

It answers what the official ``datarobot`` client and the reporter send, the way DataRobot does:

- ``GET /api/v2/version/``, which ``datarobot.Client()`` asks first (``datarobot/client.py``,
  ``_is_compatible_client``: ``client.get("version/")`` and its ``versionString``).
- ``POST /api/v2/deployments/{id}/actuals/fromJSON/``, validated as documented, 202 and an absolute
  ``Location`` to poll; the status answers ``RUNNING`` before ``COMPLETED``.
- The dataset path: ``POST /api/v2/datasets/fromURL/`` (the receiver fetches the URL itself, as the
  platform would), ``POST /api/v2/datasets/fromFile/`` (multipart, field ``file``), ``GET
  /api/v2/datasets/{id}/``, and ``POST /api/v2/deployments/{id}/actuals/fromDataset/`` with the
  column mapping.

``GET /received`` lists every accepted submission, and ``GET /received/{deployment id}`` the rows of
one deployment; these two need no token.

With a ``Quota`` the receiver stands in for the platform's limit on actuals per deployment
(10,000,000 an hour, each row counted once here: the R client's SubmitActuals documentation,
https://search.r-project.org/CRAN/refmans/datarobot/html/SubmitActuals.html), scaled down to
``actuals`` per ``window_seconds`` in fixed windows. A submission that would go over the window's
count is refused with 429 and a ``Retry-After`` of the seconds to the next window, the form
RFC 6585 section 4 allows for a 429 (https://www.rfc-editor.org/rfc/rfc6585#section-4); whether
the platform itself sends ``Retry-After`` with its 429 is not documented in the sources found,
and the reporter also backs off without one. ``window_counts`` (and ``GET /received``) give the
actuals accepted and refused in each window, so a test can check that a client kept under the
quota.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from mlgw_local.http import Request, Response

_SUBMIT = re.compile(r"^/api/v2/deployments/([^/]+)/actuals/fromJSON/?$")
_FROM_DATASET = re.compile(r"^/api/v2/deployments/([^/]+)/actuals/fromDataset/?$")
_STATUS = re.compile(r"^/api/v2/status/([^/]+)/?$")
_DATASET = re.compile(r"^/api/v2/datasets/([^/]+)/?$")
_VERSION = "/api/v2/version/"
_FROM_URL = "/api/v2/datasets/fromURL/"
_FROM_FILE = "/api/v2/datasets/fromFile/"

# The limits of one fromJSON request, as DataRobot documents them. Rows per request: the R client's
# SubmitActuals, "batchSize ... Cannot exceed 10000"
# (https://search.r-project.org/CRAN/refmans/datarobot/html/SubmitActuals.html), and the Python
# client's submit_actuals sends at most batch_size=10000 rows a request
# (datarobot/models/deployment/deployment.py). Each row: associationId a string of at most 128
# characters and required, actualValue required (integer, number or string), timestamp a
# date-time or null, wasActedOn a boolean or null
# (https://docs.datarobot.com/en/docs/api/reference/public-api/observability_configuration.html).
MAX_ROWS = 10_000
MAX_ASSOCIATION_ID_LENGTH = 128
# DataRobot's hourly quota the receiver does not enforce; see issue 16 for the pacing work.
API_VERSION = {"major": 2, "minor": 36, "versionString": "2.36.0"}
"""Only ``versionString`` is read by the client (its major must not be above the client's)."""

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))", re.ASCII
)
"""RFC 3339 section 5.6 date-time (https://www.rfc-editor.org/rfc/rfc3339#section-5.6), the JSON
Schema "date-time" format the documentation gives the timestamp."""


def is_rfc3339(stamp: str) -> bool:
    match = _RFC3339.fullmatch(stamp)
    if match is None:
        return False
    year, month, day, hour, minute, second, offset_hours, offset_minutes = (
        int(group or 0) for group in match.groups()
    )
    try:
        date(year, month, day)
    except ValueError:
        return False
    return hour <= 23 and minute <= 59 and second <= 60 and offset_hours <= 23 and offset_minutes <= 59


def row_problem(index: int, row: Any) -> str | None:
    """Why one row of actuals would be refused, or None."""
    where = f"data[{index}]"
    if not isinstance(row, dict):
        return f"{where} must be an object"
    association_id = row.get("associationId")
    if not isinstance(association_id, str):
        return f"{where}.associationId is required and must be a string"
    if len(association_id) > MAX_ASSOCIATION_ID_LENGTH:
        return f"{where}.associationId is longer than {MAX_ASSOCIATION_ID_LENGTH} characters"
    value = row.get("actualValue")
    if value is None or isinstance(value, bool) or not isinstance(value, int | float | str):
        return f"{where}.actualValue is required and must be a number or a string"
    stamp = row.get("timestamp")
    if stamp is not None and not (isinstance(stamp, str) and is_rfc3339(stamp)):
        return f"{where}.timestamp must be an RFC 3339 date-time, got {str(stamp)[:40]!r}"
    acted = row.get("wasActedOn")
    if acted is not None and not isinstance(acted, bool):
        return f"{where}.wasActedOn must be a boolean, got {str(acted)[:20]!r}"
    return None


def submission_problem(document: Any) -> str | None:
    """Why a fromJSON body would be refused (422), or None."""
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        return 'body must be {"data": [...]}'
    rows = document["data"]
    if not rows:
        # The official client refuses empty data before sending ("data should not be empty",
        # datarobot/models/deployment/deployment.py, submit_actuals); the receiver is as strict.
        return "data must not be empty"
    if len(rows) > MAX_ROWS:
        return f"data has {len(rows)} rows; at most {MAX_ROWS} are accepted per request"
    for index, row in enumerate(rows):
        problem = row_problem(index, row)
        if problem:
            return problem
    return None


@dataclass
class _Job:
    """An asynchronous job: RUNNING for ``running_polls`` polls, then its outcome."""

    polls_left: int
    ready: threading.Event = field(default_factory=threading.Event)
    error: str | None = None
    result_path: str | None = None


@dataclass
class _Dataset:
    dataset_id: str
    version_id: str
    name: str
    content: bytes = b""
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


def fetch_url(url: str) -> bytes:
    """What the platform does with a fromURL request: an unauthenticated GET of the URL."""
    with urllib.request.urlopen(url, timeout=60) as answer:  # noqa: S310 - the URL the reporter gave
        return bytes(answer.read())


@dataclass(frozen=True)
class Quota:
    """At most ``actuals`` accepted per deployment in each window of ``window_seconds``."""

    actuals: int
    window_seconds: float


class ActualsReceiver:
    def __init__(
        self,
        token: str,
        quota: Quota | None = None,
        clock: Callable[[], float] = time.time,
        *,
        running_polls: int = 1,
        fetch: Callable[[str], bytes] = fetch_url,
    ) -> None:
        self.token = token
        self.quota = quota
        self._clock = clock
        self._windows: dict[tuple[str, int], dict[str, int]] = {}
        self.running_polls = running_polls
        self._fetch = fetch
        self._lock = threading.Lock()
        self.submissions: list[dict[str, Any]] = []
        self.datasets: dict[str, _Dataset] = {}
        self._jobs: dict[str, _Job] = {}

    def window_counts(self, deployment_id: str) -> dict[int, dict[str, int]]:
        """Actuals ``accepted`` and ``refused`` in each quota window, keyed by the window's number
        (its start is the number times ``window_seconds``); empty without a quota."""
        with self._lock:
            return {
                window: dict(counts)
                for (deployment, window), counts in sorted(self._windows.items())
                if deployment == deployment_id
            }

    def _over_quota(self, deployment_id: str, actuals: int) -> Response | None:
        """Count the submission in its window, or the 429 that refuses it. Holds the lock."""
        if self.quota is None:
            return None
        now = self._clock()
        window = int(now // self.quota.window_seconds)
        counts = self._windows.setdefault((deployment_id, window), {"accepted": 0, "refused": 0})
        if counts["accepted"] + actuals <= self.quota.actuals:
            counts["accepted"] += actuals
            return None
        counts["refused"] += actuals
        wait = max(1, math.ceil((window + 1) * self.quota.window_seconds - now))
        message = f"over the quota of {self.quota.actuals} actuals per {self.quota.window_seconds:g} s"
        return Response.json(429, {"message": message}, {"Retry-After": str(wait)})

    def rows(self, deployment_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [
                row
                for s in self.submissions
                if deployment_id in (None, s["deploymentId"])
                for row in s["data"]
            ]

    def __call__(self, request: Request) -> Response:
        path = request.path
        if request.method == "GET" and path.rstrip("/") in ("/received", ""):
            with self._lock:
                summary: dict[str, Any] = {
                    "submissions": len(self.submissions),
                    "rows": sum(len(s["data"]) for s in self.submissions),
                }
                if self.quota is not None:
                    summary["quota"] = {
                        "actuals": self.quota.actuals,
                        "windowSeconds": self.quota.window_seconds,
                        "windows": [
                            {"deploymentId": deployment, "window": window, **counts}
                            for (deployment, window), counts in sorted(self._windows.items())
                        ],
                    }
                return Response.json(200, {**summary, "received": self.submissions})
        if request.method == "GET" and path.startswith("/received/"):
            deployment = path.removeprefix("/received/").strip("/")
            return Response.json(200, {"deploymentId": deployment, "data": self.rows(deployment)})
        if not self._authorized(request.header("Authorization")):
            return Response.json(401, {"message": "Invalid token"})
        if request.method == "GET" and path.rstrip("/") + "/" == _VERSION:
            return Response.json(200, API_VERSION)
        routes: list[tuple[str, re.Pattern[str], Callable[[Request, re.Match[str]], Response]]] = [
            ("POST", _SUBMIT, self._submit),
            ("POST", _FROM_DATASET, self._from_dataset),
            ("GET", _STATUS, self._status),
        ]
        for method, pattern, handler in routes:
            match = pattern.match(path)
            if request.method == method and match:
                return handler(request, match)
        if request.method == "POST" and path.rstrip("/") + "/" == _FROM_URL:
            return self._from_url(request)
        if request.method == "POST" and path.rstrip("/") + "/" == _FROM_FILE:
            return self._from_file(request)
        dataset = _DATASET.match(path)
        if request.method == "GET" and dataset:
            return self._dataset(dataset[1])
        return Response.json(404, {"message": f"{request.method} {path} is not served"})

    def _authorized(self, header: str | None) -> bool:
        """DataRobot takes an API key as ``Token <key>`` (the official client's default
        ``authentication_type``, datarobot/rest.py) and as ``Bearer <key>`` (the API reference's
        BearerAuth)."""
        scheme, _, value = (header or "").partition(" ")
        return scheme in ("Bearer", "Token") and value == self.token

    def _url(self, request: Request, path: str) -> str:
        """An absolute URL on this server: the official client cannot join a path that starts with
        "/" to its endpoint ("Cannot add absolute path", datarobot/rest.py, _join_endpoint)."""
        host = request.header("Host") or "127.0.0.1"
        return f"http://{host}{path}"

    def _start_job(self, work: Callable[[], str | None] | None = None) -> str:
        """A job that is RUNNING until ``work`` returned (in a thread) and the first polls passed."""
        job_id = uuid.uuid4().hex
        job = _Job(self.running_polls)
        with self._lock:
            self._jobs[job_id] = job
        if work is None:
            job.ready.set()
            return job_id

        def run() -> None:
            try:
                job.result_path = work()
            except Exception as exc:
                job.error = f"{type(exc).__name__}: {exc}"
            finally:
                job.ready.set()

        threading.Thread(target=run, name=f"mlops-job-{job_id[:8]}", daemon=True).start()
        return job_id

    def _accepted(self, request: Request, job_id: str) -> Response:
        location = self._url(request, f"/api/v2/status/{job_id}/")
        return Response.json(202, {"statusId": job_id}, {"Location": location})

    def _submit(self, request: Request, match: re.Match[str]) -> Response:
        try:
            document = json.loads(request.body)
        except ValueError:
            return Response.json(422, {"message": "body is not JSON"})
        problem = submission_problem(document)
        if problem:
            return Response.json(422, {"message": problem})
        with self._lock:
            refused = self._over_quota(match[1], len(document["data"]))
        if refused is not None:
            return refused
        job_id = self._start_job()
        with self._lock:
            self.submissions.append({"deploymentId": match[1], "statusId": job_id, "data": document["data"]})
        return self._accepted(request, job_id)

    def _status(self, request: Request, match: re.Match[str]) -> Response:
        with self._lock:
            job = self._jobs.get(match[1])
            if job is None:
                return Response.json(404, {"message": "Unknown status"})
            running = job.polls_left > 0 or not job.ready.is_set()
            job.polls_left = max(0, job.polls_left - 1)
        status = {"statusId": match[1], "message": "", "code": 0}
        if running:
            return Response.json(200, {**status, "status": "RUNNING"})
        if job.error is not None:
            return Response.json(200, {**status, "status": "ERROR", "message": job.error})
        if job.result_path is not None:
            # A finished job that created something redirects to it; the client reads the 303's
            # Location (datarobot/utils/waiters.py, wait_for_async_resolution).
            return Response(303, b"", {"Location": self._url(request, job.result_path)})
        return Response.json(200, {**status, "status": "COMPLETED"})

    # The dataset path ----------------------------------------------------------------------------

    def _register(self, name: str, content: Callable[[], bytes]) -> Callable[[], str]:
        def work() -> str:
            data = content()
            dataset = _Dataset(uuid.uuid4().hex[:24], uuid.uuid4().hex[:24], name, data)
            with self._lock:
                self.datasets[dataset.dataset_id] = dataset
            return f"/api/v2/datasets/{dataset.dataset_id}/"

        return work

    def _from_url(self, request: Request) -> Response:
        """Body ``{"url": ...}`` (the official client's Dataset.create_from_url,
        datarobot/models/dataset.py); the platform fetches the URL while the status runs."""
        try:
            url = json.loads(request.body)["url"]
        except (ValueError, KeyError, TypeError):
            return Response.json(422, {"message": 'body must be {"url": "..."}'})
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            return Response.json(422, {"message": "url must be an http(s) URL"})
        name = url.split("?", 1)[0].rsplit("/", 1)[-1] or "data.csv"
        job_id = self._start_job(self._register(name, lambda: self._fetch(url)))
        return self._accepted(request, job_id)

    def _from_file(self, request: Request) -> Response:
        """Multipart form data with the file in the field ``file`` (datarobot/rest.py,
        build_request_with_file, used by Dataset.create_from_file)."""
        content_type = request.header("Content-Type") or ""
        if not content_type.startswith("multipart/form-data"):
            return Response.json(422, {"message": "expected multipart/form-data with a file field"})
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + request.body
        )
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == "file":
                payload = part.get_payload(decode=True)
                name = part.get_filename() or "data.csv"
                job_id = self._start_job(self._register(name, lambda data=payload: bytes(data or b"")))
                return self._accepted(request, job_id)
        return Response.json(422, {"message": "the form has no file field"})

    def _dataset(self, dataset_id: str) -> Response:
        with self._lock:
            dataset = self.datasets.get(dataset_id)
        if dataset is None:
            return Response.json(404, {"message": "Dataset not found"})
        # The fields the official client's Dataset requires (datarobot/models/dataset.py).
        return Response.json(
            200,
            {
                "datasetId": dataset.dataset_id,
                "versionId": dataset.version_id,
                "name": dataset.name,
                "categories": [],
                "creationDate": dataset.created,
                "isDataEngineEligible": False,
                "isLatestVersion": True,
                "isSnapshot": True,
                "datasetSize": len(dataset.content),
                # Optional in the official client's Dataset schema (row_count); data lines after the header.
                "rowCount": max(0, len(dataset.content.splitlines()) - 1),
                "processingState": "COMPLETED",
            },
        )

    def _from_dataset(self, request: Request, match: re.Match[str]) -> Response:
        """The column mapping of POST .../actuals/fromDataset/ (datasetId, associationIdColumn and
        actualValueColumn, optional datasetVersionId, timestampColumn, wasActedOnColumn), as the
        API reference's body and the official client's submit_actuals_from_catalog_async send it."""
        try:
            body = json.loads(request.body)
        except ValueError:
            return Response.json(422, {"message": "body is not JSON"})
        required = ("datasetId", "associationIdColumn", "actualValueColumn")
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) for k in required):
            return Response.json(422, {"message": f"body must name {', '.join(required)}"})
        with self._lock:
            dataset = self.datasets.get(body["datasetId"])
        version = body.get("datasetVersionId")
        if dataset is None or version not in (None, dataset.version_id):
            missing = f"dataset {body['datasetId']} (version {version}) not found"
            return Response.json(422, {"message": missing})
        try:
            rows = _rows_of(dataset.content, body)
        except ValueError as exc:
            return Response.json(422, {"message": str(exc)})
        job_id = self._start_job()
        with self._lock:
            self.submissions.append(
                {"deploymentId": match[1], "statusId": job_id, "datasetId": dataset.dataset_id, "data": rows}
            )
        return self._accepted(request, job_id)


def _rows_of(content: bytes, mapping: dict[str, Any]) -> list[dict[str, Any]]:
    """The dataset's rows as actuals, under the same rules as a fromJSON row."""
    reader = csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline=""))
    columns = {
        "associationId": mapping["associationIdColumn"],
        "actualValue": mapping["actualValueColumn"],
        "timestamp": mapping.get("timestampColumn"),
        "wasActedOn": mapping.get("wasActedOnColumn"),
    }
    header = reader.fieldnames or []
    missing = [column for column in columns.values() if column is not None and column not in header]
    if missing:
        raise ValueError(f"dataset has no column(s) {', '.join(missing)}")
    rows: list[dict[str, Any]] = []
    for index, record in enumerate(reader):
        row: dict[str, Any] = {
            "associationId": record[columns["associationId"]],
            "actualValue": record[columns["actualValue"]],
        }
        if columns["timestamp"] and record[columns["timestamp"]]:
            row["timestamp"] = record[columns["timestamp"]]
        if columns["wasActedOn"] and record[columns["wasActedOn"]]:
            flag = record[columns["wasActedOn"]].strip().lower()
            row["wasActedOn"] = {"true": True, "false": False}.get(flag, flag)
        problem = row_problem(index, row)
        if problem:
            raise ValueError(problem.replace("data[", "dataset row [", 1))
        rows.append(row)
    if not rows:
        raise ValueError("dataset has no rows")
    return rows
