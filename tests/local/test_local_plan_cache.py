"""Local mode keeps the plans of unchanged inputs: serving an example again reads its plan back,
any change to what Terraform reads plans again, and a failed plan is never kept."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from mlgw_local import plan as local_plan
from mlgw_local.plan import PLAN_CACHE_ENV, REPO_ROOT, PlanError, plan_cache_dir, plan_json, plan_key
from tfharness.toolchain import real_terraform_requested


def _copy(example: str, tmp_path: Path) -> Path:
    target = tmp_path / f"cached-{example}"
    shutil.copytree(REPO_ROOT / "examples" / example, target, ignore=shutil.ignore_patterns(".terraform*"))
    return target


# The real toolchain's plans read the account and are never kept.
offline_only = pytest.mark.skipif(real_terraform_requested(), reason="plans are kept only offline")


@offline_only
def test_the_same_inputs_read_the_kept_plan_and_a_changed_file_plans_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "plans"
    monkeypatch.setenv(PLAN_CACHE_ENV, str(cache))
    example = _copy("single-function", tmp_path)

    first = plan_json(example)
    kept = sorted(cache.glob("*.json"))
    assert len(kept) == 1
    assert json.loads(kept[0].read_text(encoding="utf-8")) == first

    # The kept plan is what a second plan of the same inputs returns: marked, it comes back marked.
    marked = {**first, "kept": True}
    kept[0].write_text(json.dumps(marked), encoding="utf-8")
    assert plan_json(example) == marked

    # A change Terraform would read (even a comment: the cache does not judge) plans again.
    main = example / "main.tf"
    main.write_text(main.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    again = plan_json(example)
    assert "kept" not in again
    assert again["resource_changes"] == first["resource_changes"]
    assert len(sorted(cache.glob("*.json"))) == 2


@offline_only
def test_a_failed_plan_is_not_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "plans"
    monkeypatch.setenv(PLAN_CACHE_ENV, str(cache))
    example = tmp_path / "broken"
    example.mkdir()
    (example / "main.tf").write_text('output "x" {\n  value = var.missing\n}\n', encoding="utf-8")

    with pytest.raises(PlanError, match="undeclared input variable"):
        plan_json(example)

    assert not cache.exists()


def _staged(tmp_path: Path) -> Path:
    staged = tmp_path / "repo"
    (staged / "examples" / "x").mkdir(parents=True)
    (staged / "examples" / "x" / "main.tf").write_text('module "m" {\n  source = "../../modules/m"\n}\n')
    (staged / "lambda_src").mkdir()
    (staged / "lambda_src" / "handler.py").write_text("VALUE = 1\n")
    return staged


def test_the_key_follows_every_input_terraform_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("TF_VAR_")]:
        monkeypatch.delenv(name)
    staged = _staged(tmp_path)
    var_file = tmp_path / "terraform.tfvars"
    var_file.write_text('name = "a"\n')
    key = plan_key(staged, var_file)
    assert plan_key(staged, var_file) == key

    # What Terraform does not read leaves the key as it is: its own init directory, other variables.
    (staged / "examples" / "x" / ".terraform").mkdir()
    (staged / "examples" / "x" / ".terraform" / "modules.json").write_text("{}")
    monkeypatch.setenv("EDITOR", "vi")
    assert plan_key(staged, var_file) == key

    changes = {
        "a Lambda source the archives hash": lambda: (staged / "lambda_src" / "handler.py").write_text(
            "VALUE = 2\n"
        ),
        "a new file": lambda: (staged / "examples" / "x" / "extra.tf").write_text("locals {}\n"),
        "the variables file": lambda: var_file.write_text('name = "b"\n'),
        "an input variable from the environment": lambda: monkeypatch.setenv("TF_VAR_name", "c"),
        "the region": lambda: monkeypatch.setenv("AWS_REGION", "eu-west-1"),
        "the stand-ins' account": lambda: monkeypatch.setenv("STANDIN_ACCOUNT_ID", "210987654321"),
        "the conformance context": lambda: monkeypatch.setenv("MLGW_ACCOUNT_APIGATEWAY_CLOUDWATCH_ROLE", "1"),
    }
    seen = {key}
    for change, apply in changes.items():
        apply()
        changed = plan_key(staged, var_file)
        assert changed not in seen, change
        seen.add(changed)
    assert plan_key(staged, None) not in seen


def test_the_cache_can_be_turned_off_and_defaults_to_the_toolchain_home(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PLAN_CACHE_ENV, "off")
    assert plan_cache_dir() is None
    monkeypatch.delenv(PLAN_CACHE_ENV)
    assert plan_cache_dir() == REPO_ROOT / ".tf-offline" / "local-plans"


def test_only_the_newest_plans_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_plan, "PLAN_CACHE_ENTRIES", 2)
    now = time.time()
    for age, name in ((300, "oldest"), (200, "older")):
        local_plan._keep(tmp_path / f"{name}.json", {"name": name})
        os.utime(tmp_path / f"{name}.json", (now - age, now - age))

    local_plan._keep(tmp_path / "new.json", {"name": "new"})

    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.json", "older.json"]
    assert json.loads((tmp_path / "new.json").read_text(encoding="utf-8")) == {"name": "new"}
