"""Lambda's Invoke API for the planned functions, so a function without an API can be called.

``POST /2015-03-31/functions/{name}/invocations`` with the event as the body answers 200 with the
function's result; a function that raised answers 200 too, with ``X-Amz-Function-Error`` and an
error object as the payload; an unknown function is 404 ``ResourceNotFoundException``
(https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html; the operation's URI, status code
and errors are those of botocore's lambda service model). boto3 and the AWS CLI reach it with
``--endpoint-url``; ``make local-invoke`` uses it.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable, Collection
from typing import Any

from mlgw_local import access
from mlgw_local.functions import FunctionError
from mlgw_local.http import Request, Response

ACCOUNT_ID = "123456789012"
_INVOKE = re.compile(r"^/2015-03-31/functions/([^/]+)/invocations/?$")


def function_name(identifier: str) -> str:
    """The name in a function name, a partial ARN or a full ARN, without a qualifier."""
    parts = identifier.split(":")
    if "function" in parts:
        return parts[parts.index("function") + 1]
    return parts[0]


class LambdaApi:
    def __init__(self, names: Collection[str], invoke: Callable[[str, Any], Any]) -> None:
        self.names = set(names)
        self.invoke = invoke

    def _error(self, status: int, kind: str, message: str) -> Response:
        return Response.json(
            status,
            {"Type": "User", "message": message},
            {"x-amzn-ErrorType": kind, "x-amzn-RequestId": str(uuid.uuid4())},
        )

    def __call__(self, request: Request) -> Response:
        started = time.monotonic()
        found = _INVOKE.match(request.path)
        name = function_name(found[1]) if found else ""
        response, target, note = self._answer(request, found is not None, name)
        access.record(
            "lambda",
            request.method,
            request.path,
            status=response.status,
            seconds=time.monotonic() - started,
            target=target,
            note=note,
        )
        return response

    def _answer(self, request: Request, matched: bool, name: str) -> tuple[Response, str, str | None]:
        if request.method != "POST" or not matched:
            return self._error(404, "UnknownOperationException", "Unknown operation"), "-", None
        if name not in self.names:
            arn = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{name}"
            return (
                self._error(404, "ResourceNotFoundException", f"Function not found: {arn}"),
                "-",
                f"no function {name}",
            )
        try:
            event = json.loads(request.body or b"{}")
        except ValueError as exc:
            return (
                self._error(400, "InvalidRequestContentException", f"Could not parse request body: {exc}"),
                f"function {name}",
                None,
            )
        headers = {"Content-Type": "application/json", "X-Amz-Executed-Version": "$LATEST"}
        try:
            result = self.invoke(name, event)
        except FunctionError as exc:
            kind, _, message = str(exc).partition(": ")
            body = {"errorMessage": message or kind, "errorType": kind if message else "Error"}
            return (
                Response(200, json.dumps(body).encode(), {**headers, "X-Amz-Function-Error": "Unhandled"}),
                f"function {name}",
                f"the function raised {str(exc).strip()}",
            )
        return Response(200, json.dumps(result).encode(), headers), f"function {name}", None
