"""Plan checks of the REST API's custom domain (modules/rest-api, custom_domain): the domain name,
its base path mappings, the Route 53 alias records, and the inputs refused before AWS sees them."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tfharness import Workspace
from tfharness.workspace import REPO_ROOT, PlanResult, terraform_dirs

pytestmark = pytest.mark.terraform

MODULE = "modules/rest-api"
ACCOUNT = "123456789012"
INVOKE_ARN = (
    "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
    f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:churn-predict/invocations"
)
CERT_US_EAST_1 = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
CERT_EU_WEST_1 = f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
ZONE = "Z0123456789ABCDEFGHIJ"
DOMAIN = "api.example.com"
BASE: dict[str, Any] = {
    "name": "churn-api",
    "lambda_function": {"function_name": "churn-predict", "invoke_arn": INVOKE_ARN},
    "routes": {"predict": {"type": "lambda_proxy", "path": "predict", "api_key_required": False}},
    "stages": {"prod": {}, "test": {}},
}
DOMAIN_ADDRESS = "aws_api_gateway_domain_name.this[0]"


def _plan(tf: Workspace, **custom_domain: Any) -> PlanResult:
    return tf.plan(MODULE, {**BASE, "custom_domain": {"domain_name": DOMAIN, **custom_domain}})


def _error(tf: Workspace, **custom_domain: Any) -> str:
    return tf.plan_error(MODULE, {**BASE, "custom_domain": {"domain_name": DOMAIN, **custom_domain}})


def _mappings(plan: PlanResult) -> dict[str, dict[str, Any]]:
    prefix = "aws_api_gateway_base_path_mapping.this"
    return {a[len(prefix) + 2 : -2]: plan.resource(a) for a in plan.addresses(prefix)}


def test_no_custom_domain_plans_none_of_its_resources(tf: Workspace) -> None:
    plan = tf.plan(MODULE, BASE)
    assert not plan.addresses("aws_api_gateway_domain_name")
    assert not plan.addresses("aws_api_gateway_base_path_mapping")
    assert not plan.addresses("aws_route53_record")
    assert plan.outputs["custom_domain_url"] == {}
    assert plan.outputs["custom_domain_name"] is None


def test_regional_domain_uses_the_regional_certificate_and_tls_1_2(tf: Workspace) -> None:
    domain = _plan(tf, certificate_arn=CERT_US_EAST_1).resource(DOMAIN_ADDRESS)
    assert domain["domain_name"] == DOMAIN
    assert domain["regional_certificate_arn"] == CERT_US_EAST_1
    assert domain["certificate_arn"] is None
    assert domain["security_policy"] == "TLS_1_2"
    assert domain["endpoint_access_mode"] is None
    assert domain["endpoint_configuration"] == [{"types": ["REGIONAL"], "ip_address_type": "dualstack"}]


def test_edge_domain_uses_the_edge_certificate(tf: Workspace) -> None:
    domain = _plan(tf, certificate_arn=CERT_US_EAST_1, endpoint_type="EDGE").resource(DOMAIN_ADDRESS)
    assert domain["certificate_arn"] == CERT_US_EAST_1
    assert domain["regional_certificate_arn"] is None
    assert domain["endpoint_configuration"][0]["types"] == ["EDGE"]


def test_enhanced_security_policy_plans_with_its_endpoint_access_mode(tf: Workspace) -> None:
    domain = _plan(
        tf,
        certificate_arn=CERT_US_EAST_1,
        security_policy="SecurityPolicy_TLS13_1_3_2025_09",
        endpoint_access_mode="STRICT",
    ).resource(DOMAIN_ADDRESS)
    assert (domain["security_policy"], domain["endpoint_access_mode"]) == (
        "SecurityPolicy_TLS13_1_3_2025_09",
        "STRICT",
    )


def test_every_stage_is_served_under_its_own_name_by_default(tf: Workspace) -> None:
    plan = _plan(tf, certificate_arn=CERT_US_EAST_1)
    mappings = _mappings(plan)
    assert {stage: m["base_path"] for stage, m in mappings.items()} == {"prod": "prod", "test": "test"}
    assert {m["stage_name"] for m in mappings.values()} == {"prod", "test"}
    assert {m["domain_name"] for m in mappings.values()} == {DOMAIN}
    assert plan.outputs["custom_domain_url"] == {
        "prod": f"https://{DOMAIN}/prod",
        "test": f"https://{DOMAIN}/test",
    }


def test_base_paths_pick_the_stages_and_their_paths(tf: Workspace) -> None:
    plan = _plan(tf, certificate_arn=CERT_US_EAST_1, base_paths={"prod": "", "test": "v1-test"})
    assert {stage: m["base_path"] for stage, m in _mappings(plan).items()} == {"prod": "", "test": "v1-test"}
    assert plan.outputs["custom_domain_url"] == {
        "prod": f"https://{DOMAIN}",
        "test": f"https://{DOMAIN}/v1-test",
    }


def test_a_null_base_path_is_the_root_and_unlisted_stages_are_not_mapped(tf: Workspace) -> None:
    plan = _plan(tf, certificate_arn=CERT_US_EAST_1, base_paths={"prod": None})
    assert {stage: m["base_path"] for stage, m in _mappings(plan).items()} == {"prod": ""}
    assert plan.outputs["custom_domain_url"] == {"prod": f"https://{DOMAIN}"}


def _records(plan: PlanResult) -> dict[str, dict[str, Any]]:
    return {
        plan.resource(a)["type"]: plan.resource(a) for a in plan.addresses("aws_route53_record.custom_domain")
    }


def test_route53_zone_gets_a_and_aaaa_aliases_for_a_dualstack_domain(tf: Workspace) -> None:
    records = _records(_plan(tf, certificate_arn=CERT_US_EAST_1, route53_zone_id=ZONE))
    assert set(records) == {"A", "AAAA"}
    for record in records.values():
        assert (record["zone_id"], record["name"]) == (ZONE, DOMAIN)
        assert record["ttl"] is None
        assert record["records"] is None
        # The alias target (regional_domain_name / regional_zone_id) is known only after apply.
        assert len(record["alias"]) == 1
        assert record["alias"][0]["evaluate_target_health"] is False


def test_an_ipv4_domain_gets_only_an_a_record(tf: Workspace) -> None:
    plan = _plan(tf, certificate_arn=CERT_US_EAST_1, route53_zone_id=ZONE, ip_address_type="ipv4")
    assert set(_records(plan)) == {"A"}
    assert plan.resource(DOMAIN_ADDRESS)["endpoint_configuration"][0]["ip_address_type"] == "ipv4"


def test_no_zone_means_no_records(tf: Workspace) -> None:
    assert not _plan(tf, certificate_arn=CERT_US_EAST_1).addresses("aws_route53_record")


def test_alias_records_point_at_the_target_the_endpoint_type_names() -> None:
    # Planned alias targets are unknown until apply, so the wiring is read from the module: a
    # REGIONAL domain is reached through regional_domain_name/regional_zone_id, an EDGE one
    # through the CloudFront distribution, cloudfront_domain_name/cloudfront_zone_id.
    text = (REPO_ROOT / MODULE / "domain.tf").read_text(encoding="utf-8")
    assert (
        "local.edge_domain ? aws_api_gateway_domain_name.this[0].cloudfront_domain_name : "
        "aws_api_gateway_domain_name.this[0].regional_domain_name"
    ) in text
    assert (
        "local.edge_domain ? aws_api_gateway_domain_name.this[0].cloudfront_zone_id : "
        "aws_api_gateway_domain_name.this[0].regional_zone_id"
    ) in text


@pytest.mark.parametrize(
    ("custom_domain", "message"),
    [
        ({}, "custom_domain.certificate_arn is required"),
        (
            {"certificate_arn": "arn:aws:iam::123456789012:server-certificate/api"},
            "must be an ACM certificate ARN",
        ),
        (
            {"certificate_arn": CERT_EU_WEST_1, "endpoint_type": "EDGE"},
            "an EDGE domain needs its ACM certificate in us-east-1",
        ),
        ({"certificate_arn": CERT_US_EAST_1, "endpoint_type": "PRIVATE"}, "endpoint_type must be REGIONAL"),
        (
            {"certificate_arn": CERT_US_EAST_1, "security_policy": "SecurityPolicy_TLS13_1_3_2025_09"},
            "needs endpoint_access_mode BASIC or STRICT",
        ),
        (
            {"certificate_arn": CERT_US_EAST_1, "endpoint_access_mode": "STRICT"},
            "TLS_1_2 takes none",
        ),
        (
            {"certificate_arn": CERT_US_EAST_1, "security_policy": "TLS_1_0"},
            "TLS_1_0, which still admits TLS 1.0",
        ),
        (
            {"certificate_arn": CERT_US_EAST_1, "security_policy": "SecurityPolicy_TLS13_2025_EDGE"},
            "custom_domain.security_policy must be",
        ),
        (
            {
                "certificate_arn": CERT_US_EAST_1,
                "endpoint_type": "EDGE",
                "security_policy": "SecurityPolicy_TLS13_1_3_2025_09",
                "endpoint_access_mode": "STRICT",
            },
            "custom_domain.security_policy must be",
        ),
        ({"certificate_arn": CERT_US_EAST_1, "base_paths": {"staging": "v1"}}, "unknown: staging"),
        ({"certificate_arn": CERT_US_EAST_1, "base_paths": {"prod": "v1/predict"}}, 'without "/"'),
        ({"certificate_arn": CERT_US_EAST_1, "base_paths": {"prod": "", "test": None}}, "share a base path"),
        ({"certificate_arn": CERT_US_EAST_1, "base_paths": {}}, "must map at least one stage"),
        ({"certificate_arn": CERT_US_EAST_1, "ip_address_type": "ipv6"}, "ip_address_type must be"),
    ],
)
def test_bad_custom_domains_fail_with_what_to_fix(
    tf: Workspace, custom_domain: dict[str, Any], message: str
) -> None:
    assert message in _error(tf, **custom_domain)


def test_bad_domain_names_are_refused(tf: Workspace) -> None:
    for name in ("api", "*.example.com", "api..example.com", "https://api.example.com"):
        error = tf.plan_error(
            MODULE, {**BASE, "custom_domain": {"domain_name": name, "certificate_arn": CERT_US_EAST_1}}
        )
        assert "custom_domain.domain_name must be a fully qualified host name" in error, name


def test_a_private_api_takes_no_custom_domain(tf: Workspace) -> None:
    error = tf.plan_error(
        MODULE,
        {
            **BASE,
            "endpoint_configuration": {"type": "PRIVATE", "vpc_endpoint_ids": ["vpce-0123456789abcdef0"]},
            "custom_domain": {"domain_name": DOMAIN, "certificate_arn": CERT_US_EAST_1},
        },
    )
    assert "custom_domain cannot serve a PRIVATE API" in error


# A root in another region than us-east-1: the REGIONAL certificate must be in that region.
_EU_WEST_1 = """
provider "aws" {
  region = "eu-west-1"
}

