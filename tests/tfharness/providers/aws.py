"""Stand-in for hashicorp/aws: the real resource schemas, fixed data-source answers.

Data sources that modules read for ARNs (caller identity, region, partition) answer with
fixed values, and ``aws_iam_policy_document`` renders real policy JSON, so plan checks can
assert least-privilege statements. Everything else plans with computed values unknown.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from tfharness import conformance
from tfharness.providers.plugin import SCHEMA_DIR, Json, StandinProvider, diagnostic, fill_unknowns, serve

ACCOUNT_ID = os.environ.get("STANDIN_ACCOUNT_ID", "123456789012")

_STRING = {"type": "string", "optional": True}
_BOOL = {"type": "bool", "optional": True}

# The provider's own configuration block is not part of `providers schema -json` output for
# resources, so this is a hand-written subset of the real aws provider block.
PROVIDER_SCHEMA: Json = {
    "version": 0,
    "block": {
        "attributes": {
            **{
                key: dict(_STRING)
                for key in (
                    "region",
                    "profile",
                    "access_key",
                    "secret_key",
                    "token",
                    "sts_region",
                    "custom_ca_bundle",
                    "http_proxy",
                    "https_proxy",
                    "no_proxy",
                    "retry_mode",
                )
            },
            **{
                key: dict(_BOOL)
                for key in (
                    "skip_credentials_validation",
                    "skip_metadata_api_check",
                    "skip_region_validation",
                    "skip_requesting_account_id",
                    "insecure",
                    "s3_use_path_style",
                    "use_dualstack_endpoint",
                    "use_fips_endpoint",
                )
            },
            "max_retries": {"type": "number", "optional": True},
            "allowed_account_ids": {"type": ["set", "string"], "optional": True},
            "forbidden_account_ids": {"type": ["set", "string"], "optional": True},
            "shared_config_files": {"type": ["list", "string"], "optional": True},
            "shared_credentials_files": {"type": ["list", "string"], "optional": True},
        },
        "block_types": {
            "assume_role": {
                "nesting_mode": "list",
                "block": {
                    "attributes": {
                        "role_arn": dict(_STRING),
                        "session_name": dict(_STRING),
                        "external_id": dict(_STRING),
                        "duration": dict(_STRING),
                        "tags": {"type": ["map", "string"], "optional": True},
                    }
                },
            },
            "default_tags": {
                "nesting_mode": "list",
                "max_items": 1,
                "block": {"attributes": {"tags": {"type": ["map", "string"], "optional": True}}},
            },
            "ignore_tags": {
                "nesting_mode": "list",
                "max_items": 1,
                "block": {
                    "attributes": {
                        "keys": {"type": ["set", "string"], "optional": True},
                        "key_prefixes": {"type": ["set", "string"], "optional": True},
                    }
                },
            },
            "endpoints": {
                "nesting_mode": "set",
                "block": {
                    "attributes": {
                        key: dict(_STRING)
                        for key in (
                            "apigateway",
                            "cloudwatchlogs",
                            "events",
                            "iam",
                            "kms",
                            "lambda",
                            "s3",
                            "sagemaker",
                            "secretsmanager",
                            "sqs",
                            "ssm",
                            "sts",
                        )
                    }
                },
            },
        },
    },
}


def _one_or_list(values: list[str] | None) -> str | list[str]:
    ordered = sorted(values or [])
    return ordered[0] if len(ordered) == 1 else ordered


def render_policy_document(config: Json) -> Json:
    """Render ``aws_iam_policy_document`` the way the real data source shapes its JSON."""
    document: Json = {"Version": config.get("version") or "2012-10-17"}
    if config.get("policy_id"):
        document["Id"] = config["policy_id"]
    statements: list[Json] = []
    for source in config.get("source_policy_documents") or []:
        statements.extend(json.loads(source).get("Statement", []))
    for stmt in config.get("statement") or []:
        rendered: Json = {}
        if stmt.get("sid"):
            rendered["Sid"] = stmt["sid"]
        rendered["Effect"] = stmt.get("effect") or "Allow"
        for key, attr in (
            ("Action", "actions"),
            ("NotAction", "not_actions"),
            ("Resource", "resources"),
            ("NotResource", "not_resources"),
        ):
            if stmt.get(attr):
                rendered[key] = _one_or_list(stmt[attr])
        for key, attr in (("Principal", "principals"), ("NotPrincipal", "not_principals")):
            if stmt.get(attr):
                principal: Any = {}
                for entry in stmt[attr]:
                    if entry["type"] == "*" and entry["identifiers"] == ["*"]:
                        principal = "*"
                        break
                    principal[entry["type"]] = _one_or_list(entry["identifiers"])
                rendered[key] = principal
        if stmt.get("condition"):
            condition: Json = {}
            for cond in stmt["condition"]:
                condition.setdefault(cond["test"], {})[cond["variable"]] = _one_or_list(cond["values"])
            rendered["Condition"] = condition
        statements.append(rendered)
    for source in config.get("override_policy_documents") or []:
        overrides = json.loads(source).get("Statement", [])
        sids = {s.get("Sid") for s in overrides if s.get("Sid")}
        statements = [s for s in statements if s.get("Sid") not in sids] + overrides
    document["Statement"] = statements
    return document


class AwsStandin(StandinProvider):
    schema_path = SCHEMA_DIR / "aws.json"
    provider_schema = PROVIDER_SCHEMA

    def check(self, type_name: str, values: Json, configured: bool) -> list[Any]:
        """The conformance layer's resource checks, as Terraform diagnostics on the attribute."""
        ctx = conformance.Context.from_env(self.region if configured else None)
        return [
            diagnostic(
                f"AWS conformance [{v.rule}]: {type_name}.{v.attribute or '(resource)'}",
                f"{v.message}\nSource: {v.source}",
                v.attribute,
            )
            for v in conformance.check_resource(type_name, values, ctx)
        ]

    def read_data_source(self, type_name: str, config: Json) -> Json:
        overrides: Json = {}
        if type_name == "aws_caller_identity":
            overrides = {
                "account_id": ACCOUNT_ID,
                "id": ACCOUNT_ID,
                "user_id": "AIDASTANDIN",
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/standin",
            }
        elif type_name == "aws_region":
            region = config.get("region") or config.get("name") or self.region
            overrides = {
                "region": region,
                "name": region,
                "id": region,
                "description": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
            }
        elif type_name == "aws_partition":
            # The partition of the configured region, as the real data source reports it.
            partition, suffix = "aws", "amazonaws.com"
            if self.region.startswith("us-gov-"):
                partition = "aws-us-gov"
            elif self.region.startswith("cn-"):
                partition, suffix = "aws-cn", "amazonaws.com.cn"
            overrides = {
                "partition": partition,
                "id": partition,
                "dns_suffix": suffix,
                "reverse_dns_prefix": ".".join(reversed(suffix.split("."))),
            }
        elif type_name == "aws_iam_policy_document":
            document = render_policy_document(config)
            pretty = json.dumps(document, indent=2)
            overrides = {
                "json": pretty,
                "minified_json": json.dumps(document, separators=(",", ":")),
                "id": str(int(hashlib.sha256(pretty.encode()).hexdigest()[:8], 16)),
            }
        return fill_unknowns(
            self.data_sources[type_name]["block"], config, overrides, fill_null_computed=True
        )


def main() -> None:
    serve(AwsStandin, "registry.terraform.io/hashicorp/aws")


if __name__ == "__main__":
    main()
