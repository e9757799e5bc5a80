"""API Gateway (REST APIs): rules the API model cannot express."""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable, Iterator
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
from tfharness.conformance.openapi import INTEGRATION, Document, Operation, document_of
from tfharness.conformance.plan import PlannedResource, PlanView, references

_REST_API = "aws_api_gateway_rest_api"
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


# --------------------------------------------------------------------- REST APIs defined by a body


def _body_apis(plan: PlanView) -> Iterator[tuple[PlannedResource, Document]]:
    """Each planned REST API whose OpenAPI body is known, with its document."""
    for api in plan.by_type(_REST_API):
        document = document_of(api.values.get("body"))
        if document is not None:
            yield api, document


def _body_integrations(values: Json) -> Iterator[tuple[Operation, Json]]:
    """The integrations of a REST API's known body (none for other resources)."""
    document = document_of(values.get("body"))
    if document is None:
        return
    for operation in document.operations():
        if operation.integration is not None:
            yield operation, operation.integration


def _role_arn_suffix(role: PlannedResource) -> str | None:
    """``:role/<path><name>``, the end of the role's ARN, from its planned name and path."""
    name, path = role.values.get("name"), role.values.get("path") or "/"
    if not isinstance(name, str) or not isinstance(path, str):
        return None
    return f":role{path}{name}"


def _body_credentials_roles(plan: PlanView) -> Iterator[PlannedResource]:
    """Planned roles that the integrations of a body name as credentials: by the ARN the role
    will have (built from its name and path, as the document builds it), or, while the body is
    not known yet, by the body's reference to the role."""
    roles = plan.by_type("aws_iam_role")
    for api in plan.by_type(_REST_API):
        document = document_of(api.values.get("body"))
        if document is None:
            if api.values.get("body") is UNKNOWN:
                yield from (r for r in plan.referenced(api, "body") if r.type == "aws_iam_role")
            continue
        named = {
            integration.get("credentials")
            for operation in document.operations()
            if (integration := operation.integration) is not None
        }
        for role in roles:
            suffix = _role_arn_suffix(role)
            if suffix and any(
                isinstance(arn, str) and arn.startswith("arn:") and ":iam::" in arn and arn.endswith(suffix)
                for arn in named
            ):
                yield role


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
    for role in _body_credentials_roles(plan):
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


_FIREHOSE = "aws_kinesis_firehose_delivery_stream"


def _access_logs_to_cloudwatch(plan: PlanView, stage: PlannedResource) -> Iterator[str]:
    """Each access log setting of a stage that writes to CloudWatch Logs, or may: a destination
    not known yet counts unless the configuration wires it to a Firehose stream only. Access logs
    to Firehose use the service-linked role AWSServiceRoleForAPIGateway, not the account setting
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-logging-to-kinesis.html)."""
    settings = list(blocks(stage.values, "access_log_settings"))
    if not settings:
        return
    wired = {r.type for r in plan.referenced(stage, "access_log_settings")}
    for path, block in settings:
        destination = block.get("destination_arn")
        if isinstance(destination, str):
            if destination.split(":")[2:3] == ["logs"]:
                yield path
        elif destination is UNKNOWN and wired != {_FIREHOSE}:
            yield path


def _logs(plan: PlanView, resource: PlannedResource) -> Iterator[tuple[str, str]]:
    if resource.type == "aws_api_gateway_stage":
        for path in _access_logs_to_cloudwatch(plan, resource):
            yield path, "access logging to CloudWatch Logs is on"
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
        for attribute, what in _logs(plan, resource):
            yield resource.address, attribute, f"{what}: {hint}"


# --------------------------------------------------------------------- usage plans and API keys

