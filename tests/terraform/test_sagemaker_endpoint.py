"""Plan checks of modules/sagemaker-endpoint: names, rollout safety, autoscaling, role scope.

Replacement decisions (ForceNew) live in the provider, which the offline stand-in does not
model. Offline, the checks therefore assert what drives a safe rollout: content-hashed
names and ``create_before_destroy`` in the configuration. The real-provider test at the end
plans an actual update and asserts the endpoint itself is updated in place.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tfharness import PlanResult, Workspace, real_terraform_requested
from tfharness.toolchain import install_offline
from tfharness.workspace import REPO_ROOT

pytestmark = pytest.mark.terraform

MODULE = "modules/sagemaker-endpoint"
ACCOUNT = "123456789012"
IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/churn:1.4.0"
ARTIFACT = "s3://ml-artifacts/churn/v3/model.tar.gz"
BASE: dict[str, Any] = {
    "name": "churn-prod",
    "model": {"image": IMAGE, "model_data_url": ARTIFACT, "environment": {"MODEL_SERVER_WORKERS": "2"}},
    "variants": {"primary": {"instance_type": "ml.m5.large", "initial_instance_count": 2}},
}
HASHED = re.compile(r"^churn-prod-[0-9a-f]{8}$")


def _with(**overrides: Any) -> dict[str, Any]:
    return {**BASE, **overrides}


def _statements(plan: PlanResult) -> dict[str, dict[str, Any]]:
    policy = json.loads(plan.resource("aws_iam_role_policy.this[0]")["policy"])
    return {s["Sid"]: s for s in policy["Statement"]}


def _as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def base_plan(tf: Workspace) -> PlanResult:
    return tf.plan(MODULE, BASE)


def test_defaults_name_and_wire_model_config_and_endpoint(base_plan: PlanResult) -> None:
    model = base_plan.resource("aws_sagemaker_model.this")
    config = base_plan.resource("aws_sagemaker_endpoint_configuration.this")
    endpoint = base_plan.resource("aws_sagemaker_endpoint.this")

    assert HASHED.match(model["name"]), model["name"]
    assert HASHED.match(config["name"]), config["name"]
    assert endpoint["name"] == "churn-prod"
    assert endpoint["endpoint_config_name"] == config["name"]

    assert model["primary_container"] == [
        {
            "additional_model_data_source": [],
            "container_hostname": None,
            "environment": {"MODEL_SERVER_WORKERS": "2"},
            "image": IMAGE,
            "image_config": [],
            "inference_specification_name": None,
            "mode": "SingleModel",
            "model_data_source": [],
            "model_data_url": ARTIFACT,
            "model_package_name": None,
            "multi_model_config": [],
        }
    ]
    assert model["enable_network_isolation"] is False
    assert model["vpc_config"] == []

    (variant,) = config["production_variants"]
    assert variant["variant_name"] == "primary"
    assert variant["model_name"] == model["name"]
    assert (variant["instance_type"], variant["initial_instance_count"]) == ("ml.m5.large", 2)
    assert variant["initial_variant_weight"] == 1
    assert variant["serverless_config"] == []
    assert config["shadow_production_variants"] == []
    assert config["data_capture_config"] == []
    assert config["async_inference_config"] == []

    # Blue/green, all at once, with a five-minute baking period and no alarms by default.
    policy = endpoint["deployment_config"][0]["blue_green_update_policy"][0]
    routing = policy["traffic_routing_configuration"][0]
    assert (routing["type"], routing["wait_interval_in_seconds"]) == ("ALL_AT_ONCE", 300)
    assert routing["canary_size"] == routing["linear_step_size"] == []
    assert endpoint["deployment_config"][0]["auto_rollback_configuration"] == []

    assert (
        base_plan.resource("aws_cloudwatch_log_group.this")["name"] == "/aws/sagemaker/Endpoints/churn-prod"
    )
    # IAM names are global to the account: the region keeps two deployments of one name apart.
    assert base_plan.resource("aws_iam_role.this[0]")["name"] == "churn-prod-sagemaker-us-east-1"
    assume = json.loads(base_plan.resource("aws_iam_role.this[0]")["assume_role_policy"])
    assert assume["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    # The confused-deputy condition SageMaker documents for inference and Batch Transform roles:
    # https://docs.aws.amazon.com/sagemaker/latest/dg/security-confused-deputy-prevention.html
    assert assume["Statement"][0]["Condition"] == {
        "ArnLike": {"aws:SourceArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:*"}
    }
    assert not base_plan.addresses("aws_appautoscaling")

    outputs = base_plan.outputs
    assert outputs["endpoint_name"] == "churn-prod"
    assert outputs["model_name"] == model["name"]
    assert outputs["endpoint_config_name"] == config["name"]
    assert outputs["variant_names"] == ["primary"]
    assert outputs["shadow_variant_name"] is None


def test_config_name_follows_its_content_while_the_endpoint_name_stays(
    tf: Workspace, base_plan: PlanResult
) -> None:
    def names(plan: PlanResult) -> tuple[str, str, str]:
        return (
            plan.resource("aws_sagemaker_model.this")["name"],
            plan.resource("aws_sagemaker_endpoint_configuration.this")["name"],
            plan.resource("aws_sagemaker_endpoint.this")["name"],
        )

    model, config, endpoint = names(base_plan)

    # Tags are not part of what defines a model or configuration: the same names again.
    assert names(tf.plan(MODULE, _with(tags={"team": "ml"}))) == (model, config, endpoint)

    # A variant change: a new configuration, the same model and endpoint.
    scaled = _with(variants={"primary": {"instance_type": "ml.m5.large", "initial_instance_count": 3}})
    new_model, new_config, new_endpoint = names(tf.plan(MODULE, scaled))
    assert (new_model, new_endpoint) == (model, endpoint)
    assert new_config != config
    assert HASHED.match(new_config)

    # A new model version: a new model and therefore a new configuration, the same endpoint.
    retrained = _with(model={**BASE["model"], "model_data_url": "s3://ml-artifacts/churn/v4/model.tar.gz"})
    next_model, next_config, next_endpoint = names(tf.plan(MODULE, retrained))
    assert next_model != model
    assert next_config not in {config, new_config}
    assert next_endpoint == endpoint


def _resource_blocks(path: Path) -> dict[str, dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        parsed = hcl2.load(handle)
    blocks: dict[str, dict[str, Any]] = {}
    for resource in parsed.get("resource", []):
        for type_name, by_name in resource.items():
            for name, body in by_name.items():
                blocks[f"{type_name.strip(chr(34))}.{name.strip(chr(34))}"] = body
    return blocks


def _lifecycle(block: dict[str, Any]) -> dict[str, Any]:
    """The block's lifecycle arguments (python-hcl2 wraps every attribute value in a list)."""
    merged: dict[str, Any] = {}
    for item in block.get("lifecycle", []):
        merged.update({key: value[0] for key, value in item.items() if isinstance(value, list) and value})
    return merged


