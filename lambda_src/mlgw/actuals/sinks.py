"""Where chunks of actuals go: the DataRobot actuals API, SageMaker Model Monitor ground truth, or both.

A sink must make redelivery of the same chunk harmless or detectable, because a chunk
in flight when an invocation dies is sent again by the retry. The ground-truth sink
writes each chunk to a key derived only from the input file and the chunk number, so a
second write replaces the first with identical content.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from mlgw.actuals.client import ActualsApi, StatusGone
from mlgw.actuals.csvfile import ACTUAL_VALUE, ASSOCIATION_ID


@dataclass(frozen=True, slots=True)
class Chunk:
    index: int
    rows: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Target:
    """The input file the chunks come from, as the sinks need to know it."""

    deployment_id: str
    stem: str
    etag: str
    uploaded_at: datetime


class Sink(Protocol):
    name: str

    def deliver(
        self,
        target: Target,
        chunk: Chunk,
        deadline: float,
        pending_status: str | None,
        on_submitted: Callable[[str], None],
    ) -> None: ...


def datarobot_body(rows: list[dict[str, Any]]) -> bytes:
    return json.dumps({"data": rows}, separators=(",", ":")).encode()


class DataRobotSink:
    name = "datarobot"

    def __init__(self, api: ActualsApi) -> None:
        self._api = api

    def deliver(
        self,
        target: Target,
        chunk: Chunk,
        deadline: float,
        pending_status: str | None,
        on_submitted: Callable[[str], None],
    ) -> None:
        """Finish an earlier submission if its status is still known, otherwise submit anew."""
        if pending_status is not None:
            try:
                self._api.wait(pending_status, deadline)
            except StatusGone:
                pass
            else:
                return
        status_url = self._api.submit(target.deployment_id, datarobot_body(chunk.rows), deadline)
        if status_url is None:
            return
        on_submitted(status_url)
        self._api.wait(status_url, deadline)


def ground_truth_line(row: dict[str, Any]) -> str:
    """One record in Model Monitor's ground-truth merge format; the label travels as CSV text."""
    return json.dumps(
        {
            "groundTruthData": {"data": str(row[ACTUAL_VALUE]), "encoding": "CSV"},
            "eventMetadata": {"eventId": row[ASSOCIATION_ID]},
            "eventVersion": "0",
        },
        separators=(",", ":"),
    )


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

    def deliver(
        self,
        target: Target,
        chunk: Chunk,
        deadline: float,
        pending_status: str | None,
        on_submitted: Callable[[str], None],
    ) -> None:
        body = "\n".join(ground_truth_line(row) for row in chunk.rows) + "\n"
        self._s3.put_object(
            Bucket=self._bucket,
            Key=self.key_for(target, chunk.index),
            Body=body.encode(),
            ContentType="application/jsonlines",
        )
