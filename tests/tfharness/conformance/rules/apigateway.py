"""API Gateway (REST APIs): rules the API model cannot express."""

from __future__ import annotations

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
from tfharness.conformance.plan import PlannedResource, PlanView

_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY", "*"}
_APIGATEWAY = "apigateway.amazonaws.com"


def _policy(document: Any) -> Json | None:
    if not isinstance(document, str):
        return None
    try:
        parsed = json.loads(document)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _trusts_apigateway(statement: Json) -> bool:
    principal = statement.get("Principal")
    services = principal.get("Service") if isinstance(principal, dict) else None
    return _APIGATEWAY in _as_list(services)


def _condition_keys(statement: Json) -> set[str]:
    keys: set[str] = set()
    for operator in (statement.get("Condition") or {}).values():
        if isinstance(operator, dict):
            keys.update(key.lower() for key in operator)
    return keys


# --------------------------------------------------------------------- roles API Gateway assumes


@plan_rule(
    "apigateway.integration-role-trust",
    source=(
        "https://github.com/aws-solutions-library-samples/"
        "accelerated-intelligent-document-processing-on-aws/pull/479"
    ),
    evidence=(
        "when API Gateway assumes an integration credentials role it does not populate "
        "aws:SourceAccount, so the condition never matched and every request failed with 500"
    ),
)
def integration_role_trust(plan: PlanView, ctx: Context) -> Iterator[PlanFinding]:
    roles: dict[str, PlannedResource] = {}
    for integration in plan.by_type("aws_api_gateway_integration"):
        for role in plan.referenced(integration, "credentials"):
            if role.type == "aws_iam_role":
                roles[role.address] = role
    for role in roles.values():
        document = _policy(role.values.get("assume_role_policy"))
        if document is None:
            continue
        for index, statement in enumerate(_as_list(document.get("Statement"))):
            if not isinstance(statement, dict) or statement.get("Effect", "Allow") != "Allow":
                continue
            if _trusts_apigateway(statement) and "aws:sourceaccount" in _condition_keys(statement):
                yield (
                    role.address,
                    "assume_role_policy",
                    f"statement {index} lets API Gateway assume this integration credentials role only "
                    "with an aws:SourceAccount condition, which API Gateway does not set for integration "
                    "credentials: AWS answers 'API Gateway does not have permission to assume the "
                    "provided role' and the route fails with 500; drop the condition",
                )


# --------------------------------------------------------------------- stages and method settings


@resource_rule(
    "apigateway.method-settings-path",
    "aws_api_gateway_method_settings",
    source="https://github.com/hashicorp/terraform-provider-aws/issues/9738",
    evidence=(
        "for POST /some/api/endpoint, get-stage returns ~1some~1api~1endpoint/POST and Terraform "
        "needs that value; an unescaped path fails with 'Invalid method setting path' (#15855)"
    ),
)
def method_settings_path(values: Json, ctx: Context) -> Iterator[Finding]:
    path = values.get("method_path")
    if not isinstance(path, str) or path == "*/*":
        return
    resource, _, method = path.rpartition("/")
    if "/" in resource or not resource:
        yield (
            "method_path",
            f"{path!r}: the resource path must have every '/' escaped as '~1' "
            f"(e.g. '~1predict~1{{model}}/GET'), leaving one '/' before the HTTP method",
        )
    elif method not in _METHODS:
        yield "method_path", f"{path!r} must end with /<HTTP method> or /*"


@resource_rule(
    "apigateway.method-settings-logging-level",
    "aws_api_gateway_method_settings",
    source=(
        "https://github.com/hashicorp/terraform-provider-aws/blob/main/"
        "internal/service/apigateway/method_settings.go"
    ),
    evidence='settings.logging_level is validated with StringInSlice("OFF", "ERROR", "INFO")',
)
def method_settings_logging_level(values: Json, ctx: Context) -> Iterator[Finding]:
    for path, settings in blocks(values, "settings"):
        level = settings.get("logging_level")
        if isinstance(level, str) and level not in {"OFF", "ERROR", "INFO"}:
            yield f"{path}.logging_level", f"logging_level {level!r} must be OFF, ERROR or INFO"


