"""Command line for the make targets: ``python -m tfharness <command>`` (PYTHONPATH=tests).

validate [DIR ...]         init + validate the root, every module and example (or DIRs)
plan DIR [--var-file F]    offline plan of one directory, printed as Terraform prints it
openapi DIR [--var-file F] [--out FILE]
                           the OpenAPI document (REST API body) of DIR's offline plan, to FILE or stdout
fmt-check                  terraform fmt -check over every Terraform directory
terraform ARGS ...         any terraform command with the toolchain's environment
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from tfharness.toolchain import TerraformRunners, Toolchain, in_process_requested, toolchain
from tfharness.workspace import (
    EXAMPLE_VARS,
    REPO_ROOT,
    MissingSchemaError,
    PlanFailed,
    Workspace,
    assert_conformant,
    check_schemas_cover,
    example_var_file,
    plan_context,
    terraform_dirs,
)

HOME = REPO_ROOT / ".tf-offline"


def _validate(dirs: list[str]) -> int:
    chain = toolchain(HOME)
    failures = 0
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Workspace(chain, Path(scratch))
        for rel in dirs or list(terraform_dirs()):
            try:
                workspace.validate(rel)
            except (PlanFailed, MissingSchemaError) as exc:
                failures += 1
                print(f"FAIL {rel}\n{exc}\n", file=sys.stderr)
            else:
                print(f"ok   {rel}")
    return 1 if failures else 0


def _plan_example(
    chain: Toolchain, rel: str, var_file: str | None, *, echo: bool
) -> tuple[int, str, dict[str, Any] | None]:
    """Plan the example at rel offline; return (exit code, its path in the repository, the
    `terraform show -json` plan or None). echo prints the plan's own output as `make plan` does."""
    source = (Path.cwd() / rel).resolve()
    if not list(source.glob("*.tf")):
        print(f"{rel} holds no Terraform files", file=sys.stderr)
        return 2, rel, None
    with tempfile.TemporaryDirectory() as scratch:
        workspace = Workspace(chain, Path(scratch))
        try:
            return _plan_staged(workspace, chain, source, rel, var_file, echo=echo)
        finally:
            workspace.close()


def _plan_staged(
    workspace: Workspace, chain: Toolchain, source: Path, rel: str, var_file: str | None, *, echo: bool
) -> tuple[int, str, dict[str, Any] | None]:
    try:
        rel = source.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        # A copy of an example kept elsewhere plans as if it stood under examples/, so its
        # module sources ("../..") resolve as they do in the repository.
        rel = f"examples/{source.name}"
        shutil.rmtree(workspace.path(rel), ignore_errors=True)
        shutil.copytree(source, workspace.path(rel), ignore=shutil.ignore_patterns(".terraform*"))
    target = workspace.path(rel)
    check_schemas_cover(target, chain)
    init = workspace.run(["init", "-input=false", "-backend=false", "-no-color"], target)
    if init.returncode != 0:
        print(init.stdout + init.stderr, file=sys.stderr)
        return init.returncode, rel, None
    args = ["plan", "-input=false", "-refresh=false", "-lock=false", "-out=tfplan"]
    if not (echo and sys.stdout.isatty()):
        args.append("-no-color")
    if var_file:
        args.append(f"-var-file={(Path.cwd() / var_file).resolve()}")
    elif example_var_file(source):
        if echo:
            print(f"(no VARS given: planning with {rel}/{EXAMPLE_VARS})", file=sys.stderr)
        args.append(f"-var-file={example_var_file(source)}")
    with workspace.terraform_env(target) as env:
        plan = workspace.run(args, target, env)
    if plan.returncode != 0:
        # Terraform writes its diagnostics to stderr; stdout then holds the partial plan
        # ("Terraform planned the following actions, but then encountered a problem"),
        # which buries them, so only the diagnostics are shown.
        sys.stderr.write(plan.stderr)
        return plan.returncode, rel, None
    if echo:
        sys.stdout.write(plan.stdout)
        sys.stderr.write(plan.stderr)
    with workspace.terraform_env(target) as env:
        shown = workspace.run(["show", "-json", "tfplan"], target, env)
    if shown.returncode != 0:
        sys.stderr.write(shown.stderr)
        return shown.returncode, rel, None
    return 0, rel, json.loads(shown.stdout)


