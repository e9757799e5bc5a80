"""The route tables of the READMEs, rendered from the OpenAPI documents the examples plan.

Every example under ``examples/`` is planned offline once per run (with its
``terraform.tfvars.example``, as ``make openapi`` plans it), and the body of each REST API in
the plan (the module's OpenAPI document) is rendered by ``openapi.route_table``:

- into the example's README, between ``<!-- BEGIN_ROUTES -->`` and ``<!-- END_ROUTES -->``
  (inserted before the Inputs table when the markers are missing; removed when the example
  plans no REST API);
- into ``modules/rest-api/README.md``, the tables of ``MODULE_EXAMPLES``, so that both
  integration kinds (Lambda proxy and direct SageMaker) show.

Plans take seconds each, so the documents are cached under ``.tf-offline/route-docs``, keyed by
a digest of this script and of everything a plan reads: the staged Terraform (root, modules,
examples, Lambda sources), the test harness and its stand-in provider, the pinned toolchain, and
the environment variables that change the toolchain or the region. Any change to those plans
again.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "tests"))

from tfharness import Workspace, toolchain  # noqa: E402 - tests/ joins sys.path above
from tfharness.conformance.openapi import parse, route_table  # noqa: E402
from tfharness.plan_cache import plan_cache_from_env  # noqa: E402
from tfharness.workspace import example_var_file, terraform_dirs  # noqa: E402

BEGIN_ROUTES = "<!-- BEGIN_ROUTES -->"
END_ROUTES = "<!-- END_ROUTES -->"
MODULE_README = Path("modules/rest-api/README.md")
MODULE_EXAMPLES = ("examples/complete", "examples/direct-sagemaker")
TOOLCHAIN_HOME = REPO_ROOT / ".tf-offline"
CACHE_DIR = TOOLCHAIN_HOME / "route-docs"
# What a plan reads besides the environment: the staged Terraform and Lambda sources, the
# harness (stand-in providers, schemas) and the pinned toolchain.
_PLAN_INPUTS = ("modules", "examples", "lambda_src", "tests/tfharness")
_SKIPPED_PARTS = {".terraform", "__pycache__", ".build"}
_PLAN_ENV = ("AWS_REGION", "MLGW_TF_REAL", "MLGW_TF_BINARY")
_PLAN_ENV_PREFIX = "MLGW_ACCOUNT_"
_CACHE_ENTRIES = 4

# Documents of one example: REST API resource address -> body (JSON text).
Documents = dict[str, dict[str, str]]


def _digest() -> str:
    """Digest of every input of the examples' plans (see the module docstring)."""
    sha = hashlib.sha256()
    files = [*REPO_ROOT.glob("*.tf"), REPO_ROOT / "requirements-dev.txt", Path(__file__).resolve()]
    for top in _PLAN_INPUTS:
        files += [
            p
            for p in (REPO_ROOT / top).rglob("*")
            if p.is_file()
            and p.suffix not in {".md", ".pyc"}
            and p.name != ".terraform.lock.hcl"
            and not _SKIPPED_PARTS & set(p.relative_to(REPO_ROOT).parts)
        ]
    for path in sorted(files):
        sha.update(path.relative_to(REPO_ROOT).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    env = {k: v for k, v in os.environ.items() if k in _PLAN_ENV or k.startswith(_PLAN_ENV_PREFIX)}
    sha.update(json.dumps(env, sort_keys=True).encode())
    return sha.hexdigest()


def _rest_api_bodies(workspace: Workspace, example: str) -> dict[str, str]:
    var_file = example_var_file(workspace.path(example))
    plan = workspace.plan(example, var_file=str(var_file) if var_file else None)
    return {
        address: values["body"]
        for address, values in plan.resources.items()
        if address.split(".")[-2] == "aws_api_gateway_rest_api" and isinstance(values.get("body"), str)
    }


def _plan_all(examples: list[str]) -> Documents:
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Workspace(toolchain(TOOLCHAIN_HOME), Path(scratch), plan_cache_from_env())
        # Two plans at a time: each is a Terraform process plus its provider processes.
        with ThreadPoolExecutor(max_workers=2) as pool:
            bodies = list(pool.map(lambda example: _rest_api_bodies(workspace, example), examples))
    return dict(zip(examples, bodies, strict=True))


def example_documents() -> Documents:
    """The REST API bodies of every example's plan, keyed by example then resource address."""
    examples = [rel for rel in terraform_dirs(REPO_ROOT) if rel.startswith("examples/")]
    cached = CACHE_DIR / f"{_digest()}.json"
    if cached.is_file():
        cached.touch()
        return json.loads(cached.read_text(encoding="utf-8"))
    documents = _plan_all(examples)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(documents, sort_keys=True), encoding="utf-8")
    # Keep the last few: the same tree is checked under more than one environment (the test
    # suite sets AWS_REGION, a shell may not).
    for stale in sorted(CACHE_DIR.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)[
        _CACHE_ENTRIES:
    ]:
        stale.unlink()
    return documents


