"""The catalogue of service rules, one module per AWS service; importing registers them."""

from tfharness.conformance.rules import (  # noqa: F401 - imported to register their rules
    apigateway,
    apigateway_openapi,
    cloudwatch,
    iam,
    lambda_,
    logs,
    s3,
    sagemaker,
    secretsmanager,
)