def _logs(resource: PlannedResource) -> Iterator[tuple[str, str]]:
    if resource.type == "aws_api_gateway_stage" and resource.values.get("access_log_settings"):
        yield "access_log_settings", "access logging is on"
    if resource.type == "aws_api_gateway_method_settings":
        for path, block in blocks(resource.values, "settings"):
            if (
                block.get("logging_level") not in (None, "OFF", UNKNOWN)
                or block.get("data_trace_enabled") is True
            ):
                yield path, "execution logging is on"


@plan_rule(
    "apigateway.logging-needs-account-role",
    source="https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html",
    evidence=(
        "to enable CloudWatch Logs, you must grant API Gateway permission to read and write logs "
        "to CloudWatch for your account: the role ARN is an account-level setting per region"
    ),
)
def logging_needs_account_role(plan: PlanView, ctx: Context) -> Iterator[PlanFinding]:
    if ctx.apigateway_cloudwatch_role_set or any(
        r.values.get("cloudwatch_role_arn") not in (None, "") for r in plan.by_type("aws_api_gateway_account")
    ):
        return
    hint = (
        "a fresh account has no API Gateway CloudWatch role in this region, so AWS rejects it with "
        "'CloudWatch Logs role ARN must be set in account settings to enable logging'; plan an "
        "aws_api_gateway_account with cloudwatch_role_arn, or turn logging off"
    )
    for resource in plan.by_type("aws_api_gateway_stage", "aws_api_gateway_method_settings"):
        for attribute, what in _logs(resource):
            yield resource.address, attribute, f"{what}: {hint}"


# --------------------------------------------------------------------- usage plans and API keys

# Usage plan quota offset by period. The API model has no bounds for it; the API reference does.
_QUOTA_OFFSET_MAX = {"DAY": 0, "WEEK": 6, "MONTH": 27}


@resource_rule(
    "apigateway.quota-offset",
    "aws_api_gateway_usage_plan",
    source="https://docs.aws.amazon.com/apigateway/latest/api/API_QuotaSettings.html",
    evidence=(
        "offset: the day that a time period starts; for example, with a time period of WEEK, "
        "an offset of 0 starts on Sunday, and an offset of 1 starts on Monday"
    ),
)
def quota_offset(values: Json, ctx: Context) -> Iterator[Finding]:
    for path, quota in blocks(values, "quota_settings"):
        period, offset = quota.get("period"), quota.get("offset")
        if period not in _QUOTA_OFFSET_MAX or offset is None or offset is UNKNOWN:
            continue
        top = _QUOTA_OFFSET_MAX[period]
        if not (0 <= offset <= top):
            allowed = "0" if top == 0 else f"0 to {top}"
            yield (
                f"{path}.offset",
                f"offset {offset} is out of range for a {period} quota: it must be {allowed}",
            )


@resource_rule(
    "apigateway.usage-plan-throttle-path",
    "aws_api_gateway_usage_plan",
    source=(
        "https://docs.aws.amazon.com/apigateway/latest/developerguide/"
        "api-gateway-create-usage-plans-with-rest-api.html"
    ),
    evidence=(
        "method-level throttles of a plan stage are keyed by resource path and method, e.g. "
        '{"/pets/GET": ..., "//GET": ...} for /pets and the root'
    ),
)
def usage_plan_throttle_path(values: Json, ctx: Context) -> Iterator[Finding]:
    for path, throttle in blocks(values, "api_stages.throttle"):
        key = throttle.get("path")
        if not isinstance(key, str):
            continue
        method = key.rpartition("/")[2]
        if not key.startswith("/") or "~1" in key or method not in _METHODS:
            yield (
                f"{path}.path",
                f"{key!r} must be the resource path as it is, '/' and all, then '/<HTTP method>' "
                "(e.g. '/predict/{model}/POST'; '//GET' for the root): unlike a stage's method "
                "settings it is not escaped with '~1'",
            )


@resource_rule(
    "apigateway.usage-plan-method-throttle-needs-plan-throttle",
    "aws_api_gateway_usage_plan",
    source="https://github.com/aws/aws-cdk/pull/6411",
    evidence=(
        "deploying a usage plan with per-method throttles and no plan throttle fails: "
        "'Can not define fine grain throttling if usage plan throttle is not defined'"
    ),
)
def usage_plan_method_throttle(values: Json, ctx: Context) -> Iterator[Finding]:
    if values.get("throttle_settings"):
        return
    for path, stage in blocks(values, "api_stages"):
        if stage.get("throttle"):
            yield (
                f"{path}.throttle",
                "per-method throttles need a plan-wide throttle_settings block: AWS refuses the plan "
                "with 'Can not define fine grain throttling if usage plan throttle is not defined'",
            )


