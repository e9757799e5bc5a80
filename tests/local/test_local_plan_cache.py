"""Local mode keeps the plans of unchanged inputs: serving an example again reads its plan back,
any change to what Terraform reads plans again, and a failed plan is never kept. (The cache
itself, shared with the test suite's workspaces, is tested in tests/terraform/test_plan_cache.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlgw_local.plan import (
    PLAN_CACHE_ENTRIES,
    PLAN_CACHE_ENV,
    REPO_ROOT,
    PlanError,
    plan_cache,
    plan_cache_dir,
    plan_json,
)
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
    entry = json.loads(kept[0].read_text(encoding="utf-8"))
    assert entry["plan"] == first

    # The kept plan is what a second plan of the same inputs returns: marked, it comes back marked.
    marked = {**first, "kept": True}
    kept[0].write_text(json.dumps({**entry, "plan": marked}), encoding="utf-8")
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


def test_the_cache_can_be_turned_off_and_defaults_to_the_toolchain_home(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(PLAN_CACHE_ENV, "off")
    assert plan_cache_dir() is None
    assert plan_cache() is None
    monkeypatch.delenv(PLAN_CACHE_ENV)
    assert plan_cache_dir() == REPO_ROOT / ".tf-offline" / "local-plans"
    # Local mode keeps only its newest plans (tests/terraform/test_plan_cache.py prunes).
    cache = plan_cache()
    assert cache is not None
    assert (cache.directory, cache.entries) == (plan_cache_dir(), PLAN_CACHE_ENTRIES)
