"""The metrics local mode's functions and gateway publish, kept out of the terminal.

Functions publish their own metrics as CloudWatch embedded metric format (EMF) documents, one
JSON object a line on stdout, which Lambda's log pipeline turns into metrics
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html).
Each worker takes those lines out of its stdout (`EmfCapture`); the parent writes every document,
and the ones local mode publishes on behalf of Lambda and API Gateway, to one metrics file per
instance (`MetricsFile`) and hands their datapoints to the alarm evaluator.
"""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO


@dataclass(frozen=True)
class Datapoint:
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]  # sorted (name, value) pairs
    timestamp: float  # seconds since the epoch
    value: float


def is_emf(document: Any) -> bool:
    """An EMF document: a root object whose ``_aws`` member has a ``CloudWatchMetrics`` array."""
    if not isinstance(document, dict):
        return False
    meta = document.get("_aws")
    return isinstance(meta, dict) and isinstance(meta.get("CloudWatchMetrics"), list)


def datapoints(document: Mapping[str, Any]) -> Iterator[Datapoint]:
    """The datapoints of one EMF document: each metric of each directive, once per dimension set,
    its value (or each value of its array) taken from the root member of the metric's name."""
    meta = document["_aws"]
    timestamp = float(meta.get("Timestamp") or time.time() * 1000) / 1000
    for directive in meta["CloudWatchMetrics"]:
        namespace = directive.get("Namespace")
        if not isinstance(namespace, str):
            continue
        dimension_sets = directive.get("Dimensions") or [[]]
        for metric in directive.get("Metrics") or []:
            name = metric.get("Name")
            raw = document.get(name)
            values = raw if isinstance(raw, list) else [raw]
            numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
            for dimension_set in dimension_sets:
                dimensions = tuple(sorted((d, str(document.get(d, ""))) for d in dimension_set))
                for value in numbers:
                    yield Datapoint(namespace, name, dimensions, timestamp, value)


def emf(
    namespace: str, dimensions: Mapping[str, str], values: Mapping[str, float], timestamp: float | None = None
) -> dict[str, Any]:
    """An EMF document for metrics local mode publishes itself (the ones AWS services publish)."""
    return {
        "_aws": {
            "Timestamp": int((time.time() if timestamp is None else timestamp) * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [sorted(dimensions)],
                    "Metrics": [{"Name": name} for name in values],
                }
            ],
        },
        **dimensions,
        **values,
    }


class EmfCapture(io.TextIOBase):
    """A worker's stdout: EMF lines are kept for the parent, every other line passes through."""

    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._partial = ""
        self._documents: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            lines = (self._partial + text).split("\n")
            self._partial = lines.pop()
            for line in lines:
                document = _json_object(line)
                if document is not None and is_emf(document):
                    self._documents.append(document)
                else:
                    self._out.write(line + "\n")
            self._out.flush()
        return len(text)

    def flush(self) -> None:
        self._out.flush()

    def take(self) -> list[dict[str, Any]]:
        """The EMF documents written since the last call."""
        with self._lock:
            taken, self._documents = self._documents, []
        return taken


def _json_object(line: str) -> dict[str, Any] | None:
    line = line.strip()
    if not line.startswith("{"):
        return None
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class MetricsFile:
    """Appends every EMF document to one file (JSON lines) and passes its datapoints on."""

    def __init__(self, path: Path, listener: Callable[[list[Datapoint]], None] | None = None) -> None:
        self.path = path
        self._listener = listener
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("", encoding="utf-8")

    def record(self, documents: Iterable[Mapping[str, Any]]) -> None:
        documents = [d for d in documents if is_emf(d)]
        if not documents:
            return
        with self._lock, self.path.open("a", encoding="utf-8") as out:
            for document in documents:
                out.write(json.dumps(document, separators=(",", ":")) + "\n")
        if self._listener is not None:
            self._listener([point for document in documents for point in datapoints(document)])