@plan_rule(
    "apigateway.api-key-without-usage-plan",
    source="https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-api-usage-plans.html",
    evidence=(
        "a usage plan specifies who can access deployed API stages and methods; it uses API keys "
        "to identify clients, and a request without a valid key gets 403 Forbidden"
    ),
)
def api_key_without_usage_plan(plan: PlanView, ctx: Context) -> Iterator[PlanFinding]:
    has_plan = bool(plan.by_type("aws_api_gateway_usage_plan"))
    has_key = bool(plan.by_type("aws_api_gateway_usage_plan_key"))
    if has_plan and has_key:
        return
    missing = "no usage plan" if not has_plan else "no API key attached to a usage plan"
    for method in plan.by_type("aws_api_gateway_method"):
        if method.values.get("api_key_required") is True:
            yield (
                method.address,
                "api_key_required",
                f"the method requires an API key but the plan creates {missing}, so every request "
                "would get 403: add a usage plan for the stage and a key on it, or set "
                "api_key_required = false",
            )


@plan_rule(
    "apigateway.usage-plan-after-stage",
    source="https://github.com/aws/serverless-application-model/issues/32",
    evidence=(
        "creating a usage plan for a stage created in the same deployment fails unless the plan "
        "depends on the stage: the usage plan was being created before the Stage resource"
    ),
)
def usage_plan_after_stage(plan: PlanView, ctx: Context) -> Iterator[PlanFinding]:
    new_stages = [s for s in plan.by_type("aws_api_gateway_stage") if "create" in s.actions]
    for usage_plan in plan.by_type("aws_api_gateway_usage_plan"):
        apis = {r.local_address for r in plan.referenced(usage_plan, "api_stages")}
        staged = [
            s
            for s in new_stages
            if s.module_address == usage_plan.module_address
            and apis & {r.local_address for r in plan.referenced(s, "rest_api_id")}
        ]
        if not staged:
            continue
        if not any(r.type == "aws_api_gateway_stage" for r in plan.referenced(usage_plan)):
            yield (
                usage_plan.address,
                "api_stages",
                "the plan names a stage that this apply creates but does not depend on it, so it may "
                "be created first and fail with 'Invalid API Stage': take the stage name from the "
                "aws_api_gateway_stage resource, or add it to depends_on",
            )


# --------------------------------------------------------------------- deployments and integrations


@plan_rule(
    "apigateway.deployment-after-methods",
    source="https://github.com/aws/aws-cdk/issues/6068",
    evidence=(
        "a deployment created before the API's methods fails: 'The REST API doesn't contain any "
        "methods (Service: AmazonApiGateway; Status Code: 400; Error Code: BadRequestException)'"
    ),
)
def deployment_after_methods(plan: PlanView, ctx: Context) -> Iterator[PlanFinding]:
    for deployment in plan.by_type("aws_api_gateway_deployment"):
        if "create" not in deployment.actions:
            continue
        apis = [
            r
            for r in plan.referenced(deployment, "rest_api_id")
            if r.type == "aws_api_gateway_rest_api" and "create" in r.actions
        ]
        # An API imported from an OpenAPI body has its methods when it is created.
        if not apis or any(api.values.get("body") not in (None, "") for api in apis):
            continue
        methods = [
            m
            for m in plan.by_type("aws_api_gateway_method")
            if m.module_address == deployment.module_address
            and {a.local_address for a in apis} & {r.local_address for r in plan.referenced(m, "rest_api_id")}
        ]
        if not methods:
            yield (
                deployment.address,
                "rest_api_id",
                "the REST API has no methods in this plan: AWS refuses the deployment with "
                "'The REST API doesn't contain any methods'",
            )
            continue
        waits_for = {r.type for r in plan.referenced(deployment)}
        if not waits_for & {"aws_api_gateway_method", "aws_api_gateway_integration"}:
            yield (
                deployment.address,
                "depends_on",
                "the deployment does not depend on the API's methods and integrations, so it may be "
                "created first and fail with 'The REST API doesn't contain any methods': add them "
                "to depends_on",
            )