def _plan(rel: str, var_file: str | None) -> int:
    chain = toolchain(HOME)
    code, rel, shown = _plan_example(chain, rel, var_file, echo=True)
    if shown is None:
        return code
    try:
        assert_conformant(shown, rel, plan_context(), chain)
    except PlanFailed as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 1
    print(f"\n{rel}: the plan passes the AWS conformance checks (tests/tfharness/README.md)")
    return 0


def _rest_api_bodies(shown: dict[str, Any]) -> dict[str, str]:
    """The body of every REST API in a `terraform show -json` plan, keyed by resource address."""
    bodies: dict[str, str] = {}

    def walk(module: dict[str, Any]) -> None:
        for resource in module.get("resources", []):
            if resource.get("type") == "aws_api_gateway_rest_api" and resource.get("mode") == "managed":
                body = (resource.get("values") or {}).get("body")
                if isinstance(body, str) and body:
                    bodies[resource["address"]] = body
        for child in module.get("child_modules", []):
            walk(child)

    walk(shown.get("planned_values", {}).get("root_module", {}))
    return bodies


def _openapi(rel: str, var_file: str | None, out: str | None) -> int:
    code, rel, shown = _plan_example(toolchain(HOME), rel, var_file, echo=False)
    if shown is None:
        return code
    bodies = _rest_api_bodies(shown)
    if len(bodies) != 1:
        found = ", ".join(sorted(bodies)) or "none"
        print(f"{rel}: expected one REST API with a known body in the plan, found {found}", file=sys.stderr)
        return 1
    text = json.dumps(json.loads(next(iter(bodies.values()))), indent=2) + "\n"
    if out:
        (Path.cwd() / out).write_text(text, encoding="utf-8")
        print(f"{rel}: OpenAPI document of {next(iter(bodies))} written to {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _fmt_check() -> int:
    chain = toolchain(HOME)
    failed = False
    with tempfile.TemporaryDirectory() as scratch:
        runners = TerraformRunners(chain, Path(scratch)) if in_process_requested() else None
        try:
            for rel in terraform_dirs():
                args = ["fmt", "-check", "-diff", "-no-color"]
                directory = REPO_ROOT / rel
                result = (
                    runners.run(args, directory, chain.env) if runners else chain.run(args, cwd=directory)
                )
                if result.returncode != 0:
                    failed = True
                    details = result.stdout + result.stderr
                    print(f"terraform fmt: {rel} needs formatting\n{details}", file=sys.stderr)
        finally:
            if runners:
                runners.close()
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "terraform":
        chain = toolchain(HOME)
        result = chain.run(argv[1:], cwd=Path.cwd())
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        return result.returncode

    parser = argparse.ArgumentParser(
        prog="python -m tfharness", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    validate = sub.add_parser("validate")
    validate.add_argument("dirs", nargs="*")
    plan = sub.add_parser("plan")
    plan.add_argument("dir")
    plan.add_argument("--var-file")
    openapi = sub.add_parser("openapi")
    openapi.add_argument("dir")
    openapi.add_argument("--var-file")
    openapi.add_argument("--out")
    sub.add_parser("fmt-check")
    args = parser.parse_args(argv)
    if args.command == "validate":
        return _validate(args.dirs)
    if args.command == "plan":
        return _plan(args.dir, args.var_file)
    if args.command == "openapi":
        return _openapi(args.dir, args.var_file, args.out)
    return _fmt_check()


if __name__ == "__main__":
    sys.exit(main())
