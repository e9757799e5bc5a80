"""The root inputs api and endpoint.create hold every input of the module they feed.

scripts/root_inputs.py writes the module-shaped part of their types from the modules' variables
and checks that the root's module calls pass every module variable. These tests run it on the
repository, then on a copy where a module grows, to show that nothing new goes missing silently.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "scripts"))
root_inputs: ModuleType = importlib.import_module("root_inputs")

NEW_VARIABLE = """
variable "example_media_types" {
  description = "Media types served as binary."
  type        = list(string)
  default     = []
  nullable    = false
}
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The root files and modules that root_inputs reads, copied so a test may change them."""
    for name in ("variables.tf", "api.tf", "endpoint.tf"):
        shutil.copy(REPO_ROOT / name, tmp_path / name)
    for composition in root_inputs.COMPOSITIONS:
        target = tmp_path / composition.module
        target.mkdir(parents=True)
        for tf_file in (REPO_ROOT / composition.module).glob("*.tf"):
            shutil.copy(tf_file, target / tf_file.name)
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _regenerate(repo: Path) -> str:
    variables = repo / "variables.tf"
    text = root_inputs.regenerate(variables.read_text(encoding="utf-8"), repo)
    variables.write_text(text, encoding="utf-8")
    return text


def test_root_types_are_generated_from_the_modules_and_current() -> None:
    text = (REPO_ROOT / "variables.tf").read_text(encoding="utf-8")
    assert root_inputs.regenerate(text, REPO_ROOT) == text, "run `make docs`"


def test_every_module_input_reaches_its_module() -> None:
    assert root_inputs.wiring_problems(REPO_ROOT) == []


def test_a_new_module_variable_is_reported_until_the_root_passes_it(repo: Path) -> None:
    # Given: modules/rest-api gains an input
    with (repo / "modules/rest-api/variables.tf").open("a", encoding="utf-8") as f:
        f.write(NEW_VARIABLE)
    before = (repo / "variables.tf").read_text(encoding="utf-8")

    # When: `make docs` regenerates the root type
    after = _regenerate(repo)

    # Then: the root input api has the field, with the module's default ...
    assert after != before
    assert re.search(r"^    example_media_types +=  ?optional\(list\(string\), \[\]\)$", after, re.M)
    # ... and the check says the call does not pass it yet
    problems = root_inputs.wiring_problems(repo)
    assert len(problems) == 1
    assert 'module "api" (api.tf) does not pass modules/rest-api input example_media_types' in problems[0]

    api_tf = repo / "api.tf"
    api_tf.write_text(
        re.sub(
            r"^( +api_keys += var\.api\.api_keys\n)",
            r"\1  example_media_types = var.api.example_media_types\n",
            api_tf.read_text(encoding="utf-8"),
            count=1,
            flags=re.M,
        ),
        encoding="utf-8",
    )
    assert root_inputs.wiring_problems(repo) == []


def test_a_new_field_of_a_module_object_reaches_the_root_type(repo: Path) -> None:
    _edit(
        repo / "modules/rest-api/variables.tf",
        "    api_key_required          = optional(bool, true)\n",
        "    api_key_required          = optional(bool, true)\n"
        "    api_key_source            = optional(string)\n",
    )
    after = _regenerate(repo)
    assert "      api_key_source            = optional(string)\n" in after
    # The root passes api.routes whole, so the field needs nothing more.
    assert root_inputs.wiring_problems(repo) == []


def test_a_field_left_out_of_an_object_the_root_builds_is_reported(repo: Path) -> None:
    # endpoint.tf builds s3_access field by field, merging in the batch prefixes.
    _edit(
        repo / "modules/sagemaker-endpoint/variables.tf",
        "    kms_key_arns   = optional(list(string), [])\n",
        "    delete_prefixes = optional(list(string), [])\n    kms_key_arns   = optional(list(string), [])\n",
    )
    _regenerate(repo)
    problems = root_inputs.wiring_problems(repo)
    assert problems == [
        'module "endpoint" (endpoint.tf) builds s3_access without its field delete_prefixes: set it, or '
        'list "s3_access.delete_prefixes" with the reason in root_inputs.COMPOSITIONS unset_fields'
    ]


def test_a_field_of_a_root_owned_object_is_reported_too(repo: Path) -> None:
    _edit(
        repo / "modules/rest-api/variables.tf",
        "    name_prefix              = optional(string)\n",
        "    name_prefix              = optional(string)\n    description              = optional(string)\n",
    )
    problems = root_inputs.wiring_problems(repo)
    assert len(problems) == 1
    assert 'module "api" (api.tf) builds iam_role without its field description' in problems[0]


def test_a_module_input_set_from_elsewhere_is_reported(repo: Path) -> None:
    _edit(
        repo / "endpoint.tf",
        "kms_key_arn     = local.endpoint_create.kms_key_arn",
        "kms_key_arn     = null",
    )
    problems = root_inputs.wiring_problems(repo)
    assert len(problems) == 1
    assert "sets kms_key_arn without local.endpoint_create.kms_key_arn" in problems[0]


def test_root_owned_entries_must_name_module_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    rest_api, endpoint = root_inputs.COMPOSITIONS
    stale = dataclasses.replace(
        rest_api,
        root_owned={**rest_api.root_owned, "stage_name": "gone from the module"},
        unset_fields={**rest_api.unset_fields, "cors.origin": "gone from the module"},
    )
    monkeypatch.setattr(root_inputs, "COMPOSITIONS", (stale, endpoint))
    assert root_inputs.wiring_problems(REPO_ROOT) == [
        "modules/rest-api has no variable stage_name: remove it from root_inputs.COMPOSITIONS",
        "modules/rest-api has no field cors.origin: remove it from unset_fields",
    ]