def _tables(bodies: dict[str, str]) -> str:
    if len(bodies) == 1:
        return route_table(parse(next(iter(bodies.values())))).rstrip("\n")
    return "\n\n".join(
        f"`{address}`:\n\n" + route_table(parse(body)).rstrip("\n")
        for address, body in sorted(bodies.items())
    )


def render_example(example: str, bodies: dict[str, str]) -> str:
    return "\n".join(
        [
            "## Routes",
            "",
            f"Generated by `make docs` from the OpenAPI document this example plans (its REST API's body; "
            f"`make openapi EXAMPLE={example}` writes it to a file).",
            "",
            _tables(bodies),
        ]
    )


def render_module(documents: Documents) -> str:
    lines = [
        "## Routes, as the examples deploy them",
        "",
        "Generated by `make docs` from the OpenAPI documents the examples plan (`make openapi "
        "EXAMPLE=examples/<name>` writes one to a file): Lambda-proxy routes, and a direct SageMaker "
        "route with its mapping templates.",
    ]
    for example in MODULE_EXAMPLES:
        bodies = documents.get(example) or {}
        if not bodies:
            raise ValueError(f"{example} plans no REST API: {MODULE_README} shows its routes")
        lines += ["", f"### [{example}](../../{example})", "", _tables(bodies)]
    return "\n".join(lines)


def replace_routes(current: str, body: str | None) -> str:
    """``current`` with its routes block set to ``body``: inserted before the Inputs table when
    missing, removed when ``body`` is None."""
    has_block = BEGIN_ROUTES in current and END_ROUTES in current
    if has_block:
        head, rest = current.split(BEGIN_ROUTES, 1)
        tail = rest.split(END_ROUTES, 1)[1]
        if body is None:
            return head.rstrip("\n") + "\n\n" + tail.lstrip("\n") if head.strip() else tail.lstrip("\n")
        return f"{head}{BEGIN_ROUTES}\n{body}\n{END_ROUTES}{tail}"
    if body is None:
        return current
    block = f"{BEGIN_ROUTES}\n{body}\n{END_ROUTES}\n"
    anchor = "<!-- BEGIN_TF_DOCS -->"
    if anchor in current:
        head, tail = current.split(anchor, 1)
        return f"{head}{block}\n{anchor}{tail}"
    return current.rstrip("\n") + "\n\n" + block


def updated_readmes(documents: Documents) -> list[tuple[Path, str, str]]:
    """(README, current text, text with current route tables) of every example and the module."""
    out = []
    for example, bodies in sorted(documents.items()):
        readme = REPO_ROOT / example / "README.md"
        current = readme.read_text(encoding="utf-8")
        out.append(
            (readme, current, replace_routes(current, render_example(example, bodies) if bodies else None))
        )
    readme = REPO_ROOT / MODULE_README
    current = readme.read_text(encoding="utf-8")
    out.append((readme, current, replace_routes(current, render_module(documents))))
    return out
