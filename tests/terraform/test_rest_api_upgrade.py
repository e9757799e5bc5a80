"""Upgrading a stack built by an earlier modules/rest-api: no former resource is destroyed.

The document's overwrite import replaces the route-level resources of earlier versions; a
destroy of one of them would run after the import and break it (see the removed blocks in
modules/rest-api/api.tf and their sources).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tfharness import Workspace

pytestmark = pytest.mark.terraform

REPO = Path(__file__).resolve().parents[2]
MODULE = "modules/rest-api"
# The last commit whose modules/rest-api managed routes as separate resources.
BEFORE_DOCUMENT = "f4e134e"
ACCOUNT = "123456789012"
POOL = f"arn:aws:cognito-idp:us-east-1:{ACCOUNT}:userpool/us-east-1_example"
# Inputs both versions accept, touching every kind of former resource: paths of several
# segments, a request model and its validator, an authorizer, CORS and the gateway responses.
# (Direct SageMaker routes only: the stand-in's applied execution ARN is a placeholder that a
# Lambda permission's source ARN would be refused for.)
INPUTS: dict[str, Any] = {
    "name": "churn-api",
    "default_endpoint_name": "Churn-Prod",
    "cors": {"allow_origin": "https://app.example.com"},
    "authorizers": {"users": {"type": "COGNITO_USER_POOLS", "provider_arns": [POOL]}},
    "routes": {
        "predict": {
            "type": "sagemaker",
            "path": "predict/{model}",
            "request_schema": json.dumps({"type": "object", "required": ["instances"]}),
            "authorization": "COGNITO_USER_POOLS",
            "authorizer": "users",
            "api_key_required": False,
        },
        "csv": {
            "type": "sagemaker",
            "path": "models/legacy/csv/v1/score",
            "content_types": ["text/csv"],
            "api_key_required": False,
        },
    },
    "stages": {"prod": {}},
}


def _git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=REPO, text=True, capture_output=True, check=False)


def _need_history() -> None:
    if _git("cat-file", "-e", f"{BEFORE_DOCUMENT}^{{commit}}").returncode != 0:
        pytest.skip(f"needs the repository's git history (commit {BEFORE_DOCUMENT})")


RESOURCE = re.compile(r'^resource\s+"([a-z0-9_]+)"\s+"([A-Za-z0-9_-]+)"', re.MULTILINE)
REMOVED_OR_MOVED = re.compile(r"^(removed|moved)\s*\{(.*?)^\}", re.MULTILINE | re.DOTALL)
FROM = re.compile(r"^\s*from\s*=\s*([A-Za-z0-9_.\-\[\]\"]+)", re.MULTILINE)


def _addresses(texts: list[str]) -> set[str]:
    return {f"{kind}.{name}" for text in texts for kind, name in RESOURCE.findall(text)}


def _forgotten_or_moved(texts: list[str]) -> set[str]:
    return {
        found.group(1)
        for text in texts
        for block in REMOVED_OR_MOVED.finditer(text)
        if (found := FROM.search(block.group(2)))
    }


def test_every_resource_the_module_ever_declared_is_still_declared_moved_or_removed() -> None:
    """A resource address dropped from the module must have a removed (or moved) block, or an
    upgrade plans its destroy. The history of the module is the list of what may be in a state."""
    _need_history()
    commits = _git("log", "--format=%H", "--", MODULE).stdout.split()
    former: set[str] = set()
    for commit in commits:
        names = _git("ls-tree", "--name-only", f"{commit}:{MODULE}").stdout.split()
        texts = [_git("show", f"{commit}:{MODULE}/{n}").stdout for n in names if n.endswith(".tf")]
        former |= _addresses(texts)
    current = [p.read_text(encoding="utf-8") for p in sorted((REPO / MODULE).glob("*.tf"))]
    dropped = former - _addresses(current)
    # The route-level resources of the versions before the document, at least.
    assert {"aws_api_gateway_model.this", "aws_api_gateway_gateway_response.this"} <= dropped
    missing = sorted(dropped - _forgotten_or_moved(current))
    assert not missing, f"resources dropped from {MODULE} without a removed or moved block: {missing}"


def _stage_module(source: Path | None, target: Path) -> None:
    """modules/rest-api and the module it calls, from the working tree or BEFORE_DOCUMENT."""
    for module in (MODULE, "modules/iam-role-name"):
        dest = target / module
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        if source is not None:
            shutil.copytree(source / module, dest, dirs_exist_ok=True)
            continue
        archive = subprocess.run(
            ["git", "archive", "--format=tar", BEFORE_DOCUMENT, module],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)


def test_upgrading_a_stack_of_the_former_module_destroys_none_of_its_resources(tf: Workspace) -> None:
    """Apply the former module with the stand-in provider, then plan the current one on that
    state: the former route-level resources are forgotten, never deleted."""
    _need_history()
    scratch = tf.path("upgrade")
    _stage_module(None, scratch)
    root = scratch / "root"
    root.mkdir(parents=True)
    (root / "main.tf").write_text(
        'provider "aws" {\n  region = "us-east-1"\n}\n\n'
        'module "api" {\n  source = "../modules/rest-api"\n'
        + "".join(f"  {k} = {json.dumps(v) if isinstance(v, str) else _hcl(v)}\n" for k, v in INPUTS.items())
        + "}\n",
        encoding="utf-8",
    )

    def run(args: list[str], cwd: Path, check: bool = False) -> subprocess.CompletedProcess[str]:
        """``terraform <args>`` in ``cwd`` as the workspace runs its commands: in a long-lived
        Terraform process, with stand-in providers it reattaches to, except for ``init``, which
        installs the providers (checking the modules' version constraints) as it does for plans."""
        if args[0] == "init":
            result = tf.run(args, cwd)
        else:
            with tf.terraform_env(cwd) as env:
                result = tf.run(args, cwd, env)
        if check:
            assert result.returncode == 0, result.stdout + result.stderr
        return result

    for args in (["init", "-no-color"], ["apply", "-auto-approve", "-no-color", "-refresh=false"]):
        result = run(args, cwd=root)
        assert result.returncode == 0, result.stdout + result.stderr
    state = json.loads(run(["show", "-json"], cwd=root, check=True).stdout)
    applied = {
        r["address"]
        for r in state["values"]["root_module"]["child_modules"][0]["resources"]
        if r["mode"] == "managed"
    }
    # The former module really built the route-level resources the upgrade must not destroy.
    for kind in (
        "aws_api_gateway_model.this",
        "aws_api_gateway_gateway_response.this",
        "aws_api_gateway_method.cors",
        "aws_api_gateway_integration_response.sagemaker",
        "aws_api_gateway_authorizer.this",
        "aws_api_gateway_resource.depth5",
    ):
        assert any(a.startswith(f"module.api.{kind}[") for a in applied), (kind, sorted(applied))

    # The stand-in fills computed strings it cannot know with placeholders ("standin-<name>") at
    # apply; an update plan holds them to AWS's patterns. Put what AWS and the provider return:
    # IPv4 is a REST API's default address type (ipAddressType in
    # https://docs.aws.amazon.com/apigateway/latest/api/API_EndpointConfiguration.html), and the
    # provider leaves name_prefix empty for a role created with a name (NamePrefixFromName in
    # https://github.com/hashicorp/terraform-provider-aws/blob/v6.47.0/internal/service/iam/role.go).
    pulled = json.loads(run(["state", "pull"], cwd=root, check=True).stdout)
    for resource in pulled["resources"]:
        for instance in resource["instances"]:
            attributes = instance["attributes"]
            if attributes.get("name"):
                attributes["name_prefix"] = None
            for endpoint in attributes.get("endpoint_configuration") or []:
                endpoint["ip_address_type"] = "ipv4"
    pulled["serial"] += 1
    (root / "edited.tfstate").write_text(json.dumps(pulled), encoding="utf-8")
    run(["state", "push", "edited.tfstate"], cwd=root, check=True)

    _stage_module(REPO, scratch)
    result = run(["plan", "-no-color", "-refresh=false", "-out=upgrade.tfplan"], cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    plan = json.loads(run(["show", "-json", "upgrade.tfplan"], cwd=root, check=True).stdout)
    declared = _addresses([p.read_text(encoding="utf-8") for p in (REPO / MODULE).glob("*.tf")])
    # A resource the module still declares may be replaced; one it dropped must not be deleted.
    deleted = sorted(
        c["address"]
        for c in plan["resource_changes"]
        if "delete" in c["change"]["actions"]
        and c["address"].removeprefix("module.api.").split("[")[0] not in declared
    )
    assert not deleted, f"the upgrade destroys former resources: {deleted}"
    forgotten = {c["address"] for c in plan["resource_changes"] if c["change"]["actions"] == ["forget"]}
    assert any(a.startswith("module.api.aws_api_gateway_model.this[") for a in forgotten), sorted(forgotten)


def _hcl(value: Any) -> str:
    """A Python value as an HCL expression (JSON is valid HCL for maps, lists and scalars)."""
    return json.dumps(value)