# Usage plan quota offset by period. The API model has no bounds for it, and AWS's pages disagree
# on what it means: the current API reference, CloudFormation (minimum 0) and every SDK call it
# the number of requests subtracted from the limit in the initial period, while the legacy API
# reference (https://docs.aws.amazon.com/apigateway/api-reference/resource/usage-plan/) calls it
# the day the period starts (WEEK: 0 = Sunday). Whatever AWS enforces, hashicorp/aws refuses
# these values itself on create and on update, before calling AWS (validUsagePlanQuotaSettings,
# called from usage_plan.go), so a Terraform apply fails on them either way.
_QUOTA_OFFSET_MAX = {"DAY": 0, "WEEK": 6, "MONTH": 27}


@resource_rule(
    "apigateway.quota-offset",
    "aws_api_gateway_usage_plan",
    source=(
        "https://github.com/hashicorp/terraform-provider-aws/blob/main/"
        "internal/service/apigateway/validate.go"
    ),
    evidence=(
        "validUsagePlanQuotaSettings: 'Usage Plan quota offset must be zero in the DAY period', "
        "'between 0 and 6 inclusive in the WEEK period', 'between 0 and 27 inclusive in the MONTH "
        "period' (AWS's own pages disagree on whether offset counts days or requests)"
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
                f"offset {offset} is out of range for a {period} quota: it must be {allowed}; "
                "hashicorp/aws refuses anything else on apply ('Usage Plan quota offset must be ...')",
            )


# What the sources show of a per-method throttle key: AWS documents "/pets/GET" and "//GET" (the
# root), and the CDK builds the key as `${resource.path}/${httpMethod}`
# (packages/aws-cdk-lib/aws-apigateway/lib/usage-plan.ts). No source shows a multi-segment key or
# an escaped one ("~1"), or what AWS answers to a key of another shape, so the rule checks only
# what every source agrees on: the key ends with "/<HTTP method>".
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
        resource, slash, method = key.rpartition("/")
        if not slash or not resource or method not in _METHODS:
            yield (
                f"{path}.path",
                f"{key!r} names no HTTP method: a per-method throttle is keyed '<resource path>/<HTTP "
                "method>' (AWS documents '/pets/GET', and '//GET' for the root)",
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


# How a plan wires a usage plan to a stage: an api_stages entry names an API id and a stage name.
# Values known at plan time are compared; an API created in this apply has no id yet, so the
# configuration's references (any expression, and depends_on) stand in for it. The module builds
# api_stages with a dynamic block, whose contents the plan's configuration does not show, so the
# references of the whole resource count, not those of the api_stages block alone.
def _api_stage_entries(usage_plan: PlannedResource) -> list[Json]:
    return [entry for _, entry in blocks(usage_plan.values, "api_stages")]


def _apis_of(plan: PlanView, resource: PlannedResource) -> set[str]:
    """The REST APIs (local addresses) a resource's rest_api_id refers to."""
    return {r.local_address for r in plan.referenced(resource, "rest_api_id") if r.type == _REST_API}


def _names_stage(entry: Json, stage: PlannedResource) -> bool | None:
    """Whether an api_stages entry names this stage; None when a name is not known yet."""
    name, stage_name = entry.get("stage"), stage.values.get("stage_name")
    if isinstance(name, str) and isinstance(stage_name, str):
        return name == stage_name
    return None


def _same_api(
    plan: PlanView, usage_plan: PlannedResource, entry: Json, stage: PlannedResource
) -> bool | None:
    """Whether an api_stages entry names the stage's API; None when the plan cannot tell."""
    api_id, stage_api = entry.get("api_id"), stage.values.get("rest_api_id")
    if isinstance(api_id, str) and isinstance(stage_api, str):
        return api_id == stage_api
    if isinstance(api_id, str) and stage_api is UNKNOWN:
        return False  # the stage's API is created in this apply: no existing id can name it
    if usage_plan.module_address != stage.module_address:
        return None
    wired = plan.referenced(usage_plan)
    if stage.local_address in {r.local_address for r in wired}:
        return True
    plan_apis = {r.local_address for r in wired if r.type == _REST_API}
    stage_apis = _apis_of(plan, stage)
    if plan_apis and stage_apis:
        return bool(plan_apis & stage_apis)
    return None


def _serves(plan: PlanView, method: PlannedResource, stage: PlannedResource) -> bool:
    """Whether the stage serves the method's API (its deployments carry the method)."""
    method_api, stage_api = method.values.get("rest_api_id"), stage.values.get("rest_api_id")
    if isinstance(method_api, str) and isinstance(stage_api, str):
        return method_api == stage_api
    if method.module_address != stage.module_address:
        return False
    return bool(_apis_of(plan, method) & _apis_of(plan, stage))


def _serves_api(plan: PlanView, api: PlannedResource, stage: PlannedResource) -> bool:
    """Whether the stage belongs to the REST API (a body's operations are the API's own)."""
    api_id, stage_api = api.values.get("id"), stage.values.get("rest_api_id")
    if isinstance(api_id, str) and isinstance(stage_api, str):
        return api_id == stage_api
    return api.module_address == stage.module_address and api.local_address in _apis_of(plan, stage)


def _stages_without_usage_plan(
    plan: PlanView, serves: Callable[[PlannedResource], bool]
) -> list[PlannedResource]:
    usage_plans = plan.by_type("aws_api_gateway_usage_plan")
    return [
        stage
        for stage in plan.by_type("aws_api_gateway_stage")
        if serves(stage)
        and not any(
            _names_stage(entry, stage) is not False and _same_api(plan, up, entry, stage) is not False
            for up in usage_plans
            for entry in _api_stage_entries(up)
        )
    ]


def _stage_names(stages: list[PlannedResource]) -> str:
    return ", ".join(repr(s.values.get("stage_name")) for s in stages)


@plan_rule(
    "apigateway.api-key-without-usage-plan",
    source="https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-api-usage-plans.html",
    evidence=(
        "a usage plan specifies who can access deployed API stages and methods; it uses API keys "
        "to identify clients, and a request without a valid key gets 403 Forbidden"
    ),
)
def api_key_without_usage_plan(plan: PlanView, ctx: Context) -> Iterator[PlanFinding]:
    # Only a stage with no usage plan at all is certain to refuse every keyed request: keys can
    # be attached to a plan anywhere (CreateUsagePlanKey, aws_api_gateway_usage_plan_key in another
    # stack), so a plan here without a key here is no evidence of anything. Usage plans of
    # another stack may cover the stages too (the module's stages.external_usage_plans): the
    # context says so.
    if ctx.apigateway_usage_plans_elsewhere:
        return
    for method in plan.by_type("aws_api_gateway_method"):
        if method.values.get("api_key_required") is not True:
            continue
        bare = _stages_without_usage_plan(plan, lambda stage, m=method: _serves(plan, m, stage))
        if bare:
            yield (
                method.address,
                "api_key_required",
                f"the method requires an API key, but stage {_stage_names(bare)} of its API has no usage "
                "plan in this plan, so no key is ever valid there and every request would get 403: add a "
                "usage plan for the stage (its keys may be attached elsewhere), or set "
                "api_key_required = false",
            )
    # In a body, an operation requires a key with a security requirement naming the api_key
    # scheme (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-key-usage-plan-oas.html).
    for api, document in _body_apis(plan):
        keyed = [f"{o.method} {o.path}" for o in document.operations() if document.requires_api_key(o)]
        if not keyed:
            continue
        bare = _stages_without_usage_plan(plan, lambda stage, a=api: _serves_api(plan, a, stage))
        if bare:
            yield (
                api.address,
                "body",
                f"the document's {', '.join(keyed)} require an API key (security api_key), but stage "
                f"{_stage_names(bare)} of the API has no usage plan in this plan, so no key is ever "
                "valid there and every request would get 403: add a usage plan for the stage (its keys "
                "may be attached elsewhere), or drop the api_key security requirement",
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
        waits_for = {r.local_address for r in plan.referenced(usage_plan)}
        for stage in new_stages:
            if stage.module_address != usage_plan.module_address or stage.local_address in waits_for:
                continue
            named = any(
                _names_stage(entry, stage) is True
                and (
                    _same_api(plan, usage_plan, entry, stage)
                    # Neither id is known: the API is created in this apply, and so is any stage of it.
                    or (entry.get("api_id") is UNKNOWN and stage.values.get("rest_api_id") is UNKNOWN)
                )
                for entry in _api_stage_entries(usage_plan)
            )
            if named:
                yield (
                    usage_plan.address,
                    "api_stages",
                    f"the plan names stage {stage.values.get('stage_name')!r}, which this apply "
                    "creates, but does not depend on it, so it may be created first and fail with "
                    "'Invalid API Stage': take the stage name from the aws_api_gateway_stage "
                    "resource, or add it to depends_on",
                )
                break


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


# Attributes of a REST API that stay the same when its body changes: a trigger made of them alone
# never redeploys a changed document.
_STABLE_API_ATTRIBUTES = {"id", "arn", "root_resource_id", "execution_arn", "created_date", "name"}


def _triggers_follow_body(deployment: PlannedResource, api: PlannedResource) -> bool:
    """Whether the deployment's triggers may change with the API's body: they reference the body,
    the whole API, or anything the plan cannot see through (locals, variables, modules, data,
    other resources). Only no triggers, constant ones, or triggers made of the API's stable
    attributes (its id, say) are certain not to."""
    expression = deployment.config.get("expressions", {}).get("triggers")
    if not expression:
        return False
    found = list(references(expression))
    if not found:
        return False
    own = api.local_address
    for ref in found:
        if ref == own:
            # "aws_api_gateway_rest_api.this" comes with every "aws_api_gateway_rest_api.this.x";
            # alone it is the whole resource, body included.
            if not any(r.startswith(own + ".") for r in found):
                return True
            continue
        if ref.startswith(own + "."):
            if ref[len(own) + 1 :].split(".")[0].split("[")[0] not in _STABLE_API_ATTRIBUTES:
                return True
            continue
        return True
    return False


@plan_rule(
    "apigateway.deployment-triggers-body",
    source=(
        "https://github.com/hashicorp/terraform-provider-aws/blob/main/"
        "website/docs/r/api_gateway_deployment.html.markdown"
    ),
    evidence=(
        "triggers: map of arbitrary keys and values that, when changed, will trigger a redeployment; "
        "the OpenAPI example sets redeployment = sha1(jsonencode(aws_api_gateway_rest_api.example.body))"
    ),
)
def deployment_triggers_body(plan: PlanView, ctx: Context) -> Iterator[PlanFinding]:
    # The body-equivalent of apigateway.deployment-after-methods: an API imported from a body has
    # its methods when it is created, so ordering is no hazard; staleness is. A deployment is a
    # snapshot: when the body changes, the API is updated in place and the stages go on serving
    # the old snapshot unless the deployment is replaced, which only its triggers do.
    for deployment in plan.by_type("aws_api_gateway_deployment"):
        for api in plan.referenced(deployment, "rest_api_id"):
            if api.type != _REST_API or api.values.get("body") in (None, ""):
                continue
            if not _triggers_follow_body(deployment, api):
                yield (
                    deployment.address,
                    "triggers",
                    f"the REST API {api.local_address} is defined by its body, but the deployment's "
                    "triggers do not change with it, so a changed document is never deployed to the "
                    f"stages: set triggers = {{ redeployment = sha1({api.local_address}.body) }} (or a "
                    "hash of the document and the stage inputs)",
                )


@resource_rule(
    "apigateway.integration-timeout",
    "aws_api_gateway_integration",
    _REST_API,
    source=(
        "https://github.com/hashicorp/terraform-provider-aws/blob/main/"
        "internal/service/apigateway/integration.go"
    ),
    evidence="timeout_milliseconds: ValidateFunc validation.IntBetween(50, 300000), Default 29000",
)
def integration_timeout(values: Json, ctx: Context) -> Iterator[Finding]:
    if _is_rest_api(values):
        # In a body, the provider checks nothing: API Gateway takes timeoutInMillis "between 50 ms
        # and 29,000 ms"
        # (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-swagger-extensions-integration.html),
        # more only for Regional and private APIs whose account quota was raised, up to the 300000
        # the provider allows (https://github.com/hashicorp/terraform-provider-aws/issues/37859).
        for operation, integration in _body_integrations(values):
            timeout = integration.get("timeoutInMillis")
            if (
                isinstance(timeout, (int, float))
                and not isinstance(timeout, bool)
                and not (50 <= timeout <= 300000)
            ):
                yield (
                    "body",
                    f"{operation.where(INTEGRATION, 'timeoutInMillis')}: {timeout} ms is outside 50 to "
                    "300000 ms: API Gateway takes 50 to 29000 ms, more only where the account's "
                    "integration timeout quota was raised",
                )
        return
    timeout = values.get("timeout_milliseconds")
    if isinstance(timeout, (int, float)) and not (50 <= timeout <= 300000):
        yield (
            "timeout_milliseconds",
            f"{timeout} ms is outside the 50 to 300000 ms the provider accepts (29000 ms unless the "
            "account's integration timeout quota was raised)",
        )


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_rest_api(values: Json) -> bool:
    """A REST API's values, not an integration's (a rule may see both): integrations always
    have http_method."""
    return "http_method" not in values


# The SageMaker runtime's operations on an endpoint, as botocore's sagemaker-runtime model lists
# them: InvokeEndpoint, InvokeEndpointAsync and InvokeEndpointWithResponseStream.
_SAGEMAKER_OPERATIONS = ("invocations", "async-invocations", "invocations-response-stream")
# "path//endpoints/..." is common in published configurations and accepted as well: nothing says
# API Gateway refuses the doubled slash, so the rule does not either.
_SAGEMAKER_URI = re.compile(
    r"^arn:aws[a-z-]*:apigateway:[^:]+:runtime\.sagemaker:path/+endpoints/"
    r"(?P<name>[^/]+)/(?P<operation>[^/]+)$"
)
_ENDPOINT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")


@resource_rule(
    "apigateway.sagemaker-integration-uri",
    "aws_api_gateway_integration",
    _REST_API,
    source=(
        "https://github.com/boto/botocore/blob/develop/botocore/data/"
        "sagemaker-runtime/2017-05-13/service-2.json"
    ),
    evidence=(
        "POST /endpoints/{EndpointName}/invocations, /async-invocations (InvokeEndpointAsync) and "
        "/invocations-response-stream; EndpointName matches ^[a-zA-Z0-9](-*[a-zA-Z0-9])*, max 63"
    ),
)
def sagemaker_integration_uri(values: Json, ctx: Context) -> Iterator[Finding]:
    if _is_rest_api(values):
        for operation, integration in _body_integrations(values):
            for field, message in _sagemaker_problems(
                str(integration.get("type", "")).upper(),
                integration.get("uri"),
                integration.get("httpMethod"),
            ):
                where = operation.where(INTEGRATION, "uri" if field == "uri" else "httpMethod")
                yield "body", f"{where}: {message}"
        return
    yield from _sagemaker_problems(
        values.get("type"), values.get("uri"), values.get("integration_http_method")
    )


def _sagemaker_problems(kind: Any, uri: Any, http_method: Any) -> Iterator[Finding]:
    """(field, message) for a SageMaker runtime integration: ``uri`` or ``integration_http_method``."""
    if kind != "AWS" or not isinstance(uri, str) or ":runtime.sagemaker:" not in uri:
        return
    found = _SAGEMAKER_URI.match(uri)
    if found is None or found["operation"] not in _SAGEMAKER_OPERATIONS:
        yield (
            "uri",
            f"{uri!r}: a SageMaker runtime integration is arn:<partition>:apigateway:<region>:"
            "runtime.sagemaker:path/endpoints/<endpoint name>/<operation>, the operation being "
            "invocations, async-invocations or invocations-response-stream",
        )
        return
    name = found["name"]
    # A name mapped at request time is checked by nobody here: "{endpoint}" takes the value of
    # integration.request.path.endpoint, and a stage variable may stand in any part of an AWS
    # integration URI's path
    # (https://docs.aws.amazon.com/apigateway/latest/developerguide/aws-api-gateway-stage-variables-reference.html).
    if "{" not in name and (len(name) > 63 or not _ENDPOINT_NAME.match(name)):
        yield "uri", f"{name!r} is not a SageMaker endpoint name (up to 63 letters, digits, hyphens)"
    elif http_method not in (None, UNKNOWN, "POST"):
        yield (
            "integration_http_method",
            f"the SageMaker runtime's operations are POSTs; {http_method!r} reaches none",
        )


# --------------------------------------------------------------------- Lambda permissions

# API Gateway calls the function with a source ARN of
# arn:<partition>:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path> (or
# <api id>/authorizers/<id>; https://docs.aws.amazon.com/apigateway/latest/developerguide/arn-format-reference.html).
# Lambda matches it against the permission's source_arn with ArnLike, as the function policy in
# https://repost.aws/questions/QUizsg_qznQLWKtqUD8Ruszw/api-gateway-lacks-permissions-to-trigger-lambda-when-made-by-terraform
# shows. ArnLike compares each colon-separated part on its own, "*" and "?" as wildcards within it;
# "*" also spans "/".
# So only a pattern that no such ARN can match is a mistake: "...:123456789012:*" and
# "...:abc123*" are valid, if broad.
_ARN_PARTS = re.compile(
    r"^arn:(?P<partition>[^:]*):(?P<service>[^:]*):(?P<region>[^:]*):(?P<account>[^:]*):(?P<rest>.*)$"
)


def _like(pattern: str, text: str) -> bool:
    """ArnLike on one ARN part: case-insensitive, "*" any run of characters, "?" one."""
    return fnmatch.fnmatchcase(text.lower(), pattern.lower().replace("[", "[[]"))


def _account_can_match(pattern: str) -> bool:
    """Whether some 12-digit account id matches the pattern."""
    if any(c not in "0123456789*?" for c in pattern):
        return False
    fixed = len(pattern.replace("*", ""))
    return fixed <= 12 if "*" in pattern else fixed == 12


@resource_rule(
    "apigateway.lambda-permission-source-arn",
    "aws_lambda_permission",
    source="https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html",
    evidence=(
        "ArnLike: each of the six colon-delimited components of the ARN is checked separately and "
        "each can include multi-character match wildcards (*) or single-character match wildcards (?)"
    ),
)
def lambda_permission_source_arn(values: Json, ctx: Context) -> Iterator[Finding]:
    arn = values.get("source_arn")
    if values.get("principal") != _APIGATEWAY or not isinstance(arn, str):
        return
    found = _ARN_PARTS.match(arn)
    problem = None
    if found is None or not _like(found["service"], "execute-api"):
        problem = "it is not an execute-api ARN"
    elif not found["region"]:
        problem = "its region is empty"
    elif not _account_can_match(found["account"]):
        problem = "its account matches no 12-digit account id"
    elif not any(c in found["rest"] for c in "/*?"):
        problem = "it names the API but no stage, method and path (nor a wildcard), so it matches no request"
    if problem:
        yield (
            "source_arn",
            f"{arn!r}: {problem}; API Gateway invokes the function as "
            "arn:<partition>:execute-api:<region>:<account>:<api id>/<stage>/<METHOD>/<path> "
            "(or <api id>/authorizers/<id>), so this permission never applies and requests fail",
        )
