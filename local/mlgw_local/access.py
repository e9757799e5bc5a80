"""The access log: one line per request local mode answers, rejected ones included.

A line reads ``time where method path [key=name] status latency -> target[: note]``: ``where`` is
the stage (or ``sagemaker-runtime``, ``lambda`` for the fronts of those APIs), the target is the
function or integration the request went to, or the gateway response that refused it, and the note
carries what explains a failure (a model container's own error message).
"""

from __future__ import annotations

import logging
from datetime import datetime

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