variable "custom_domain" {
  type = any
}

module "api" {
  source          = "../../modules/rest-api"
  name            = "churn-api"
  lambda_function = { function_name = "churn-predict", invoke_arn = "EU_INVOKE_ARN" }
  routes          = { predict = { type = "lambda_proxy", path = "predict", api_key_required = false } }
  custom_domain   = var.custom_domain
}

output "custom_domain_url" {
  value = module.api.custom_domain_url
}
""".replace("EU_INVOKE_ARN", INVOKE_ARN.replace("us-east-1", "eu-west-1"))


def test_regional_certificate_in_another_region_than_the_api_is_refused(tf: Workspace) -> None:
    root = tf.inline(_EU_WEST_1)
    error = tf.plan_error(root, {"custom_domain": {"domain_name": DOMAIN, "certificate_arn": CERT_US_EAST_1}})
    assert "a REGIONAL domain needs its ACM certificate in the API's region (eu-west-1)" in error
    assert "is in us-east-1" in error


def test_regional_certificate_in_the_apis_region_and_edge_certificate_in_us_east_1_plan(
    tf: Workspace,
) -> None:
    root = tf.inline(_EU_WEST_1)
    regional = tf.plan(root, {"custom_domain": {"domain_name": DOMAIN, "certificate_arn": CERT_EU_WEST_1}})
    assert regional.resource(f"module.api.{DOMAIN_ADDRESS}")["regional_certificate_arn"] == CERT_EU_WEST_1
    edge = tf.plan(
        root,
        {
            "custom_domain": {
                "domain_name": DOMAIN,
                "certificate_arn": CERT_US_EAST_1,
                "endpoint_type": "EDGE",
            }
        },
    )
    assert edge.resource(f"module.api.{DOMAIN_ADDRESS}")["certificate_arn"] == CERT_US_EAST_1
    assert edge.outputs["custom_domain_url"] == {"prod": f"https://{DOMAIN}/prod"}


# Arguments newer than the provider's 6.0 line, with the release that added them:
# endpoint_access_mode of aws_api_gateway_domain_name came in 6.28.0
# (https://github.com/hashicorp/terraform-provider-aws/pull/45741, provider CHANGELOG 6.28.0).
ARGUMENT_SINCE = {"endpoint_access_mode": (6, 28)}
_LOCAL_SOURCE = re.compile(r'^\s*source\s*=\s*"(\.{1,2}/[^"]*)"', re.MULTILINE)
_AWS_FLOOR = re.compile(r'aws\s*=\s*\{[^}]*?version\s*=\s*"(?:>=|~>)\s*(\d+)\.(\d+)(?:\.\d+)?"', re.DOTALL)


def _texts(directory: Path, seen: set[Path]) -> list[str]:
    """The .tf files of ``directory`` and of every local module it calls."""
    directory = directory.resolve()
    if directory in seen:
        return []
    seen.add(directory)
    texts = [p.read_text(encoding="utf-8") for p in sorted(directory.glob("*.tf"))]
    for text in list(texts):
        for source in _LOCAL_SOURCE.findall(text):
            texts += _texts(directory / source, seen)
    return texts


@pytest.mark.parametrize("rel", list(terraform_dirs()))
def test_the_provider_floor_admits_every_argument_the_configuration_uses(rel: str) -> None:
    directory = REPO_ROOT / rel
    own = "\n".join(p.read_text(encoding="utf-8") for p in directory.glob("*.tf"))
    floor = _AWS_FLOOR.search(own)
    declared = (int(floor.group(1)), int(floor.group(2))) if floor else (0, 0)
    used = "\n".join(_texts(directory, set()))
    for argument, since in ARGUMENT_SINCE.items():
        if re.search(rf"^\s*{argument}\s*=", used, re.MULTILINE):
            assert floor, f"{rel} uses {argument} but declares no hashicorp/aws version constraint"
            assert declared >= since, (
                f"{rel} admits hashicorp/aws {declared[0]}.{declared[1]}, but {argument} exists from "
                f"{since[0]}.{since[1]}"
            )
