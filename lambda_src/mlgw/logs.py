"""Process-wide logging rules every handler applies at import.

A function whose log level is DEBUG gets a root logger at DEBUG: the Lambda runtime sets it from
AWS_LAMBDA_LOG_LEVEL before it imports the handler (`_setup_logging` in
https://github.com/aws/aws-lambda-python-runtime-interface-client/blob/main/awslambdaric/bootstrap.py).
botocore's wire loggers inherit that level and, at DEBUG, print whole requests and responses
(botocore.parsers logs every response body, GetSecretValue's SecretString included). Their
parent loggers are pinned to INFO here, so the function's own level never reaches them; they
still report warnings and errors.
"""

from __future__ import annotations

import logging

WIRE_LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3")
"""Parents of every logger that prints request or response bodies, headers or parameters at
DEBUG (botocore.parsers, botocore.endpoint, botocore.hooks, botocore.auth, urllib3.connectionpool,
...): a child logger without a level of its own takes its parent's."""


def quiet_wire_logging() -> None:
    for name in WIRE_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