def test_model_and_config_are_created_before_the_old_ones_are_destroyed() -> None:
    # `create_before_destroy` is not part of `terraform show -json` (neither the plan's
    # "configuration" section nor planned values carry lifecycle), so read the code itself.
    module = REPO_ROOT / MODULE
    blocks = {}
    for path in sorted(module.glob("*.tf")):
        blocks.update(_resource_blocks(path))

    for address in ("aws_sagemaker_model.this", "aws_sagemaker_endpoint_configuration.this"):
        assert _lifecycle(blocks[address]).get("create_before_destroy") is True, address
    # The endpoint keeps its name and is updated in place: it must not be replaced.
    assert "create_before_destroy" not in _lifecycle(blocks["aws_sagemaker_endpoint.this"])
    assert "name_prefix" not in blocks["aws_sagemaker_endpoint_configuration.this"]

    # A changed instance type deregisters the scalable target (and policy) before the update.
    for address in ("aws_appautoscaling_target.this", "aws_appautoscaling_policy.this"):
        triggers = _lifecycle(blocks[address]).get("replace_triggered_by")
        assert triggers == ["${terraform_data.scaling_instance_type[each.key]}"], (address, triggers)


def test_autoscaling_targets_each_instance_variant_by_resource_id(tf: Workspace) -> None:
    plan = tf.plan(
        MODULE,
        _with(
            variants={
                "blue": {
                    "instance_type": "ml.c5.xlarge",
                    "initial_instance_count": 2,
                    "initial_weight": 3,
                    "autoscaling": {
                        "min_capacity": 2,
                        "max_capacity": 8,
                        "target_invocations_per_instance": 750,
                        "scale_in_cooldown": 600,
                    },
                },
                "green": {"instance_type": "ml.c5.xlarge", "initial_weight": 1},
            }
        ),
    )
    assert plan.addresses("aws_appautoscaling_target") == ['aws_appautoscaling_target.this["blue"]']
    target = plan.resource('aws_appautoscaling_target.this["blue"]')
    assert target["resource_id"] == "endpoint/churn-prod/variant/blue"
    assert target["scalable_dimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert target["service_namespace"] == "sagemaker"
    assert (target["min_capacity"], target["max_capacity"]) == (2, 8)

    policy = plan.resource('aws_appautoscaling_policy.this["blue"]')
    assert policy["resource_id"] == "endpoint/churn-prod/variant/blue"
    assert policy["policy_type"] == "TargetTrackingScaling"
    tracking = policy["target_tracking_scaling_policy_configuration"][0]
    assert (tracking["target_value"], tracking["scale_in_cooldown"], tracking["scale_out_cooldown"]) == (
        750,
        600,
        60,
    )
    assert tracking["predefined_metric_specification"][0]["predefined_metric_type"] == (
        "SageMakerVariantInvocationsPerInstance"
    )
    assert plan.resource('terraform_data.scaling_instance_type["blue"]')["input"] == "ml.c5.xlarge"

    variants = plan.resource("aws_sagemaker_endpoint_configuration.this")["production_variants"]
    assert [
        (v["variant_name"], v["initial_variant_weight"], v["initial_instance_count"]) for v in variants
    ] == [
        ("blue", 3, 2),
        ("green", 1, 1),
    ]
    assert plan.outputs["variant_names"] == ["blue", "green"]


def test_role_policy_is_scoped_to_the_artifact_prefix_repository_and_log_group(base_plan: PlanResult) -> None:
    statements = _statements(base_plan)
    assert set(statements) == {
        "WriteEndpointLogs",
        "ReadModelArtifact",
        "PullModelImage",
        "GetRegistryToken",
        "PutMetrics",
    }
    assert statements["ReadModelArtifact"]["Action"] == "s3:GetObject"
    assert statements["ReadModelArtifact"]["Resource"] == "arn:aws:s3:::ml-artifacts/churn/v3/*"
    assert statements["PullModelImage"]["Resource"] == f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/churn"
    assert sorted(_as_list(statements["PullModelImage"]["Action"])) == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
    ]
    assert statements["WriteEndpointLogs"]["Resource"] == (
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/churn-prod:*"
    )
    # AWS lists cloudwatch:PutMetricData for a CreateModel execution role:
    # https://docs.aws.amazon.com/sagemaker/latest/dg/sagemaker-roles.html#sagemaker-roles-createmodel-perms
    assert statements["PutMetrics"]["Action"] == "cloudwatch:PutMetricData"
    # The only "*" are the registry token and metric data, which have no resource-level permissions.
    wildcards = sorted(sid for sid, s in statements.items() if "*" in _as_list(s["Resource"]))
    assert wildcards == ["GetRegistryToken", "PutMetrics"]


