"""Amazon SageMaker hosting: serverless and shadow variants, deployment steps; the rules the API
model cannot express (its ranges and patterns are checked by the API-model table)."""

from __future__ import annotations

from collections.abc import Iterator

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

_SERVERLESS_CONFIG_DOC = (
    "https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html"
)
_SERVERLESS_DOC = "https://docs.aws.amazon.com/sagemaker/latest/dg/serverless-endpoints.html"


def _variant_blocks(values: Json) -> Iterator[tuple[str, Json]]:
    yield from blocks(values, "production_variants")
    yield from blocks(values, "shadow_production_variants")


def _serverless(variant: Json) -> bool:
    config = variant.get("serverless_config")
    return bool(config) and config is not UNKNOWN


@resource_rule(
    "sagemaker.serverless-memory-step",
    "aws_sagemaker_endpoint_configuration",
    source=_SERVERLESS_CONFIG_DOC,
    evidence=(
        "MemorySizeInMB: Valid values are in 1 GB increments: 1024 MB, 2048 MB, 3072 MB, "
        "4096 MB, 5120 MB, or 6144 MB."
    ),
)
def serverless_memory_step(values: Json, ctx: Context) -> Iterator[Finding]:
    for path, variant in _variant_blocks(values):
        for config_path, config in blocks(variant, "serverless_config"):
            memory = config.get("memory_size_in_mb")
            if isinstance(memory, int | float) and memory % 1024 != 0:
                yield (
                    f"{path}.{config_path}.memory_size_in_mb",
                    f"memory_size_in_mb {memory:g} is not a whole number of GB: serverless "
                    "endpoints take 1024, 2048, 3072, 4096, 5120 or 6144 MB",
                )


@resource_rule(
    "sagemaker.serverless-provisioned-concurrency",
    "aws_sagemaker_endpoint_configuration",
    source=_SERVERLESS_CONFIG_DOC,
    evidence="ProvisionedConcurrency: Should be less than or equal to MaxConcurrency.",
)
def serverless_provisioned_concurrency(values: Json, ctx: Context) -> Iterator[Finding]:
    for path, variant in _variant_blocks(values):
        for config_path, config in blocks(variant, "serverless_config"):
            provisioned, maximum = config.get("provisioned_concurrency"), config.get("max_concurrency")
            if (
                isinstance(provisioned, int | float)
                and isinstance(maximum, int | float)
                and provisioned > maximum
            ):
                yield (
                    f"{path}.{config_path}.provisioned_concurrency",
                    f"provisioned_concurrency {provisioned:g} exceeds max_concurrency {maximum:g}: "
                    "the provisioned concurrency is part of the endpoint's maximum",
                )


@resource_rule(
    "sagemaker.serverless-exclusions",
    "aws_sagemaker_endpoint_configuration",
    source=_SERVERLESS_DOC,
    evidence=(
        "Some of the features currently available for SageMaker Real-time Inference are not "
        "supported for Serverless Inference, including ... data capture, multiple production variants"
    ),
)
def serverless_exclusions(values: Json, ctx: Context) -> Iterator[Finding]:
    variants = values.get("production_variants")
    if not isinstance(variants, list) or not any(isinstance(v, dict) and _serverless(v) for v in variants):
        return
    if len(variants) > 1:
        yield (
            "production_variants",
            f"a serverless endpoint takes a single production variant, not {len(variants)}: "
            "put the other variants on an endpoint of their own",
        )
    for path, capture in blocks(values, "data_capture_config"):
        if capture.get("enable_capture") is not False:
            yield (
                path,
                "serverless endpoints do not support data capture: capture requests on an "
                "instance-based endpoint, or leave data_capture_config out",
            )


@plan_rule(
    "sagemaker.serverless-model-exclusions",
    source=_SERVERLESS_DOC,
    evidence=(
        "not supported for Serverless Inference, including ... Multi-Model Endpoints, VPC "
        "configuration, network isolation, ... and inference pipelines"
    ),
)
def serverless_model_exclusions(plan: PlanView, ctx: Context) -> Iterator[PlanFinding]:
    models = {
        r.values.get("name"): r
        for r in plan.by_type("aws_sagemaker_model")
        if isinstance(r.values.get("name"), str)
    }
    for config in plan.by_type("aws_sagemaker_endpoint_configuration"):
        for _, variant in blocks(config.values, "production_variants"):
            model = models.get(variant.get("model_name"))
            if model is None or not _serverless(variant):
                continue
            problems = []
            if model.values.get("vpc_config"):
                problems.append("a VPC configuration")
            if model.values.get("enable_network_isolation") is True:
                problems.append("network isolation")
            containers = list(model.values.get("container") or [])
            if len(containers) > 1:
                problems.append("several containers (an inference pipeline)")
            modes = [c.get("mode") for c in [*(model.values.get("primary_container") or []), *containers]]
            if "MultiModel" in modes:
                problems.append("MultiModel mode")
            if problems:
                yield (
                    model.address,
                    "",
                    f"{config.address} serves this model on a serverless variant, which takes no "
                    f"{', no '.join(problems)}: use an instance-based variant for this model",
                )


@resource_rule(
    "sagemaker.shadow-variant-count",
    "aws_sagemaker_endpoint_configuration",
    source="https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateEndpointConfig.html",
    evidence=(
        "ShadowProductionVariants: If you use this field, you can only specify one variant for "
        "ProductionVariants and one variant for ShadowProductionVariants."
    ),
)
def shadow_variant_count(values: Json, ctx: Context) -> Iterator[Finding]:
    shadows = values.get("shadow_production_variants")
    if not isinstance(shadows, list) or not shadows:
        return
    variants = values.get("production_variants")
    if isinstance(variants, list) and len(variants) != 1:
        yield (
            "production_variants",
            f"an endpoint configuration with a shadow variant takes exactly one production "
            f"variant, not {len(variants)}",
        )
    if len(shadows) != 1:
        yield "shadow_production_variants", f"one shadow variant at most, not {len(shadows)}"


# Bounds the API reference gives for capacity percentages; instance counts depend on the fleet
# size at deployment time (autoscaling moves it), which no plan knows.
_STEP_PERCENT = {"canary_size": (1, 50), "linear_step_size": (10, 50)}


@resource_rule(
    "sagemaker.traffic-step-size",
    "aws_sagemaker_endpoint",
    source="https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TrafficRoutingConfig.html",
    evidence=(
        "CanarySize: Value must be less than or equal to 50% of the variant's total instance "
        "count. LinearStepSize: Value must be 10-50% of the variant's total instance count."
    ),
)
def traffic_step_size(values: Json, ctx: Context) -> Iterator[Finding]:
    for path, routing in blocks(
        values, "deployment_config.blue_green_update_policy.traffic_routing_configuration"
    ):
        for step, (low, high) in _STEP_PERCENT.items():
            for step_path, size in blocks(routing, step):
                value = size.get("value")
                if size.get("type") != "CAPACITY_PERCENT" or not isinstance(value, int | float):
                    continue
                if not low <= value <= high:
                    yield (
                        f"{path}.{step_path}.value",
                        f"{step} of {value:g} percent is out of range: it must be {low} to {high} "
                        "percent of the variant's capacity",
                    )
