"""The harness's plan cache (tfharness.plan_cache): a plan of inputs planned before, by this
workspace or another one sharing the cache, is read back with the files it wrote; anything a
plan reads changes the key; failed plans and plans reading files outside the staged tree are
never kept."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tfharness import PlanFailed, Workspace, toolchain
from tfharness.plan_cache import PlanCache, plan_key
from tfharness.toolchain import real_terraform_requested
from tfharness.workspace import DATA

MODULE = "modules/lambda-function"
FUNCTION = {"name": "cache-check", "handler": "mlgw.handlers.predict.lambda_handler"}

# The real toolchain's plans read the account and are never kept.
offline_only = pytest.mark.skipif(real_terraform_requested(), reason="plans are kept only offline")


@pytest.fixture(scope="module")
def _workspaces(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, Workspace]]:
    scratch = tmp_path_factory.mktemp("plan-cache")
    first = Workspace(toolchain(scratch / "a" / "toolchain"), scratch / "a")
    second = Workspace(toolchain(scratch / "b" / "toolchain"), scratch / "b")
    yield first, second
    first.close()
    second.close()


@pytest.fixture
def pair(
    _workspaces: tuple[Workspace, Workspace], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Workspace, Workspace, Path]:
    """Two workspaces (as two test workers have) sharing a cache directory of this test's, each
    recording the Terraform commands it runs in ``commands``."""
    cache = tmp_path / "plans"
    for workspace in _workspaces:
        monkeypatch.setattr(workspace, "plan_cache", PlanCache(cache))
        commands: list[list[str]] = []
        run = workspace.run

        def recorded(args: list[str], *rest: Any, _run: Any = run, _commands: Any = commands) -> Any:
            _commands.append(args)
            return _run(args, *rest)

        monkeypatch.setattr(workspace, "run", recorded)
        monkeypatch.setattr(workspace, "commands", commands, raising=False)
    return (*_workspaces, cache)


def _planned_by_terraform(workspace: Workspace) -> bool:
    return any(args[0] == "plan" for args in workspace.commands)  # type: ignore[attr-defined]


@offline_only
def test_a_plan_planned_elsewhere_is_read_back_with_the_zip_it_built(
    pair: tuple[Workspace, Workspace, Path],
) -> None:
    first, second, cache = pair
    function = {**FUNCTION, "name": "cache-read"}
    built = f"{MODULE}/.build/cache-read.zip"
    planned = first.plan(MODULE, function)
    assert _planned_by_terraform(first)
    assert len(list(cache.glob("*.json"))) == 1
    assert not second.path(built).exists()

    read = second.plan(MODULE, function)

    assert not _planned_by_terraform(second)
    assert read.raw._raw == planned.raw._raw
    assert read.resources == planned.resources
    # The zip the plan built is written back, and it is the one the plan's hash names.
    zipped = second.path(built).read_bytes()
    assert zipped == first.path(built).read_bytes()
    digest = base64.b64encode(hashlib.sha256(zipped).digest()).decode()
    assert read.resource("aws_lambda_function.this")["source_code_hash"] == digest

    # A file the plan wrote over (the zip was there already) is kept with it too.
    resized = {**function, "memory_size": 256}
    first.plan(MODULE, resized)
    second.path(built).unlink()
    second.plan(MODULE, resized)
    assert not _planned_by_terraform(second)
    assert second.path(built).read_bytes() == zipped


@offline_only
def test_a_changed_source_variables_or_environment_plans_again(
    pair: tuple[Workspace, Workspace, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, cache = pair
    function = {**FUNCTION, "name": "cache-change"}
    planned = first.plan(MODULE, function)
    hash_of = lambda plan: plan.resource("aws_lambda_function.this")["source_code_hash"]  # noqa: E731

    source = second.path("lambda_src/mlgw/env.py")
    original = source.read_text(encoding="utf-8")
    source.write_text(original + "\n# changed\n", encoding="utf-8")
    try:
        changed = second.plan(MODULE, function)
    finally:
        source.write_text(original, encoding="utf-8")
    assert _planned_by_terraform(second)
    assert hash_of(changed) != hash_of(planned)

    second.commands.clear()  # type: ignore[attr-defined]
    other = second.plan(MODULE, {**function, "memory_size": 512})
    assert _planned_by_terraform(second)
    assert other.resource("aws_lambda_function.this")["memory_size"] == 512
    assert len(list(cache.glob("*.json"))) == 3

    # The toolchain's environment is what Terraform reads: a variable there is an input too.
    second.commands.clear()  # type: ignore[attr-defined]
    monkeypatch.setitem(second.toolchain.env, "TF_VAR_memory_size", "1024")
    assert second.plan(MODULE, function).resource("aws_lambda_function.this")["memory_size"] == 1024
    assert _planned_by_terraform(second)


@offline_only
def test_a_failed_plan_is_not_kept(pair: tuple[Workspace, Workspace, Path]) -> None:
    first, _, cache = pair
    rel = first.inline('output "x" {\n  value = var.missing\n}\n')
    with pytest.raises(PlanFailed, match="undeclared input variable"):
        first.plan(rel)
    assert not cache.exists() or not list(cache.iterdir())


@offline_only
@pytest.mark.parametrize("relative", [False, True], ids=["absolute", "relative"])
def test_a_variable_naming_a_file_outside_the_staged_tree_is_never_kept(
    pair: tuple[Workspace, Workspace, Path], tmp_path: Path, relative: bool
) -> None:
    first, _, cache = pair
    outside = tmp_path / "outside.txt"
    outside.write_text("one")
    rel = first.inline(
        'variable "path" {\n  type = string\n}\n\noutput "content" {\n  value = file(var.path)\n}\n'
    )
    path = os.path.relpath(outside, first.path(rel)) if relative else str(outside)
    assert first.plan(rel, {"path": path}).outputs["content"] == "one"
    outside.write_text("two")
    assert first.plan(rel, {"path": path}).outputs["content"] == "two"
    assert not cache.exists() or not list(cache.glob("*.json"))


def test_paths_the_key_does_not_cover_are_found_in_every_kind_of_variable(tmp_path: Path) -> None:
    staged = _staged(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (staged / "modules" / "unused" / "files").mkdir(parents=True)
    (staged / "modules" / "unused" / "main.tf").write_text("locals {}\n")
    var_file = tmp_path / "terraform.tfvars"
    cache = PlanCache(tmp_path / "plans")

    def place(tf_vars: dict[str, Any] | None = None, env: dict[str, str] | None = None) -> object:
        return cache.place(staged, "examples/x", DATA, tf_vars=tf_vars, var_file=var_file, env=env or {})

    var_file.write_text('name = "a"\nroute = "/predicted-ratings/{user_id}"\ntype = "text/csv"\n')
    # API paths and content types name nothing on this machine; the Lambda sources and the files
    # beside a module of the tree are in the key.
    assert place(
        {
            "path": "/predict",
            "source": "../../lambda_src",
            "template": str(staged / "modules" / "m" / "templates" / "request.vtl"),
            "types": ["application/json"],
        }
    )
    for tf_vars, env in [
        ({"source": str(outside)}, None),  # an existing folder
        ({"nested": [{"output": str(outside / "out.zip")}]}, None),  # an output not written yet
        ({"source": "../../../outside"}, None),  # a relative path that leaves the tree
        (None, {"TF_VAR_source": str(outside)}),  # the environment's variables
        # in the staged tree, but in a module this plan does not call: not in the key
        ({"source": "../../modules/unused/files"}, None),
        ({"source": str(staged / "modules" / "unused" / "main.tf")}, None),
    ]:
        assert place(tf_vars, env) is None, (tf_vars, env)
    var_file.write_text(f'source = "{outside}"\n')
    assert place() is None

    # A module tree that leaves the staged tree: those files are not in the key either.
    var_file.write_text('name = "a"\n')
    (staged / "examples" / "x" / "outer.tf").write_text(
        'module "outer" {\n  source = "../../../outside"\n}\n'
    )
    (outside / "main.tf").write_text("locals {}\n")
    assert place() is None


def _staged(tmp_path: Path) -> Path:
    """An example calling the root module, which calls a module and zips the Lambda sources."""
    staged = tmp_path / "repo"
    (staged / "examples" / "x").mkdir(parents=True)
    (staged / "examples" / "x" / "main.tf").write_text('module "root" {\n  source = "../.."\n}\n')
    (staged / "modules" / "m" / "templates").mkdir(parents=True)
    (staged / "modules" / "m" / "main.tf").write_text("locals {}\n")
    (staged / "modules" / "m" / "templates" / "request.vtl").write_text("$input.body\n")
    (staged / "lambda_src").mkdir()
    (staged / "lambda_src" / "handler.py").write_text("VALUE = 1\n")
    (staged / "main.tf").write_text('module "m" {\n  source = "./modules/m"\n}\n')
    return staged


def test_the_key_follows_every_input_terraform_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in os.environ if name.startswith("TF_VAR_")]:
        monkeypatch.delenv(name)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    staged = _staged(tmp_path)
    var_file = tmp_path / "terraform.tfvars"
    var_file.write_text('name = "a"\n')

    def key(rel: str = "examples/x", **given: object) -> str:
        return plan_key(staged, rel, DATA, **{"var_file": var_file, **given})  # type: ignore[arg-type]

    first = key()
    assert key() == first

    # What no plan reads leaves the key as it is: Terraform's init, the files plans write (kept
    # with the plan), other roots beside the planned one, other variables, the caches' settings.
    (staged / "examples" / "x" / ".terraform").mkdir()
    (staged / "examples" / "x" / ".terraform" / "modules.json").write_text("{}")
    (staged / "examples" / "x" / ".terraform.lock.hcl").write_text("# lock\n")
    (staged / "modules" / "m" / ".build").mkdir()
    (staged / "modules" / "m" / ".build" / "m.zip").write_bytes(b"zip")
    (staged / "inline" / "other").mkdir(parents=True)
    (staged / "inline" / "other" / "main.tf").write_text("locals {}\n")
    (staged / "modules" / "unused").mkdir()
    (staged / "modules" / "unused" / "main.tf").write_text("locals {}\n")
    root_key = key(".")
    (staged / ".terraform.lock.hcl").write_text("# lock\n")
    (staged / "upgrade" / "root").mkdir(parents=True)
    (staged / "upgrade" / "root" / "main.tf").write_text("locals {}\n")
    (staged / "modules" / "unused" / "main.tf").write_text("locals {\n  unused = 1\n}\n")
    assert key(".") == root_key
    (staged / "main.tf").write_text('module "m" {\n  source = "./modules/m"\n}\n\nlocals {}\n')
    assert key(".") != root_key
    (staged / "main.tf").write_text('module "m" {\n  source = "./modules/m"\n}\n')
    monkeypatch.setenv("EDITOR", "vi")
    monkeypatch.setenv("MLGW_TF_PLAN_CACHE", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("MLGW_LOCAL_PLAN_CACHE", str(tmp_path / "elsewhere"))
    assert key() == first
    # AWS_DEFAULT_REGION is read only where AWS_REGION is unset.
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    first = key()
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert key() == first

    template = staged / "modules" / "m" / "templates" / "request.vtl"
    changes = {
        "a Lambda source the archives hash": lambda: (staged / "lambda_src" / "handler.py").write_text(
            "VALUE = 2\n"
        ),
        "a module": lambda: (staged / "modules" / "m" / "main.tf").write_text("locals {\n  a = 1\n}\n"),
        "a template beside a module": lambda: template.write_text("$input.json('$')\n"),
        "a new file": lambda: (staged / "examples" / "x" / "extra.tf").write_text("locals {}\n"),
        "a state file": lambda: (staged / "examples" / "x" / "terraform.tfstate").write_text("{}"),
        "the variables file": lambda: var_file.write_text('name = "b"\n'),
        "an input variable from the environment": lambda: monkeypatch.setenv("TF_VAR_name", "c"),
        "the region": lambda: monkeypatch.setenv("AWS_REGION", "eu-west-1"),
        "the stand-ins' account": lambda: monkeypatch.setenv("STANDIN_ACCOUNT_ID", "210987654321"),
        "the conformance context": lambda: monkeypatch.setenv("MLGW_ACCOUNT_APIGATEWAY_CLOUDWATCH_ROLE", "1"),
    }
    seen = {first}
    for change, apply in changes.items():
        apply()
        changed = key()
        assert changed not in seen, change
        seen.add(changed)
    for change, other in {
        "no variables file": key(var_file=None),
        "a variable": key(tf_vars={"name": "d"}),
        "another directory": key("modules/m"),
        "the environment given": key(env={}),
    }.items():
        assert other not in seen, change
        seen.add(other)
    # A root beside the others is keyed on its own files.
    inline = key("inline/other")
    (staged / "inline" / "other" / "main.tf").write_text("locals {\n  c = 1\n}\n")
    assert key("inline/other") != inline


def test_only_the_newest_entries_are_kept(tmp_path: Path) -> None:
    cache = PlanCache(tmp_path, entries=2)
    now = time.time()
    for age, name in ((300, "oldest"), (200, "older"), (100, "new")):
        (tmp_path / f"{name}.json").write_text(json.dumps({"name": name}))
        os.utime(tmp_path / f"{name}.json", (now - age, now - age))

    cache.prune()

    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.json", "older.json"]
    PlanCache(tmp_path).prune()  # a cache without a limit keeps every entry
    assert len(list(tmp_path.iterdir())) == 2