def test_role_gets_batch_transform_capture_async_and_key_permissions(tf: Workspace) -> None:
    artifact_key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/artifact"
    data_key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/data"
    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:churn-async"
    plan = tf.plan(
        MODULE,
        _with(
            model={**BASE["model"], "kms_key_arn": artifact_key},
            s3_access={
                "read_prefixes": ["s3://ml-data/batch/in/", "s3://ml-data/features", "s3://ref-data/"],
                "write_prefixes": ["s3://ml-data/batch/out/"],
                "kms_key_arns": [data_key],
            },
            data_capture={
                "destination_s3_uri": "s3://ml-data/capture",
                "sampling_percentage": 20,
                "json_content_types": ["application/json"],
                "csv_content_types": ["text/csv"],
                "kms_key_arn": data_key,
            },
            async_inference={
                "output_s3_uri": "s3://ml-data/async/out/",
                "failure_s3_uri": "s3://ml-data/async/failed/",
                "success_topic_arn": topic,
                "max_concurrent_invocations_per_instance": 4,
            },
        ),
    )
    statements = _statements(plan)
    assert statements["DecryptModelArtifact"] == {
        "Sid": "DecryptModelArtifact",
        "Effect": "Allow",
        "Action": "kms:Decrypt",
        "Resource": artifact_key,
    }
    assert sorted(_as_list(statements["ReadPrefixes"]["Resource"])) == [
        "arn:aws:s3:::ml-data/batch/in/*",
        "arn:aws:s3:::ml-data/features/*",
        "arn:aws:s3:::ref-data/*",
    ]
    assert statements["ListReadPrefixes0"]["Resource"] == "arn:aws:s3:::ml-data"
    assert statements["ListReadPrefixes0"]["Condition"] == {
        "StringLike": {"s3:prefix": ["batch/in/*", "features/*"]}
    }
    assert statements["ListReadPrefixes1"]["Condition"] == {"StringLike": {"s3:prefix": "*"}}
    assert sorted(_as_list(statements["WritePrefixes"]["Resource"])) == [
        "arn:aws:s3:::ml-data/async/failed/*",
        "arn:aws:s3:::ml-data/async/out/*",
        "arn:aws:s3:::ml-data/batch/out/*",
        "arn:aws:s3:::ml-data/capture/*",
    ]
    assert statements["WritePrefixes"]["Action"] == "s3:PutObject"
    assert statements["WriteTransformJobLogs"]["Resource"] == (
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/sagemaker/TransformJobs:*"
    )
    assert statements["UseDataKeys"]["Resource"] == data_key
    assert statements["PublishAsyncNotifications"]["Resource"] == topic

    config = plan.resource("aws_sagemaker_endpoint_configuration.this")
    capture = config["data_capture_config"][0]
    assert (capture["destination_s3_uri"], capture["initial_sampling_percentage"]) == (
        "s3://ml-data/capture",
        20,
    )
    assert capture["enable_capture"] is True
    assert capture["kms_key_id"] == data_key
    assert [o["capture_mode"] for o in capture["capture_options"]] == ["Input", "Output"]
    assert capture["capture_content_type_header"] == [
        {"csv_content_types": ["text/csv"], "json_content_types": ["application/json"]}
    ]
    output = config["async_inference_config"][0]["output_config"][0]
    assert output["s3_output_path"] == "s3://ml-data/async/out/"
    assert output["s3_failure_path"] == "s3://ml-data/async/failed/"
    assert output["notification_config"][0]["success_topic"] == topic
    assert config["async_inference_config"][0]["client_config"] == [
        {"max_concurrent_invocations_per_instance": 4}
    ]


