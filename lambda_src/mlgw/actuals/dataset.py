"""The platform's dataset path: a very large actuals file is read by the platform, not by the function.

Streaming a file through the function costs API time the hourly actuals quota bounds (10,000,000
actuals per hour and deployment, https://docs.datarobot.com/en/docs/api/reference/public-api/observability_configuration.html),
however fast the function parses. Above ``dataset_path.min_bytes`` the file is instead registered
as a dataset of the platform and its actuals are submitted from that dataset:

1. ``POST /api/v2/datasets/fromURL/`` with ``{"url": <presigned S3 GET URL>}``, or, where the
   platform cannot fetch URLs (``fetch = "upload"``), ``POST /api/v2/datasets/fromFile/`` with the
   file streamed from S3 as the multipart field ``file``. Both answer 202 and a status ``Location``
   whose last answer is a 303 to the new dataset (the official client's Dataset.create_from_url and
   create_from_file, datarobot/models/dataset.py, then wait_for_async_resolution and from_location,
   datarobot/utils/waiters.py). The dataset's ``datasetId`` and ``versionId`` identify it.
2. ``POST /api/v2/deployments/{id}/actuals/fromDataset/`` with the dataset and the column mapping
   (``datasetId``, ``datasetVersionId``, ``associationIdColumn``, ``actualValueColumn``, and
   ``timestampColumn``/``wasActedOnColumn`` when the file has them: the API reference's body, and
   the official client's submit_actuals_from_catalog_async), 202 and a status to poll.

Only the header line is read here, for the column mapping; the rows are validated by the platform,
whose message a refused file's report carries. The step reached is kept in a small object beside
the file's state object, so an invocation that runs out of time resumes polling instead of
registering the file again. The submission is at least once in one window: between the fromDataset
request and the write of its status URL.
"""

from __future__ import annotations

import csv
import io
import json
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath
from typing import Any

import urllib3
from botocore.exceptions import ClientError
from urllib3.exceptions import HTTPError as Urllib3Error

from mlgw.actuals.client import (
    RESPONSE_TEXT_LIMIT,
    ActualsApi,
    MaybeAccepted,
    PermanentDeliveryError,
    TokenProvider,
    TransientDeliveryError,
)
from mlgw.actuals.csvfile import ACTUAL_VALUE, ASSOCIATION_ID, TIMESTAMP, WAS_ACTED_ON
from mlgw.actuals.quota import SharedBudget
from mlgw.actuals.settings import DATASET_FETCH_URL, SINK_DATAROBOT, ActualsSettings
from mlgw.pipeline.objects import InputFile, ObjectChanged, error_code, open_pinned

HEADER_BYTES = 64 * 1024
"""The header line must fit in this many bytes; only they are read."""
PROGRESS_SUFFIX = ".dataset.json"


class DatasetRejected(Exception):
    """The file cannot go to the platform as it is; ``detail`` goes into its report."""

    def __init__(self, reason: str, **detail: Any) -> None:
        super().__init__(reason)
        self.detail = detail