@resource_rule(
    "apigateway.integration-timeout",
    "aws_api_gateway_integration",
    source=(
        "https://github.com/hashicorp/terraform-provider-aws/blob/main/"
        "internal/service/apigateway/integration.go"
    ),
    evidence="timeout_milliseconds: ValidateFunc validation.IntBetween(50, 300000), Default 29000",
)
def integration_timeout(values: Json, ctx: Context) -> Iterator[Finding]:
    timeout = values.get("timeout_milliseconds")
    if isinstance(timeout, (int, float)) and not (50 <= timeout <= 300000):
        yield (
            "timeout_milliseconds",
            f"{timeout} ms is outside the 50 to 300000 ms the provider accepts (29000 ms unless the "
            "account's integration timeout quota was raised)",
        )


_SAGEMAKER_URI = re.compile(
    r"^arn:aws[a-z-]*:apigateway:[a-z0-9-]+:runtime\.sagemaker:path/endpoints/"
    r"(?P<name>[^/]+)/invocations$"
)
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")


@resource_rule(
    "apigateway.sagemaker-integration-uri",
    "aws_api_gateway_integration",
    source=(
        "https://github.com/boto/botocore/blob/develop/botocore/data/"
        "sagemaker-runtime/2017-05-13/service-2.json"
    ),
    evidence=(
        'InvokeEndpoint is "POST /endpoints/{EndpointName}/invocations"; EndpointName matches '
        "^[a-zA-Z0-9](-*[a-zA-Z0-9])* with at most 63 characters"
    ),
)
def sagemaker_integration_uri(values: Json, ctx: Context) -> Iterator[Finding]:
    uri = values.get("uri")
    if values.get("type") != "AWS" or not isinstance(uri, str) or ":runtime.sagemaker:" not in uri:
        return
    found = _SAGEMAKER_URI.match(uri)
    if found is None:
        yield (
            "uri",
            f"{uri!r}: a SageMaker runtime integration calls InvokeEndpoint as arn:<partition>:"
            "apigateway:<region>:runtime.sagemaker:path/endpoints/<endpoint name>/invocations",
        )
    elif len(found["name"]) > 63 or not _ENDPOINT_NAME.match(found["name"]):
        yield "uri", f"{found['name']!r} is not a SageMaker endpoint name (up to 63 letters, digits, hyphens)"
    elif values.get("integration_http_method") not in (None, UNKNOWN, "POST"):
        yield (
            "integration_http_method",
            f"InvokeEndpoint is a POST; {values.get('integration_http_method')!r} reaches no operation",
        )


# --------------------------------------------------------------------- Lambda permissions

_EXECUTE_API_ARN = re.compile(
    r"^arn:(?P<partition>aws[a-z-]*):(?P<service>[^:]*):(?P<region>[^:]*):(?P<account>[^:]*):(?P<rest>.*)$"
)


@resource_rule(
    "apigateway.lambda-permission-source-arn",
    "aws_lambda_permission",
    source="https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html",
    evidence=(
        "Execute API (REST) resources are "
        "arn:partition:execute-api:region:account-id:api-id/stage/http-method/resource-path"
    ),
)
def lambda_permission_source_arn(values: Json, ctx: Context) -> Iterator[Finding]:
    arn = values.get("source_arn")
    if values.get("principal") != _APIGATEWAY or not isinstance(arn, str):
        return
    found = _EXECUTE_API_ARN.match(arn)
    problem = None
    if found is None or found["service"] != "execute-api":
        problem = "it is not an execute-api ARN"
    elif not found["region"]:
        problem = "its region is empty"
    elif not re.fullmatch(r"[0-9]{12}|\*", found["account"]):
        problem = "its account is not a 12-digit account id"
    elif "/" not in found["rest"]:
        problem = "it names the API but no stage, method and path, so it matches no request"
    if problem:
        yield (
            "source_arn",
            f"{arn!r}: {problem}; API Gateway invokes the function as "
            "arn:<partition>:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path> "
            "(or <api id>/authorizers/<id>), so this permission never applies and requests fail",
        )