def test_an_existing_role_is_used_as_given(tf: Workspace) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/ml-platform"
    plan = tf.plan(MODULE, _with(iam_role={"arn": role}))
    assert not plan.addresses("aws_iam_role")
    assert plan.resource("aws_sagemaker_model.this")["execution_role_arn"] == role
    assert plan.outputs["role_arn"] == role
    assert plan.outputs["role_name"] is None
    assert "ReadModelArtifact" in {
        s["Sid"] for s in json.loads(plan.outputs["role_policy_json"])["Statement"]
    }


def test_role_name_path_and_boundary_can_be_set_and_the_model_follows(
    tf: Workspace, base_plan: PlanResult
) -> None:
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/ml-boundary"
    plan = tf.plan(
        MODULE,
        _with(
            iam_role={"name": "churn-prod-sagemaker", "path": "/ml/", "permissions_boundary_arn": boundary}
        ),
    )
    role = plan.resource("aws_iam_role.this[0]")
    assert (role["name"], role["path"], role["permissions_boundary"]) == (
        "churn-prod-sagemaker",
        "/ml/",
        boundary,
    )
    # The role's ARN is part of what defines the model: another role, another model name.
    assert (
        plan.resource("aws_sagemaker_model.this")["name"]
        != base_plan.resource("aws_sagemaker_model.this")["name"]
    )


def test_role_name_prefix_keeps_the_model_name_known_at_plan(tf: Workspace) -> None:
    plan = tf.plan(MODULE, _with(iam_role={"name_prefix": "churn-prod-"}))
    assert plan.resource("aws_iam_role.this[0]")["name_prefix"] == "churn-prod-"
    assert HASHED.match(plan.resource("aws_sagemaker_model.this")["name"])