@dataclass(slots=True)
class DatasetProgress:
    """The steps of one file version done so far."""

    etag: str
    dataset_status: str | None = None
    dataset_id: str | None = None
    dataset_version_id: str | None = None
    actuals_status: str | None = None
    row_count: int | None = None
    charged: bool = False
    signed_again: bool = False

    def to_json(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> DatasetProgress:
        data = json.loads(raw)
        return cls(**{name: data.get(name) for name in cls.__dataclass_fields__})


def column_mapping(header: str) -> dict[str, str]:
    """The fromDataset column fields for a header line; the names are case-sensitive, as the
    streaming path reads them."""
    names = [name.strip() for name in next(csv.reader(io.StringIO(header)), [])]
    for name in (ASSOCIATION_ID, ACTUAL_VALUE, TIMESTAMP, WAS_ACTED_ON):
        if names.count(name) > 1:
            raise DatasetRejected(f"column {name!r} appears more than once in the header")
    missing = [name for name in (ASSOCIATION_ID, ACTUAL_VALUE) if name not in names]
    if missing:
        raise DatasetRejected(
            f"header lacks {', '.join(missing)} (names are case-sensitive); found {', '.join(names)[:500]}"
        )
    mapping = {"associationIdColumn": ASSOCIATION_ID, "actualValueColumn": ACTUAL_VALUE}
    if TIMESTAMP in names:
        # Marked deprecated since API v2.32 in the reference, still accepted and still sent by the
        # official client when given; the streaming path sends timestamps too.
        mapping["timestampColumn"] = TIMESTAMP
    if WAS_ACTED_ON in names:
        mapping["wasActedOnColumn"] = WAS_ACTED_ON
    return mapping


class DatasetPath:
    def __init__(
        self,
        settings: ActualsSettings,
        s3: Any,
        *,
        presigner: Any,
        api: ActualsApi,
        http: urllib3.PoolManager,
        tokens: TokenProvider,
        logger: Any,
        budget: SharedBudget | None = None,
    ) -> None:
        self._budget = budget
        self._settings = settings
        self._s3 = s3
        self._presigner = presigner
        self._api = api
        self._http = http
        self._tokens = tokens
        self._log = logger

    def applies(self, size: int) -> bool:
        """A file of ``size`` bytes takes this path: it is on, large enough, and the platform is the
        only sink (Model Monitor ground truth is written from the streamed rows)."""
        path = self._settings.dataset_path
        return path.enabled and self._settings.sinks == frozenset({SINK_DATAROBOT}) and size >= path.min_bytes

    def deliver(
        self, source: InputFile, deployment_id: str, state_key: str, size: int, deadline: float
    ) -> None:
        """Register the file as a dataset and submit its actuals, resuming where an earlier
        invocation stopped. Raises DatasetRejected, PermanentDeliveryError for what the platform
        refused, TransientDeliveryError or ObjectChanged for a retry."""
        progress = self._load(state_key, source.etag)
        mapping = column_mapping(self._header(source))
        if progress.dataset_id is None:
            if progress.dataset_status is None:
                progress.dataset_status = self._register(source, size, deadline)
                self._save(state_key, progress)
            location = self._registered(source, size, state_key, progress, deadline)
            progress.dataset_id, progress.dataset_version_id, progress.row_count = self._dataset_of(
                location, deadline
            )
            self._save(state_key, progress)
            self._log.info("the platform registered the file", extra={"key": source.key, "path": "dataset"})
        if progress.actuals_status is None:
            self._check_unchanged(source)
            self._charge(deployment_id, state_key, progress, deadline)
            body = {
                "datasetId": progress.dataset_id,
                "datasetVersionId": progress.dataset_version_id,
                **mapping,
            }
            url = self._api.url(f"api/v2/deployments/{deployment_id}/actuals/fromDataset/")
            # Sent once: the endpoint takes no idempotency key, so a repeat after a failure that
            # may have reached the platform would submit the whole file again. Such a failure
            # (MaybeAccepted) fails the file with a report saying its actuals may have arrived.
            progress.actuals_status = self._accepted(
                self._api.request("POST", url, json.dumps(body).encode(), deadline, resend=False),
                "actuals from the dataset",
            )
            self._save(state_key, progress)
        self._api.wait(progress.actuals_status, deadline)
        self._log.info(
            "the platform took the file's actuals",
            extra={"key": source.key, "path": "dataset", "dataset_id": progress.dataset_id, "bytes": size},
        )

    def _registered(
        self, source: InputFile, size: int, state_key: str, progress: DatasetProgress, deadline: float
    ) -> str | None:
        """Wait for the registration; where the platform fetched a URL and the registration
        failed, sign a fresh URL and register once more before the failure stands.

        A URL stops working when the credentials that signed it expire, before its own expiry
        (https://repost.aws/knowledge-center/presigned-url-s3-bucket-expiration), and the
        platform's status does not say reliably why its fetch failed, so any failed registration
        from a URL is tried once more: a second dataset is harmless, no actuals were submitted.
        """
        assert progress.dataset_status is not None
        try:
            return self._api.wait(progress.dataset_status, deadline)
        except PermanentDeliveryError as exc:
            if self._settings.dataset_path.fetch != DATASET_FETCH_URL or progress.signed_again:
                raise
            self._log.warning(
                "the dataset registration failed; signing a fresh URL and registering once more",
                extra={"key": source.key, **exc.detail},
            )
        progress.signed_again = True
        progress.dataset_status = None
        self._save(state_key, progress)
        progress.dataset_status = self._register(source, size, deadline)
        self._save(state_key, progress)
        return self._api.wait(progress.dataset_status, deadline)

    def _charge(self, deployment_id: str, state_key: str, progress: DatasetProgress, deadline: float) -> None:
        """Spend the file's actuals from the deployment's shared hourly budget before the platform
        ingests them, so streamed files of the same deployment pace behind it.

        The cost is the dataset's ``rowCount`` (optional in the official client's Dataset schema,
        datarobot/models/dataset.py) times what one row counts for the deployment. A file over a
        whole window's budget spends the whole window: the platform paces its own ingestion, and
        the budget only has to keep the streamed files from adding to it. Without a row count the
        file is not charged (counting the rows would mean reading the file the path avoids).
        Charged once per file version: the flag is written before the submission.
        """
        if self._budget is None or progress.charged or progress.row_count is None:
            return
        per_row = self._api.deployment(deployment_id, deadline).actuals_per_row()
        cost = min(progress.row_count * per_row, self._budget.allowance)
        if cost > 0:
            self._budget.acquire(deployment_id, cost, deadline)
        progress.charged = True
        self._save(state_key, progress)

    def forget(self, state_key: str) -> None:
        """Drop the record of the steps once the file is finished, one way or the other."""
        self._s3.delete_object(Bucket=self._settings.bucket, Key=state_key + PROGRESS_SUFFIX)

    def _load(self, state_key: str, etag: str) -> DatasetProgress:
        try:
            raw = self._s3.get_object(Bucket=self._settings.bucket, Key=state_key + PROGRESS_SUFFIX)[
                "Body"
            ].read()
        except ClientError as exc:
            if error_code(exc) in {"NoSuchKey", "404"}:
                return DatasetProgress(etag)
            raise
        progress = DatasetProgress.from_json(raw)
        return progress if progress.etag == etag else DatasetProgress(etag)

    def _save(self, state_key: str, progress: DatasetProgress) -> None:
        """A plain write: the file's state object already holds the lease on it."""
        self._s3.put_object(
            Bucket=self._settings.bucket,
            Key=state_key + PROGRESS_SUFFIX,
            Body=progress.to_json(),
            ContentType="application/json",
        )

    def _header(self, source: InputFile) -> str:
        try:
            response = self._s3.get_object(
                Bucket=source.bucket, Key=source.key, IfMatch=source.etag, Range=f"bytes=0-{HEADER_BYTES - 1}"
            )
        except ClientError as exc:
            if error_code(exc) in {"PreconditionFailed", "412", "NoSuchKey"}:
                raise ObjectChanged("input changed while it was being processed") from None
            raise
        head = response["Body"].read()
        line_end = head.find(b"\n")
        if line_end < 0:
            raise DatasetRejected(f"the header line is longer than {HEADER_BYTES} bytes")
        try:
            return head[:line_end].decode("utf-8-sig").rstrip("\r")
        except UnicodeDecodeError as exc:
            raise DatasetRejected(f"the header line is not UTF-8 text: {exc.reason}") from None

    def _check_unchanged(self, source: InputFile) -> None:
        """The dataset was read from the version seen at the start, unless the file was replaced."""
        found = self._s3.head_object(Bucket=source.bucket, Key=source.key)
        if found["ETag"] != source.etag:
            raise ObjectChanged("input was replaced while the platform read it")

    def _register(self, source: InputFile, size: int, deadline: float) -> str:
        """Start the dataset registration; returns its status URL."""
        if self._settings.dataset_path.fetch == DATASET_FETCH_URL:
            # Signed with the function role's credentials (the client's default chain), which hold
            # s3:GetObject on the input prefix. A URL signed with temporary credentials stops working
            # when they expire, whatever its own expiry
            # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-presigned-url.html).
            url = self._presigner.generate_presigned_url(
                "get_object",
                Params={"Bucket": source.bucket, "Key": source.key},
                ExpiresIn=self._settings.dataset_path.url_expiry_seconds,
            )
            endpoint = self._api.url("api/v2/datasets/fromURL/")
            try:
                response = self._api.request(
                    "POST", endpoint, json.dumps({"url": url}).encode(), deadline, resend=False
                )
            except MaybeAccepted as exc:
                # Not repeated at once; the invocation's retry registers again. A registration
                # submits no actuals, so at worst the platform keeps a dataset nothing uses.
                raise TransientDeliveryError(
                    str(exc), status=exc.status, response_text=exc.response_text
                ) from None
            return self._accepted(response, "dataset from the URL")
        return self._accepted(self._upload(source, size, deadline), "dataset upload")

    def _upload(self, source: InputFile, size: int, deadline: float) -> Any:
        """The file as the multipart field ``file`` (datarobot/rest.py, build_request_with_file),
        streamed from S3 in chunks with its length known up front, so it is never whole in memory.
        A refused token is fetched again once; nothing else is retried within the invocation,
        because the body cannot be sent twice without reading the file twice."""
        boundary = uuid.uuid4().hex
        name = PurePosixPath(source.key).name.replace('"', "_")
        head = (
            f"--{boundary}\r\n"
            f'Content-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        tail = f"\r\n--{boundary}--\r\n".encode()
        url = self._api.url("api/v2/datasets/fromFile/")
        token = self._tokens.current()
        for attempt in range(2):
            headers = {
                "Authorization": f"Bearer {token}",
                "Accept": "application/json",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
                "Content-Length": str(len(head) + size + len(tail)),
            }
            try:
                response = self._http.request(
                    "POST",
                    url,
                    body=self._body(source, head, tail),
                    headers=headers,
                    timeout=urllib3.Timeout(
                        connect=self._settings.connect_timeout, read=self._settings.read_timeout
                    ),
                    retries=False,
                    redirect=False,
                )
            except Urllib3Error as exc:
                raise TransientDeliveryError(
                    f"dataset upload failed without a response: {type(exc).__name__}"
                ) from None
            if response.status == 401 and attempt == 0:
                token = self._tokens.refresh(token)
                continue
            if response.status == 429 or response.status >= 500:
                raise TransientDeliveryError(
                    f"dataset upload answered {response.status}",
                    status=response.status,
                    response_text=_text(response),
                )
            return response
        raise AssertionError("unreachable: the second attempt always returns or raises")

    def _body(self, source: InputFile, head: bytes, tail: bytes) -> Iterator[bytes]:
        yield head
        yield from open_pinned(self._s3, source.bucket, source.key, source.etag)
        yield tail

    def _accepted(self, response: Any, what: str) -> str:
        """The status URL of a 202; any other answer is the platform refusing ``what``."""
        location = response.headers.get("Location")
        if response.status == 202 and location:
            return self._api.url(location)
        raise PermanentDeliveryError(
            f"{what} answered {response.status}", status=response.status, response_text=_text(response)
        )

    def _dataset_of(self, location: str | None, deadline: float) -> tuple[str, str, int | None]:
        """The id, version and row count (when the platform says) of the dataset a finished
        registration points to."""
        if location is None:
            raise PermanentDeliveryError("the dataset registration finished without naming its dataset")
        response = self._api.request("GET", location, None, deadline)
        try:
            dataset = json.loads(response.data or b"{}") if response.status == 200 else {}
        except ValueError:
            dataset = {}
        dataset_id, version_id = dataset.get("datasetId"), dataset.get("versionId")
        if not isinstance(dataset_id, str) or not isinstance(version_id, str):
            raise PermanentDeliveryError(
                "the registered dataset could not be read",
                status=response.status,
                response_text=_text(response),
            )
        rows = dataset.get("rowCount")
        count = rows if isinstance(rows, int) and not isinstance(rows, bool) and rows >= 0 else None
        return dataset_id, version_id, count


def _text(response: Any) -> str:
    return bytes(response.data or b"")[:RESPONSE_TEXT_LIMIT].decode("utf-8", errors="replace")
