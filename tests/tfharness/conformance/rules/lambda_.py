"""Lambda: function configuration rules the API model cannot express (quotas, cross-field rules,
layers, the execution role's trust)."""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterator
from typing import Any

from tfharness.conformance.core import (
    UNKNOWN,
    Context,
    Finding,
    Json,
    PlanFinding,
    blocks,
    plan_rule,
    resource_rule,
)
from tfharness.conformance.plan import PlanView

_LAYER_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):lambda:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):layer:(?P<name>[A-Za-z0-9_-]+):\d+$"
)

# Lambda's quotas for a function that does not run on Lambda Managed Instances (a capacity
# provider): https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html
ENVIRONMENT_MAX_CHARACTERS = 4096
LAYERS_MAX = 5
TIMEOUT_MAX_SECONDS = 900
MEMORY_MAX_MB = 10240

# The accounts Powertools for AWS Lambda (Python) publishes its layer from: one for every
# commercial region, one per GovCloud region, and in China only cn-north-1.
# https://github.com/aws-powertools/powertools-lambda-python/blob/develop/docs/getting-started/install.md
POWERTOOLS_COMMERCIAL_ACCOUNT = "017000801446"
POWERTOOLS_REGION_ACCOUNTS = {
    "cn-north-1": "498634801083",
    "us-gov-east-1": "165087284144",
    "us-gov-west-1": "165093116878",
}
_POWERTOOLS_ACCOUNTS = {POWERTOOLS_COMMERCIAL_ACCOUNT, *POWERTOOLS_REGION_ACCOUNTS.values()}


def _region(values: Json, ctx: Context) -> str | None:
    """The function's region: its own ``region`` argument (provider 6), else the provider's."""
    region = values.get("region")
    if isinstance(region, str) and region:
        return region
    return ctx.region


def _runs_on_capacity_provider(values: Json) -> bool:
    config = values.get("capacity_provider_config")
    return config is UNKNOWN or bool(config)


def _layers(values: Json) -> list[Any]:
    layers = values.get("layers")
    return layers if isinstance(layers, list) else []


@resource_rule(
    "lambda.environment-size",
    "aws_lambda_function",
    source="https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
    evidence=(
        "Function environment variables: 4 KB, for all environment variables associated with the "
        "function, in aggregate"
    ),
)
def environment_size(values: Json, ctx: Context) -> Iterator[Finding]:
    # Lambda measures the JSON object of names and values: its error quotes that string as
    # "String measured" (https://github.com/github-aws-runners/terraform-aws-github-runner/issues/3594).
    # Whether it counts characters or UTF-8 bytes is not documented: characters are counted, the
    # smaller of the two, and unknown values not at all, so only a certain excess is reported.
    for path, variables in blocks(values, "environment"):
        env = variables.get("variables")
        if not isinstance(env, dict):
            continue
        known = {k: v for k, v in env.items() if isinstance(v, str)}
        size = len(json.dumps(known, separators=(",", ":"), ensure_ascii=False))
        if size > ENVIRONMENT_MAX_CHARACTERS:
            yield (
                f"{path}.variables",
                f"the environment variables come to {size} characters as the JSON Lambda measures, "
                f"above its limit of 4 KB ({ENVIRONMENT_MAX_CHARACTERS}) for all of them together",
            )


@resource_rule(
    "lambda.layer-count",
    "aws_lambda_function",
    source="https://docs.aws.amazon.com/lambda/latest/dg/adding-layers.html",
    evidence="You can add up to five layers to a Lambda function.",
)
def layer_count(values: Json, ctx: Context) -> Iterator[Finding]:
    layers = _layers(values)
    if len(layers) > LAYERS_MAX:
        yield "layers", f"{len(layers)} layers: a function can use at most {LAYERS_MAX}"


@resource_rule(
    "lambda.layer-region",
    "aws_lambda_function",
    source="https://docs.datadoghq.com/serverless/guide/layer_not_authorized",
    evidence=(
        "a function can only include layers located in its own region; a layer from another region "
        "fails deployment (also reported as 'Layers are not in the same region as the function', "
        "https://github.com/TotalTechGeek/elysia-lambda/issues/2)"
    ),
)
def layer_region(values: Json, ctx: Context) -> Iterator[Finding]:
    region = _region(values, ctx)
    if region is None:  # Terraform validates before the provider knows its region
        return
    for index, arn in enumerate(_layers(values)):
        match = _LAYER_ARN.match(arn) if isinstance(arn, str) else None
        if match and match["region"] != region:
            yield (
                f"layers[{index}]",
                f"layer {arn} is in {match['region']}, but the function is in {region}: "
                "Lambda only attaches layers published in the function's own region",
            )