def test_long_names_keep_the_role_within_iam_limits(tf: Workspace) -> None:
    name = "c" * 54
    role = tf.plan(MODULE, _with(name=name)).resource("aws_iam_role.this[0]")["name"]
    assert len(role) == 64
    assert role.endswith("-us-east-1")


def test_rollback_alarms_are_readable_by_the_role(tf: Workspace) -> None:
    plan = tf.plan(MODULE, _with(deployment={"rollback_alarm_names": ["churn-5xx", "churn-latency"]}))
    statement = _statements(plan)["ReadRollbackAlarms"]
    assert statement["Action"] == "cloudwatch:DescribeAlarms"
    assert sorted(_as_list(statement["Resource"])) == [
        f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:churn-5xx",
        f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:churn-latency",
    ]


def test_serverless_variant(tf: Workspace) -> None:
    plan = tf.plan(
        MODULE,
        _with(
            variants={
                "serverless": {
                    "serverless": {
                        "memory_size_in_mb": 2048,
                        "max_concurrency": 20,
                        "provisioned_concurrency": 2,
                    }
                }
            }
        ),
    )
    (variant,) = plan.resource("aws_sagemaker_endpoint_configuration.this")["production_variants"]
    assert variant["serverless_config"] == [
        {"memory_size_in_mb": 2048, "max_concurrency": 20, "provisioned_concurrency": 2}
    ]
    assert variant["instance_type"] is None
    assert variant["initial_instance_count"] is None
    assert not plan.addresses("aws_appautoscaling")


def test_shadow_variant_multi_model_vpc_and_deployment(tf: Workspace) -> None:
    plan = tf.plan(
        MODULE,
        _with(
            model={
                "image": IMAGE,
                "model_data_url": "s3://ml-artifacts/churn/multi/",
                "mode": "MultiModel",
                "enable_network_isolation": True,
                "vpc_config": {"subnet_ids": ["subnet-b", "subnet-a"], "security_group_ids": ["sg-1"]},
            },
            shadow_variant={
                "name": "candidate",
                "instance_type": "ml.m5.large",
                "model_name": "churn-candidate",
            },
            deployment={
                "traffic_shifting": "LINEAR",
                "linear_step_size": {"value": 25},
                "wait_interval_in_seconds": 600,
                "maximum_execution_timeout_in_seconds": 3600,
                "rollback_alarm_names": ["churn-5xx", "churn-latency"],
            },
        ),
    )
    model = plan.resource("aws_sagemaker_model.this")
    assert model["primary_container"][0]["mode"] == "MultiModel"
    assert model["enable_network_isolation"] is True
    assert model["vpc_config"] == [{"subnets": ["subnet-a", "subnet-b"], "security_group_ids": ["sg-1"]}]
    statements = _statements(plan)
    assert statements["ReadModelArtifact"]["Resource"] == "arn:aws:s3:::ml-artifacts/churn/multi/*"
    assert "ec2:CreateNetworkInterface" in statements["ManageVpcInterfaces"]["Action"]

    (shadow,) = plan.resource("aws_sagemaker_endpoint_configuration.this")["shadow_production_variants"]
    assert (shadow["variant_name"], shadow["model_name"], shadow["initial_instance_count"]) == (
        "candidate",
        "churn-candidate",
        1,
    )
    assert plan.outputs["shadow_variant_name"] == "candidate"

    deployment = plan.resource("aws_sagemaker_endpoint.this")["deployment_config"][0]
    policy = deployment["blue_green_update_policy"][0]
    assert policy["maximum_execution_timeout_in_seconds"] == 3600
    routing = policy["traffic_routing_configuration"][0]
    assert (routing["type"], routing["wait_interval_in_seconds"]) == ("LINEAR", 600)
    assert routing["linear_step_size"] == [{"type": "CAPACITY_PERCENT", "value": 25}]
    alarms = deployment["auto_rollback_configuration"][0]["alarms"]
    assert sorted(a["alarm_name"] for a in alarms) == ["churn-5xx", "churn-latency"]


