"""Handing the rest of an object to a fresh invocation of the same function.

An invocation near its deadline records its progress, reserves the object for its successor
and invokes its own function asynchronously (InvocationType Event) with a small event naming
the object (bucket, key, version id, ETag) and the hand-off number the state object holds, so a
long file is reported by a chain of invocations without spending Lambda's retries, which stay
for real failures. The successor's own lease owner is ``token``: ``<request id>#<hand-off>``,
so a retry of the invocation that handed off (Lambda retries an event under the same request
id) can still take the object over if it died between reserving and invoking.

An asynchronous invocation carries at most 1 MB of payload (256 KB on older documentation and
on InvokeAsync: https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html,
https://docs.aws.amazon.com/lambda/latest/dg/API_InvokeAsync.html); this event stays under
the smaller of the two for any S3 key (at most 1,024 bytes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EVENT_KEY = "mlgwContinuation"
EVENT_VERSION = 1
PAYLOAD_LIMIT_BYTES = 256 * 1024


class HandOffFailed(RuntimeError):
    """Lambda did not queue the continuation, so nobody will continue the object."""


@dataclass(frozen=True, slots=True)
class Continuation:
    bucket: str
    key: str
    version_id: str | None
    etag: str
    handoff: int
    token: str

    def event(self) -> dict[str, Any]:
        return {
            EVENT_KEY: {
                "version": EVENT_VERSION,
                "bucket": self.bucket,
                "key": self.key,
                "versionId": self.version_id,
                "etag": self.etag,
                "handoff": self.handoff,
                "token": self.token,
            }
        }

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Continuation:
        body = event[EVENT_KEY]
        if not isinstance(body, dict) or body.get("version") != EVENT_VERSION:
            raise ValueError(f"unsupported continuation event {body!r:.200}")
        return cls(
            bucket=str(body["bucket"]),
            key=str(body["key"]),
            version_id=body.get("versionId"),
            etag=str(body["etag"]),
            handoff=int(body["handoff"]),
            token=str(body["token"]),
        )


def token_for(request_id: str, handoff: int) -> str:
    return f"{request_id}#{handoff}"


def reserved_by(owner: str | None, request_id: str) -> bool:
    """Whether ``owner`` is a hand-off reservation made by the invocation ``request_id``."""
    return owner is not None and owner.rpartition("#")[0] == request_id


class SelfInvoker:
    """Queues a continuation event for the function through Lambda's Invoke API."""

    def __init__(self, lambda_client: Any) -> None:
        self._lambda = lambda_client

    def hand_off(self, function_name: str, continuation: Continuation) -> None:
        payload = json.dumps(continuation.event(), separators=(",", ":")).encode()
        if len(payload) > PAYLOAD_LIMIT_BYTES:
            raise HandOffFailed(f"continuation event of {len(payload)} bytes is over the async limit")
        response = self._lambda.invoke(FunctionName=function_name, InvocationType="Event", Payload=payload)
        if response.get("StatusCode") != 202:
            raise HandOffFailed(f"Lambda answered {response.get('StatusCode')} to the hand-off")
