"""Where chunks of actuals go: the DataRobot actuals API, SageMaker Model Monitor ground truth, or both.

A sink must make redelivery of the same chunk harmless or detectable, because a chunk
in flight when an invocation dies is sent again by the retry. The ground-truth sink
writes each chunk to a key derived only from the input file and the chunk number, so a
second write replaces the first with identical content.

Encoding and delivery are separate steps: a chunk is encoded once, as soon as it is
read, and only its bytes wait for a free request slot (or in the spool file), which is
far smaller than the rows they were made from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from json.encoder import encode_basestring_ascii
from typing import Any, Protocol

from mlgw.actuals.client import ActualsApi, StatusGone
from mlgw.actuals.csvfile import Batch, RowRules
from mlgw.actuals.quota import SharedBudget

_ROW_WITH_EXTRAS = '{"associationId":%s,"actualValue":%s%s}'
_GROUND_TRUTH = (
    '{"groundTruthData":{"data":%s,"encoding":"CSV"},"eventMetadata":{"eventId":%s},"eventVersion":"0"}'
)
_CSV_SPECIAL = (",", '"', "\r", "\n")


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int
    batch: Batch


@dataclass(frozen=True, slots=True)
class Target:
    """The input file the chunks come from, as the sinks need to know it."""

    deployment_id: str
    stem: str
    etag: str
    uploaded_at: datetime


class Sink(Protocol):
    name: str

    def row_rules(self, target: Target, deadline: float) -> RowRules:
        """What this sink needs of every row of the target's file; asked once per file."""
        ...

    def encode(self, batch: Batch) -> bytes: ...

    def check(self, target: Target, rows: int) -> None:
        """Raise PermanentDeliveryError if a chunk of ``rows`` rows could never be delivered;
        asked before the chunk is handed to a sending thread."""
        ...

    def deliver(
        self,
        target: Target,
        index: int,
        payload: bytes,
        *,
        rows: int,
        deadline: float,
        pending_status: str | None,
    ) -> str | None:
        """Send one chunk of ``rows`` rows; a status URL when the sink took it but has yet to
        confirm it."""
        ...

    def confirm(self, status_url: str, deadline: float) -> None:
        """Wait until a chunk ``deliver`` left unconfirmed is confirmed; raise if it fails."""
        ...


def datarobot_body(batch: Batch) -> bytes:
    """``{"data": [...]}`` assembled from the pre-encoded columns, without a dict per row."""
    if not len(batch):
        return b'{"data":[]}'
    if batch.extras_json is None:
        rows = map(',"actualValue":'.join, zip(batch.ids_json, batch.values_json, strict=True))
        return ('{"data":[{"associationId":' + '},{"associationId":'.join(rows) + "}]}").encode()
    rows = map(
        _ROW_WITH_EXTRAS.__mod__, zip(batch.ids_json, batch.values_json, batch.extras_json, strict=True)
    )
    return ('{"data":[' + ",".join(rows) + "]}").encode()


class DataRobotSink:
    """Paced by the deployment's shared budget when there is one: a chunk's cost is its rows
    times what one row counts for the deployment, learned once per file."""

    name = "datarobot"

    def __init__(self, api: ActualsApi, budget: SharedBudget | None = None) -> None:
        self._api = api
        self._budget = budget
        self._per_row: dict[str, int] = {}

    def row_rules(self, target: Target, deadline: float) -> RowRules:
        """Numbers for a regression deployment; for any other kind the values as written."""
        info = self._api.deployment(target.deployment_id, deadline)
        self._per_row[target.deployment_id] = info.actuals_per_row()
        return RowRules(numeric_values=(info.target_type or "").lower() == "regression")

    def cost(self, target: Target, rows: int) -> int:
        return rows * self._per_row.get(target.deployment_id, 1)

    def check(self, target: Target, rows: int) -> None:
        """A chunk that costs more than the budget of a whole window is refused (ChunkOverBudget)."""
        if self._budget is not None:
            self._budget.check(self.cost(target, rows))

    def encode(self, batch: Batch) -> bytes:
        return datarobot_body(batch)

    def deliver(
        self,
        target: Target,
        index: int,
        payload: bytes,
        *,
        rows: int,
        deadline: float,
        pending_status: str | None,
    ) -> str | None:
        """Finish an earlier submission if its status is still known, otherwise submit anew."""
        if pending_status is not None:
            try:
                self._api.wait(pending_status, deadline)
            except StatusGone:
                pass
            else:
                return None
        if self._budget is not None:
            self._budget.acquire(target.deployment_id, self.cost(target, rows), deadline)
        return self._api.submit(target.deployment_id, payload, deadline)

    def confirm(self, status_url: str, deadline: float) -> None:
        self._api.wait(status_url, deadline)


def csv_field(text: str) -> str:
    """One CSV field: quoted, with quotes doubled, when it holds a separator, a quote or a line
    break (RFC 4180 section 2, https://www.rfc-editor.org/rfc/rfc4180#section-2), else as is."""
    if any(char in text for char in _CSV_SPECIAL):
        return '"' + text.replace('"', '""') + '"'
    return text


def ground_truth_lines(batch: Batch) -> bytes:
    """Records in Model Monitor's ground-truth merge format
    (https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-model-quality-merge.html):
    the label is one field of CSV text ("encoding": "CSV"), so a label holding a comma is quoted,
    or the merge job would read two fields."""
    joined = "".join(batch.texts)
    texts = map(csv_field, batch.texts) if any(char in joined for char in _CSV_SPECIAL) else batch.texts
    data = map(encode_basestring_ascii, texts)
    return ("\n".join(map(_GROUND_TRUTH.__mod__, zip(data, batch.ids_json, strict=True))) + "\n").encode()


class ModelMonitorSink:
    """Writes JSON Lines under ``<prefix><endpoint>/yyyy/mm/dd/hh/`` for the model-quality merge job.

    The hour is the upload time of the input file, not the time of processing, so a
    retried chunk lands on the same key and the merge job sees labels in the hour they
    became available.
    """

    name = "model-monitor"

    def __init__(self, s3: Any, bucket: str, prefix: str, endpoint: str | None) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix
        self._endpoint = endpoint

    def key_for(self, target: Target, chunk_index: int) -> str:
        endpoint = self._endpoint or target.deployment_id
        hour = target.uploaded_at.strftime("%Y/%m/%d/%H")
        return f"{self._prefix}{endpoint}/{hour}/{target.stem}-{target.etag[:16]}-{chunk_index:06d}.jsonl"

    def row_rules(self, target: Target, deadline: float) -> RowRules:
        """associationId becomes the eventId Model Monitor merges on a captured InferenceId."""
        return RowRules(inference_ids=True)

    def encode(self, batch: Batch) -> bytes:
        return ground_truth_lines(batch)

    def check(self, target: Target, rows: int) -> None:
        """S3 takes a chunk of any row count the reporter makes."""

    def deliver(
        self,
        target: Target,
        index: int,
        payload: bytes,
        *,
        rows: int,
        deadline: float,
        pending_status: str | None,
    ) -> str | None:
        """S3's answer to the write is the confirmation, so nothing is left to confirm."""
        self._s3.put_object(
            Bucket=self._bucket,
            Key=self.key_for(target, index),
            Body=payload,
            ContentType="application/jsonlines",
        )
        return None

    def confirm(self, status_url: str, deadline: float) -> None:
        raise AssertionError("ground-truth writes never leave a chunk to confirm")