SERVERLESS = {"serverless": {"memory_size_in_mb": 2048, "max_concurrency": 10}}
INSTANCE = {"instance_type": "ml.m5.large"}


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            {"variants": {"v": {**INSTANCE, **SERVERLESS}}},
            "each variant is either instance-based (instance_type, initial_instance_count, "
            "volume_size_in_gb) or serverless (serverless), never both and never neither",
        ),
        ({"variants": {"v": {"initial_instance_count": 1}}}, "never both and never neither"),
        (
            {"variants": {"v": {"serverless": {"memory_size_in_mb": 1536, "max_concurrency": 5}}}},
            "serverless.memory_size_in_mb must be 1024, 2048, 3072, 4096, 5120 or 6144",
        ),
        (
            {
                "variants": {
                    "v": {
                        "serverless": {
                            "memory_size_in_mb": 1024,
                            "max_concurrency": 5,
                            "provisioned_concurrency": 9,
                        }
                    }
                }
            },
            "provisioned_concurrency between 1 and max_concurrency",
        ),
        ({"variants": {"v": {**INSTANCE, "initial_weight": 0}}}, "initial_weight must be positive"),
        (
            {
                "variants": {
                    "v": {
                        **SERVERLESS,
                        "autoscaling": {"max_capacity": 2, "target_invocations_per_instance": 5},
                    }
                }
            },
            "autoscaling applies to instance variants only",
        ),
        (
            {
                "variants": {
                    "v": {
                        **INSTANCE,
                        "autoscaling": {
                            "min_capacity": 3,
                            "max_capacity": 2,
                            "target_invocations_per_instance": 5,
                        },
                    }
                }
            },
            "autoscaling needs 1 <= min_capacity <= max_capacity",
        ),
        (
            {
                "variants": {
                    "v": {
                        **INSTANCE,
                        "initial_instance_count": 5,
                        "autoscaling": {"max_capacity": 4, "target_invocations_per_instance": 5},
                    }
                }
            },
            "initial_instance_count must lie between autoscaling.min_capacity and max_capacity",
        ),
        ({"variants": {}}, "variants must hold 1 to 10 production variants"),
        ({"variants": {"bad_name": INSTANCE}}, "variants keys are variant names"),
        ({"variants": {"a": SERVERLESS, "b": SERVERLESS}}, "serverless endpoints take a single variant"),
        (
            {"variants": {"v": SERVERLESS}, "data_capture": {"destination_s3_uri": "s3://b/capture/"}},
            "data_capture: serverless endpoints take no data capture",
        ),
        (
            {
                "variants": {"v": SERVERLESS},
                "model": {"image": IMAGE, "vpc_config": {"subnet_ids": ["s"], "security_group_ids": ["g"]}},
            },
            "serverless endpoints take no vpc_config, no network isolation and no MultiModel mode",
        ),
        (
            {
                "variants": {"v": SERVERLESS},
                "model": {"image": IMAGE, "mode": "MultiModel", "model_data_url": "s3://b/m/"},
            },
            "serverless endpoints take no vpc_config, no network isolation and no MultiModel mode",
        ),
        (
            {"variants": {"v": SERVERLESS}, "shadow_variant": {"name": "s", **INSTANCE}},
            "serverless endpoints take a single variant and no shadow variant",
        ),
        (
            {"variants": {"v": SERVERLESS}, "async_inference": {"output_s3_uri": "s3://b/out/"}},
            "serverless endpoints take no asynchronous inference",
        ),
        (
            {"data_capture": {"destination_s3_uri": "s3://b/capture/", "sampling_percentage": 101}},
            "data_capture.sampling_percentage must be a whole number between 0 and 100",
        ),
        (
            {"data_capture": {"destination_s3_uri": "s3://b/capture/", "capture_modes": ["Everything"]}},
            "capture_modes must name Input, Output or both",
        ),
        ({"data_capture": {"destination_s3_uri": "b/capture"}}, "destination_s3_uri must be an S3 URI"),
        (
            {"model": {"image": IMAGE, "mode": "MultiModel", "model_data_url": ARTIFACT}},
            "must be an S3 prefix ending in /",
        ),
        ({"model": {"image": IMAGE, "mode": "Pipeline"}}, "model.mode must be SingleModel or MultiModel"),
        (
            {"model": {"image": IMAGE, "model_data_url": "https://x/model.tar.gz"}},
            "model.model_data_url must be an S3 URI",
        ),
        ({"name": "churn_prod"}, "name must be 1 to 54 letters, digits or hyphens"),
        (
            {"deployment": {"traffic_shifting": "CANARY"}},
            "CANARY needs canary_size and LINEAR needs linear_step_size",
        ),
        (
            {"deployment": {"traffic_shifting": "BLUE"}},
            "traffic_shifting must be ALL_AT_ONCE, CANARY or LINEAR",
        ),
        (
            {"deployment": {"traffic_shifting": "CANARY", "canary_size": {"value": 60}}},
            "the canary is at most half the fleet",
        ),
        (
            {"deployment": {"traffic_shifting": "LINEAR", "linear_step_size": {"value": 5}}},
            "linear_step_size: type must be CAPACITY_PERCENT (value 10 to 50)",
        ),
        (
            {"deployment": {"rollback_alarm_names": [f"a{i}" for i in range(11)]}},
            "at most 10 CloudWatch alarm names",
        ),
        (
            {"shadow_variant": {"name": "primary", **INSTANCE}},
            "must differ from every production variant name",
        ),
        ({"shadow_variant": {"name": "s"}}, "shadow_variant is either instance-based"),
        (
            {"variants": {"a": INSTANCE, "b": INSTANCE}, "shadow_variant": {"name": "s", **INSTANCE}},
            "shadow_variant needs exactly one production variant",
        ),
        ({"s3_access": {"read_prefixes": ["ml-data/batch/in/"]}}, "s3_access prefixes must be S3 URIs"),
        ({"iam_role": {"arn": "ml-platform"}}, "iam_role.arn must be an IAM role ARN"),
        ({"iam_role": {"name_prefix": "p" * 39}}, "iam_role.name_prefix must be 1 to 38"),
        (
            {"iam_role": {"arn": f"arn:aws:iam::{ACCOUNT}:role/r", "name": "r"}},
            "set at most one of arn",
        ),
    ],
)
def test_bad_inputs_fail_with_their_message(tf: Workspace, override: dict[str, Any], message: str) -> None:
    assert message in tf.plan_error(MODULE, _with(**override))