@resource_rule(
    "lambda.powertools-layer-account",
    "aws_lambda_function",
    source="https://github.com/aws-powertools/powertools-lambda-python/blob/develop/docs/getting-started/install.md",
    evidence="AWS GovCloud regions: us-gov-east-1 ... 165087284144, us-gov-west-1 ... 165093116878",
)
def powertools_layer_account(values: Json, ctx: Context) -> Iterator[Finding]:
    # Only ARNs in one of Powertools' own publishing accounts are judged: a copy of the layer
    # in the user's account may carry the same name.
    for index, arn in enumerate(_layers(values)):
        match = _LAYER_ARN.match(arn) if isinstance(arn, str) else None
        if not match or match["account"] not in _POWERTOOLS_ACCOUNTS:
            continue
        if not match["name"].startswith("AWSLambdaPowertoolsPython"):
            continue
        region = match["region"]
        if match["partition"] == "aws":
            expected: str | None = POWERTOOLS_COMMERCIAL_ACCOUNT
        else:
            expected = POWERTOOLS_REGION_ACCOUNTS.get(region)
        if expected is None:
            yield (
                f"layers[{index}]",
                f"Powertools publishes no layer in {region}: use a copy of the layer in your own account",
            )
        elif match["account"] != expected:
            yield (
                f"layers[{index}]",
                f"Powertools publishes its layer in {region} from account {expected}, not {match['account']}",
            )


@resource_rule(
    "lambda.log-level-needs-json",
    "aws_lambda_function",
    source="https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html",
    evidence="To use log-level filtering, your function must be configured to use the JSON log format.",
)
def log_level_needs_json(values: Json, ctx: Context) -> Iterator[Finding]:
    # The API refuses the combination: "LogLevel is not supported when LogFormat is set to
    # "Text"" (https://github.com/aws/aws-cdk/pull/28045).
    for path, config in blocks(values, "logging_config"):
        if config.get("log_format") != "Text":
            continue
        for attribute in ("application_log_level", "system_log_level"):
            level = config.get(attribute)
            if isinstance(level, str) and level:
                yield (
                    f"{path}.{attribute}",
                    f"{attribute} {level} needs log_format JSON: "
                    "Lambda filters log levels only for JSON logs",
                )


@resource_rule(
    "lambda.timeout-max",
    "aws_lambda_function",
    source="https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
    evidence="Function timeout: 900 seconds (15 minutes)",
)
def timeout_max(values: Json, ctx: Context) -> Iterator[Finding]:
    # The API model allows more for functions on Lambda Managed Instances (a capacity provider).
    timeout = values.get("timeout")
    too_long = isinstance(timeout, int | float) and timeout > TIMEOUT_MAX_SECONDS
    if too_long and not _runs_on_capacity_provider(values):
        yield "timeout", f"timeout {timeout} s is above Lambda's {TIMEOUT_MAX_SECONDS} s (15 minutes)"


@resource_rule(
    "lambda.memory-max",
    "aws_lambda_function",
    source="https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html",
    evidence="Function memory allocation: 128 MB to 10,240 MB, in 1-MB increments.",
)
def memory_max(values: Json, ctx: Context) -> Iterator[Finding]:
    memory = values.get("memory_size")
    too_much = isinstance(memory, int | float) and memory > MEMORY_MAX_MB
    if too_much and not _runs_on_capacity_provider(values):
        yield "memory_size", f"memory_size {memory} MB is above Lambda's {MEMORY_MAX_MB} MB"


def _trusts_service(policy: Json, service: str) -> bool | None:
    """Whether a trust policy lets ``service`` assume the role; None when it cannot be told
    (NotPrincipal, NotAction or a shape this check does not read)."""
    statements = policy.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return None
    for statement in statements:
        if not isinstance(statement, dict):
            return None
        if "NotPrincipal" in statement or "NotAction" in statement:
            return None
        if statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action")
        actions = [actions] if isinstance(actions, str) else actions or []
        # Action names are case-insensitive and may hold wildcards
        # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html).
        if not any(isinstance(a, str) and fnmatch.fnmatchcase("sts:assumerole", a.lower()) for a in actions):
            continue
        principal = statement.get("Principal")
        if principal == "*":
            return True
        if isinstance(principal, dict):
            if principal.get("AWS") == "*":
                return True
            services = principal.get("Service")
            services = [services] if isinstance(services, str) else services or []
            # China regions may name the principal with an .amazonaws.com.cn suffix.
            if any(isinstance(s, str) and s.startswith(service) for s in services):
                return True
    return False


@plan_rule(
    "lambda.role-trusts-lambda",
    source="https://github.com/pdomala/LambdaCDDemo/issues/1",
    evidence=(
        "The role defined for the function cannot be assumed by Lambda. (InvalidParameterValueException)"
    ),
)
def role_trusts_lambda(plan: PlanView, ctx: Context) -> Iterator[PlanFinding]:
    for function in plan.by_type("aws_lambda_function"):
        for role in plan.referenced(function, "role"):
            if role.type != "aws_iam_role":
                continue
            document = role.values.get("assume_role_policy")
            if not isinstance(document, str):
                continue
            try:
                trusts = _trusts_service(json.loads(document), "lambda.amazonaws.com")
            except json.JSONDecodeError:
                continue
            if trusts is False:
                yield (
                    function.address,
                    "role",
                    f"the role {role.address} does not trust lambda.amazonaws.com to sts:AssumeRole: "
                    "Lambda refuses a function whose role it cannot assume",
                )
