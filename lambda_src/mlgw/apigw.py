"""API Gateway REST API Lambda-proxy events (payload format 1.0) in and out.

A thin typed view over the event: header names are case-insensitive on the wire but arrive
with whatever case the client used, bodies may be base64-encoded, and any of the optional
maps may be null.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/csv")


class BadBody(ValueError):
    """The body is flagged as base64 but does not decode."""


@dataclass(frozen=True)
class ProxyRequest:
    method: str
    request_id: str
    headers: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    multi_query: Mapping[str, list[str]] = field(default_factory=dict)
    path_parameters: Mapping[str, str] = field(default_factory=dict)
    raw_body: str = ""
    base64_body: bool = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def body(self) -> bytes:
        """Decoded on demand, so an undecodable body is reported like any other bad input
        rather than failing before the request id and route are known."""
        if not self.base64_body:
            return self.raw_body.encode("utf-8")
        try:
            return base64.b64decode(self.raw_body, validate=True)
        except (binascii.Error, ValueError):
            raise BadBody("the body is flagged as base64 but is not valid base64") from None


def parse_event(event: Mapping[str, Any], fallback_request_id: str) -> ProxyRequest:
    """`fallback_request_id` (the Lambda request id) covers direct invocations without a
    requestContext, so every response still carries an id to quote."""
    context = event.get("requestContext") or {}
    return ProxyRequest(
        method=str(event.get("httpMethod") or "").upper(),
        request_id=str(context.get("requestId") or fallback_request_id),
        headers={str(key).lower(): str(value) for key, value in (event.get("headers") or {}).items()},
        query=dict(event.get("queryStringParameters") or {}),
        multi_query=dict(event.get("multiValueQueryStringParameters") or {}),
        path_parameters=dict(event.get("pathParameters") or {}),
        raw_body=str(event.get("body") or ""),
        base64_body=bool(event.get("isBase64Encoded")),
    )


def is_text(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith(_TEXT_TYPES) or media.endswith(("+json", "+xml"))


def response(status: int, body: bytes, content_type: str, headers: Mapping[str, str]) -> dict[str, Any]:
    """Text goes out as text; anything else base64-encoded, which API Gateway turns back into
    bytes for media types listed in the API's binaryMediaTypes."""
    out_headers = {"Content-Type": content_type, **headers}
    if is_text(content_type):
        try:
            return {
                "statusCode": status,
                "headers": out_headers,
                "body": body.decode("utf-8"),
                "isBase64Encoded": False,
            }
        except UnicodeDecodeError:
            pass
    return {
        "statusCode": status,
        "headers": out_headers,
        "body": base64.b64encode(body).decode("ascii"),
        "isBase64Encoded": True,
    }


def error_response(
    status: int, code: str, message: str, request_id: str, headers: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The one error shape every route returns: {"message", "code", "requestId"}."""
    body = json.dumps({"message": message, "code": code, "requestId": request_id}).encode("utf-8")
    return response(status, body, "application/json", headers or {})