@pytest.mark.skipif(
    not real_terraform_requested(),
    reason="needs MLGW_TF_REAL=1: replacement decisions come from the real hashicorp/aws provider",
)
def test_real_provider_updates_the_endpoint_in_place(tf: Workspace, tmp_path: Path) -> None:
    # Given the module applied (offline, into a local state) with one variant
    work = tmp_path / "sagemaker-endpoint"
    shutil.copytree(REPO_ROOT / MODULE, work, ignore=shutil.ignore_patterns(".terraform*"))
    (work / "before.tfvars.json").write_text(json.dumps(BASE), encoding="utf-8")
    changed = _with(variants={"primary": {"instance_type": "ml.m5.large", "initial_instance_count": 3}})
    (work / "after.tfvars.json").write_text(json.dumps(changed), encoding="utf-8")
    offline = install_offline(tmp_path / "offline")
    for args in (
        ["init", "-input=false"],
        ["apply", "-auto-approve", "-input=false", "-var-file=before.tfvars.json"],
    ):
        result = offline.run([*args, "-no-color"], cwd=work)
        assert result.returncode == 0, result.stdout + result.stderr
    shutil.rmtree(work / ".terraform")
    (work / ".terraform.lock.hcl").unlink()

    # When the real provider plans a variant change against that state
    assert tf.toolchain.run(["init", "-input=false", "-no-color"], cwd=work).returncode == 0
    result = tf.toolchain.run(
        [
            "plan",
            "-refresh=false",
            "-input=false",
            "-no-color",
            "-var-file=after.tfvars.json",
            "-out=update.plan",
        ],
        cwd=work,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    shown = tf.toolchain.run(["show", "-json", "update.plan"], cwd=work, check=True)
    changes = {c["address"]: c["change"] for c in json.loads(shown.stdout)["resource_changes"]}

    # Then a new configuration is created before the old one goes, and the endpoint itself is
    # updated in place to point at it, keeping its name
    config = changes["aws_sagemaker_endpoint_configuration.this"]
    assert config["actions"] == ["create", "delete"]
    endpoint = changes["aws_sagemaker_endpoint.this"]
    assert endpoint["actions"] == ["update"]
    assert endpoint["after"]["name"] == endpoint["before"]["name"] == "churn-prod"
    assert endpoint["after"]["endpoint_config_name"] == config["after"]["name"] != config["before"]["name"]
