"""The access log: one line per request local mode answers, rejected ones included.

A line reads ``time where method path [key=name] status latency -> target[: note]``: ``where`` is
the stage (or ``sagemaker-runtime``, ``lambda`` for the fronts of those APIs), the target is the
function or integration the request went to, or the gateway response that refused it, and the note
carries what explains a failure (a model container's own error message).
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

log = logging.getLogger("mlgw_local.access")
# Requests the gateway makes to the runtime front carry this header: the gateway's own line
# already tells them (with the model's message), so the front does not log them twice.
GATEWAY_CALLER = "X-Mlgw-Local-Caller"


def record(
    where: str,
    method: str,
    path: str,
    *,
    status: int,
    seconds: float,
    target: str,
    key: str | None = None,
    note: str | None = None,
) -> None:
    now = datetime.now().strftime("%H:%M:%S.%f")[:-3]
    key_part = f" key={key}" if key is not None else ""
    note_part = f": {' '.join(note.split())}" if note else ""
    log.info(
        "%s %s %s %s%s %d %.0fms -> %s%s",
        now,
        where,
        method,
        path,
        key_part,
        status,
        seconds * 1000,
        target,
        note_part,
    )


def runtime_error(status: int, body: bytes) -> str:
    """A SageMaker runtime error as a line tells it: for a ModelError, the container's status and
    its own message (the "message" of a JSON error body, else the body)."""
    try:
        document: Any = json.loads(body)
    except ValueError:
        return f"the runtime answered {status}"
    if not isinstance(document, dict):
        return f"the runtime answered {status}"
    if "OriginalStatusCode" not in document:
        return f"the runtime answered {status}: {document.get('message') or document.get('Message')}"
    original = str(document.get("OriginalMessage") or "")
    try:
        inner = json.loads(original)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            original = inner["message"]
    except ValueError:
        pass
    return f"the model answered {document['OriginalStatusCode']}: {original}"
