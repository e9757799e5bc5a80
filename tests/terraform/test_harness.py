"""The harness itself: every directory validates, typos and missing schemas fail loudly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tfharness import MissingSchemaError, PlanFailed, Workspace, check_schemas_cover, terraform_dirs
from tfharness.toolchain import real_toolchain, toolchain
from tfharness.workspace import REPO_ROOT

pytestmark = pytest.mark.terraform


@pytest.mark.parametrize("rel", list(terraform_dirs()))
def test_every_module_and_example_validates(tf: Workspace, rel: str) -> None:
    assert "Success" in tf.validate(rel)


def test_fmt_check_passes_on_every_directory(tf: Workspace) -> None:
    unformatted = []
    for rel in terraform_dirs():
        result = tf.run(["fmt", "-check", "-no-color"], REPO_ROOT / rel)
        if result.returncode != 0:
            unformatted.append(f"{rel}: {result.stdout.strip()}")
    assert not unformatted, "terraform fmt needed:\n" + "\n".join(unformatted)


def _copy_module(tmp_path: Path, name: str) -> Path:
    """A copy of every module (they call each other by relative path), returning ``name``."""
    shutil.copytree(REPO_ROOT / "modules", tmp_path / "modules", ignore=shutil.ignore_patterns(".terraform*"))
    return tmp_path / "modules" / name


def test_validate_rejects_a_misspelled_argument_with_terraforms_message(tmp_path: Path) -> None:
    # Given the lambda-function module with memory_size misspelled
    module = _copy_module(tmp_path, "lambda-function")
    main = module / "main.tf"
    main.write_text(main.read_text().replace("  memory_size    ", "  memory_sise    ", 1))
    chain = toolchain(tmp_path / "toolchain")
    # When Terraform validates it
    assert chain.run(["init", "-backend=false", "-no-color"], cwd=module).returncode == 0
    result = chain.run(["validate", "-no-color"], cwd=module)
    # Then it fails with Terraform's own diagnostic
    assert result.returncode != 0
    assert 'An argument named "memory_sise" is not expected here. Did you mean "memory_size"?' in " ".join(
        result.stderr.split()
    )


def test_a_type_without_a_committed_schema_fails_naming_type_and_refresh_command(tmp_path: Path) -> None:
    module = tmp_path / "uses-glue"
    module.mkdir()
    (module / "main.tf").write_text('resource "aws_glue_job" "this" {\n  name = "x"\n}\n')
    with pytest.raises(MissingSchemaError) as caught:
        check_schemas_cover(module, toolchain(tmp_path / "toolchain"))
    assert "aws_glue_job" in str(caught.value)
    assert "make schemas" in str(caught.value)
    assert "tfharness.refresh_schemas" in str(caught.value)


def test_schema_check_follows_local_module_sources(tmp_path: Path) -> None:
    child = tmp_path / "child"
    child.mkdir()
    (child / "main.tf").write_text('data "aws_glue_script" "x" {\n}\n')
    parent = tmp_path / "parent"
    parent.mkdir()
    (parent / "main.tf").write_text('module "c" {\n  source = "../child"\n}\n')
    with pytest.raises(MissingSchemaError, match=r"data\.aws_glue_script"):
        check_schemas_cover(parent, toolchain(tmp_path / "toolchain"))


def test_plan_of_an_invalid_configuration_raises_with_terraforms_diagnostic(tf: Workspace) -> None:
    with pytest.raises(PlanFailed, match="name must be 2 to 56 lower-case letters"):
        tf.plan("modules/lambda-function", {"name": "Bad_Name", "handler": "a.b"})


def test_real_toolchain_is_used_when_requested(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "terraform"
    fake.write_text("#!/bin/sh\n")
    monkeypatch.setenv("MLGW_TF_REAL", "1")
    monkeypatch.setenv("MLGW_TF_BINARY", str(fake))
    chain = toolchain(tmp_path / "unused")
    assert chain.binary == str(fake)
    assert chain.offline is False
    assert "TF_CLI_CONFIG_FILE" not in chain.env or chain.env["TF_CLI_CONFIG_FILE"] != str(
        tmp_path / "unused"
    )


def test_real_toolchain_without_a_binary_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLGW_TF_BINARY", raising=False)
    monkeypatch.setenv("PATH", "")
    with pytest.raises(RuntimeError, match="needs a terraform binary"):
        real_toolchain()


def test_make_openapi_reads_the_one_rest_api_body_of_a_plan() -> None:
    from tfharness.__main__ import _rest_api_bodies

    shown = {
        "planned_values": {
            "root_module": {
                "resources": [
                    {"address": "aws_s3_bucket.b", "mode": "managed", "type": "aws_s3_bucket", "values": {}}
                ],
                "child_modules": [
                    {
                        "resources": [
                            {
                                "address": "module.api.aws_api_gateway_rest_api.this",
                                "mode": "managed",
                                "type": "aws_api_gateway_rest_api",
                                "values": {"body": '{"openapi": "3.0.1"}'},
                            }
                        ]
                    }
                ],
            }
        }
    }
    assert _rest_api_bodies(shown) == {"module.api.aws_api_gateway_rest_api.this": '{"openapi": "3.0.1"}'}
