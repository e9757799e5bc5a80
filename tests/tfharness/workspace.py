"""Plan checks on a staged copy of the repository's Terraform, through tftest.

Tests never run Terraform inside the working tree: the root module, ``modules/``,
``examples/`` and ``lambda_src/`` are copied into a scratch directory once per test
session, so ``.terraform`` folders, lock files and plan files never touch the repository
and parallel pytest workers never share an init.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tftest

from tfharness import conformance
from tfharness.plan_cache import PlanCache, plan_key
from tfharness.toolchain import (
    ReattachedStandins,
    TerraformRunners,
    Toolchain,
    in_process_requested,
    module_tree,
    served_types,
    spawn_requested,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
STAGED = ("modules", "examples", "lambda_src")
# The staged folders that hold no Terraform: what configurations read as files.
DATA = ("lambda_src",)
_IGNORED = shutil.ignore_patterns(
    ".terraform", ".terraform.lock.hcl", "*.tfstate*", "__pycache__", "*.pyc", ".build"
)
_BLOCK = re.compile(r'^\s*(resource|data)\s+"(aws_[a-z0-9_]+)"', re.MULTILINE)
_BOX = re.compile(r"[│╷╵─]")
# Scratch roots the workspace writes beside the staged tree: minimal configurations
# (``Workspace.inline``) and a directory's variable declarations alone (``input_error``).
_SCRATCH_ROOTS = ("inline/", "inputs/")
_INVALID_VALUE = "Error: Invalid value for variable"
_OTHER_ERROR = re.compile(r"Error: (?!Invalid value for variable\b)")
# Blocks found by their type and label as Terraform reads them, formatted or not: a match in
# prose only costs a plan of the directory.
_DECLARES_VARIABLE = re.compile(r'\bvariable\s*"?[\w-]+"?\s*\{')
_CONST = re.compile(r"^\s*const\s*=", re.MULTILINE)
# Whatever starts a line at its first column: block types, when the file is formatted.
_TOP_LEVEL = re.compile(r"^([A-Za-z_][\w-]*)", re.MULTILINE)
# https://developer.hashicorp.com/terraform/language/values/variables#variable-definitions-tfvars-files
_AUTO_VAR_FILES = ("terraform.tfvars", "terraform.tfvars.json", "*.auto.tfvars", "*.auto.tfvars.json")
_LINE_COMMENT = re.compile(r"^\s*(?:#|//).*$", re.MULTILINE)
# Expressions whose value depends on the directory they are evaluated in: path.module, path.cwd,
# file(), fileexists(), templatefile(), abspath() and the other file functions. Whole-line
# comments are left out; a match in prose elsewhere only costs a plan of the directory.
_READS_FILES = re.compile(
    r"\bpath\.(?:module|root|cwd)\b"
    r"|\b(?:file(?:exists|set|md5|sha1|sha256|sha512|base64(?:sha256|sha512)?)?|templatefile|abspath)\s*\("
)
REFRESH_HINT = (
    "add it to tests/tfharness/schemas/types.txt and run `make schemas` "
    "(python -m tfharness.refresh_schemas --from-terraform on a machine with the real provider)"
)


class MissingSchemaError(AssertionError):
    """A module uses an aws type whose schema is not committed: never pass silently."""


def aws_types(tf_dir: Path) -> dict[str, Path]:
    """Every aws type declared by ``tf_dir`` and the local modules it calls, with a file."""
    found: dict[str, Path] = {}
    for module in module_tree(tf_dir):
        for path in sorted(module.glob("*.tf")):
            for kind, type_name in _BLOCK.findall(path.read_text(encoding="utf-8")):
                found.setdefault(f"data.{type_name}" if kind == "data" else type_name, path)
    return found


def check_schemas_cover(tf_dir: Path, toolchain: Toolchain) -> None:
    if not toolchain.offline:
        return
    served = served_types()
    missing = {name: path for name, path in aws_types(tf_dir).items() if name not in served}
    if missing:
        lines = [f"  {name} (used in {_display(path)})" for name, path in sorted(missing.items())]
        raise MissingSchemaError(
            "the offline aws provider has no schema for:\n" + "\n".join(lines) + f"\n{REFRESH_HINT}"
        )


def _display(path: Path) -> str:
    try:
        return path.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return path.name


def _flatten(value: object) -> str:
    if isinstance(value, (tuple, list)):
        return "\n".join(_flatten(item) for item in value)
    return str(value)


def error_text(exc: BaseException) -> str:
    """The whole text of a tftest error, whose arguments nest Terraform's stdout and stderr."""
    return normalise_diagnostics(_flatten(exc.args))


def normalise_diagnostics(text: str) -> str:
    """Terraform wraps and boxes its diagnostics; collapse them so messages can be matched."""
    return " ".join(_BOX.sub(" ", text).split())


def planned_resources(plan: tftest.TerraformPlanOutput) -> dict[str, dict[str, Any]]:
    """Planned values of every resource, child modules included, keyed by full address."""
    out: dict[str, dict[str, Any]] = {}

    def walk(module: Mapping[str, Any]) -> None:
        for resource in module.get("resources", []):
            out[resource["address"]] = resource.get("values", {})
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan._raw.get("planned_values", {}).get("root_module", {}))
    return out


def _hcl_vars(tf_vars: Mapping[str, Any]) -> dict[str, Any]:
    """tftest passes scalars with str(): Python's True would reach Terraform as "True"."""
    return {
        name: (("true" if value else "false") if isinstance(value, bool) else value)
        for name, value in tf_vars.items()
    }


@dataclass
class PlanResult:
    raw: tftest.TerraformPlanOutput
    resources: dict[str, dict[str, Any]]

    @property
    def outputs(self) -> dict[str, Any]:
        return {
            name: out.get("value") for name, out in self.raw._raw["planned_values"].get("outputs", {}).items()
        }

    def resource(self, address: str) -> dict[str, Any]:
        if address not in self.resources:
            known = "\n  ".join(sorted(self.resources))
            raise AssertionError(f"{address} is not in the plan; planned:\n  {known}")
        return self.resources[address]

    def addresses(self, prefix: str = "") -> list[str]:
        return sorted(a for a in self.resources if a.startswith(prefix))


class PlanFailed(AssertionError):
    pass


class _Test(tftest.TerraformTest):
    """tftest's checks, with each Terraform command run by the workspace (``Workspace.run``)."""

    def __init__(self, tfdir: str, workspace: Workspace) -> None:
        super().__init__(tfdir, binary=workspace.toolchain.binary, env=workspace.toolchain.env)
        # tftest starts from the test's own os.environ; the toolchain's environment is what
        # Terraform needs, and the same for every command, so they all share runners.
        self.env = dict(workspace.toolchain.env)
        self.workspace = workspace

    def execute_command(self, cmd: str, *cmd_args: str) -> tftest.TerraformCommandOutput:
        result = self.workspace.run([cmd, *cmd_args], Path(self.tfdir), self.env)
        if result.returncode in (1, 11):  # what tftest's own execute_command raises on
            message = f"Error running command {cmd}: {result.returncode} {result.stdout} {result.stderr}"
            raise tftest.TerraformTestError(message, result.stderr)
        return tftest.TerraformCommandOutput(result.returncode, result.stdout, result.stderr)


class Workspace:
    """A scratch copy of the repository's Terraform, with one cached init per directory.

    With a ``plan_cache``, offline plans of inputs planned before are read back from it
    (``tfharness.plan_cache``): a directory shared by several workspaces, which may be in other
    processes."""

    def __init__(self, toolchain: Toolchain, scratch: Path, plan_cache: PlanCache | None = None) -> None:
        self.toolchain = toolchain
        self.plan_cache = plan_cache if toolchain.offline else None
        self.root = scratch / "repo"
        self.root.mkdir(parents=True, exist_ok=True)
        for name in STAGED:
            if (REPO_ROOT / name).exists():
                shutil.copytree(REPO_ROOT / name, self.root / name, ignore=_IGNORED, dirs_exist_ok=True)
        for tf_file in REPO_ROOT.glob("*.tf"):
            shutil.copy2(tf_file, self.root / tf_file.name)
        self._tests: dict[str, tftest.TerraformTest] = {}
        self._valid: dict[str, bool] = {}
        self._lock = threading.Lock()
        self._plan_lock = threading.Lock()
        self._standins = (
            ReattachedStandins(toolchain, scratch / "standins")
            if toolchain.offline and not spawn_requested()
            else None
        )
        self._runners = (
            TerraformRunners(toolchain, scratch / "runners")
            if toolchain.offline and in_process_requested()
            else None
        )

    def run(
        self, args: list[str], root: Path, env: Mapping[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``terraform <args>`` in ``root``: offline, by Terraform core in a long-lived process
        (``TerraformRunners``) unless ``MLGW_TF_SUBPROCESS=1`` asks for a process per command."""
        env = dict(env or self.toolchain.env)
        if self._runners is None:
            return self.toolchain.run(args, cwd=root, env=env)
        return self._runners.run(args, root, env)

    @contextmanager
    def terraform_env(self, root: Path) -> Iterator[dict[str, str]]:
        """The environment for one Terraform command in ``root``: the toolchain's, with stand-in
        provider processes of the command's own to reattach to (``ReattachedStandins``)."""
        if self._standins is None:
            yield self.toolchain.env
        else:
            with self._standins.lease(root) as env:
                yield env

    def close(self) -> None:
        """Stop the Terraform runners and stand-in provider processes (also done at exit)."""
        if self._runners is not None:
            self._runners.close()
        if self._standins is not None:
            self._standins.close()

    def path(self, rel: str) -> Path:
        return self.root / rel

    def _test(self, rel: str) -> tftest.TerraformTest:
        with self._lock:
            if rel not in self._tests:
                check_schemas_cover(
                    self.path(rel) if rel.startswith(_SCRATCH_ROOTS) else REPO_ROOT / rel, self.toolchain
                )
                test = _Test(str(self.path(rel)), self)
                try:
                    test.setup(cleanup_on_exit=False)
                except tftest.TerraformTestError as exc:
                    raise PlanFailed(
                        f"terraform init failed in {rel}: {normalise_diagnostics(str(exc))}"
                    ) from exc
                self._tests[rel] = test
            return self._tests[rel]

    def plan(
        self,
        rel: str,
        tf_vars: Mapping[str, Any] | None = None,
        var_file: str | None = None,
        context: conformance.Context | None = None,
    ) -> PlanResult:
        """Plan ``rel`` and hold it to the AWS conformance layer.

        The stand-in provider already refused any resource AWS would reject; the plan rules,
        which span resources, run here on the plan (and the resource checks too when the real
        toolchain planned). ``context`` says what the account already has set up.
        """
        raw = self._planned(rel, tf_vars, var_file)
        assert_conformant(raw._raw, rel, context or plan_context(), self.toolchain)
        return PlanResult(raw=raw, resources=planned_resources(raw))

    def _planned(
        self, rel: str, tf_vars: Mapping[str, Any] | None, var_file: str | None
    ) -> tftest.TerraformPlanOutput:
        """The plan of ``rel``: read from the plan cache when it keeps one, else Terraform's."""
        if self.plan_cache is None:
            return self._terraform_plan(rel, tf_vars, var_file)
        # One plan at a time: the files a plan wrote are those that changed while it ran.
        with self._plan_lock:
            kept = self.plan_cache.place(
                self.root,
                rel,
                DATA,
                tf_vars=tf_vars,
                var_file=Path(var_file) if var_file else None,
                env=self.toolchain.env,
            )
            plan = kept.read() if kept is not None else None
            if plan is not None:
                return tftest.TerraformPlanOutput(plan)
            raw = self._terraform_plan(rel, tf_vars, var_file)
            if kept is not None:
                kept.keep(raw._raw)
            return raw

    def _terraform_plan(
        self, rel: str, tf_vars: Mapping[str, Any] | None, var_file: str | None
    ) -> tftest.TerraformPlanOutput:
        test = copy.copy(self._test(rel))
        try:
            with self.terraform_env(self.path(rel)) as env:
                test.env = {**test.env, **env}
                raw = test.plan(
                    output=True, tf_vars=_hcl_vars(tf_vars or {}), tf_var_file=var_file, refresh=False
                )
        except tftest.TerraformTestError as exc:
            raise PlanFailed(f"plan of {rel} failed: {error_text(exc)}") from exc
        return raw

    def plan_error(
        self,
        rel: str,
        tf_vars: Mapping[str, Any] | None = None,
        var_file: str | None = None,
        context: conformance.Context | None = None,
        *,
        whole: bool = False,
    ) -> str:
        """Plan that must fail; returns Terraform's diagnostics, whitespace-normalised.

        Inputs that ``rel``'s own variable declarations reject are found by planning those
        declarations alone where they decide alone as in a plan of ``rel`` (``input_error``),
        and the text holds those rules' diagnostics only; any other failure is found by
        planning ``rel``. ``whole`` plans ``rel`` in every case:
        for a test that needs the other diagnostics of the same plan, or asserts that one is
        absent."""
        rejected = None if whole else self.input_error(rel, tf_vars, var_file)
        if rejected is not None:
            return rejected
        try:
            self.plan(rel, tf_vars, var_file, context)
        except PlanFailed as exc:
            return str(exc)
        raise AssertionError(f"plan of {rel} succeeded, but a failure was expected")

    def input_error(
        self, rel: str, tf_vars: Mapping[str, Any] | None = None, var_file: str | None = None
    ) -> str | None:
        """The diagnostics with which ``rel``'s own input variable declarations reject these
        inputs, from a plan of its ``variables.tf`` alone; None when ``rel`` itself must be
        planned: the inputs pass the rules, a rule needs more than the declarations, or ``rel``
        is not a directory whose declarations can stand alone (``_declarations``).

        Terraform plans a configuration that loads and validates, with a value for every
        variable that needs one, in one walk, which checks each input variable of the root
        module against the rules of its declaration and reports every variable that breaks one.
        Since Terraform 1.9 a rule may also refer to other objects of its module (local values,
        data sources): such a rule fails to evaluate without them, with an error other than
        "Invalid value for variable", and ``rel`` is planned instead; so is any other error of
        the declarations' plan (a type error, a variable not declared). So when this returns, a
        plan of ``rel`` fails too and reports the same rules' diagnostics (rule, message and
        location, ``variables.tf`` line N), unless ``moved`` blocks invalid for the inputs take
        precedence (``_declarations``), at about an eighth of the CPU for the root module
        (``bench/bench_plan.py``). What else that plan would report in the same walk (a called
        module's rules, preconditions) is not here. An input the rules accept costs this plan,
        and the checks of ``_declarations``, on top of the plan of ``rel``.
        https://developer.hashicorp.com/terraform/language/values/variables#custom-validation-rules
        https://github.com/hashicorp/terraform/pull/34955 (rules that refer to other objects)
        """
        files = self._declarations(rel)
        if files is None:
            return None
        digest = hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]
        inputs = self._scratch_root(f"inputs/{digest}", files)
        if var_file is not None:  # read from where a plan of rel reads it
            var_file = str(self.path(rel) / var_file)
        try:
            self._terraform_plan(inputs, tf_vars, var_file)
        except PlanFailed as exc:
            text = str(exc).removeprefix(f"plan of {inputs} failed: ")
            if _INVALID_VALUE in text and not _OTHER_ERROR.search(text):
                return (
                    f"plan of {rel} failed on its own input rules (planned from variables.tf alone): {text}"
                )
        return None

    def _declarations(self, rel: str) -> dict[str, str] | None:
        """What a plan of ``rel``'s declarations alone reads, by file name: its ``variables.tf``
        and the variables files Terraform loads by itself (``terraform.tfvars``,
        ``*.auto.tfvars``). None unless the rules decide alone as they do in a plan of ``rel``:

        - ``variables.tf`` holds only ``variable`` blocks, none of them ``const`` (Terraform
          1.15's constants, which module sources may read, so a plan resolves them before the
          walk), and no rule reads files or the paths it is evaluated in;
        - no other configuration file of ``rel`` declares a variable (nor overrides one), and
          ``rel`` has no JSON configuration;
        - ``rel`` inits and validates: Terraform stops a plan of a configuration that does not
          before it checks a rule.

        One case is left: ``moved`` blocks that are invalid for the inputs (an object moved
        from is still declared, moves that form a cycle). ``validate`` does not check them, and
        a plan that finds them reports those errors only (internal/terraform/context_plan.go:
        "those errors take precedence over any other errors"). It still fails, as every plan of
        ``rel`` with such moves does, which the tests that plan ``rel`` whole report.

        https://developer.hashicorp.com/terraform/language/values/variables#variable-definitions-tfvars-files
        """
        directory = self.path(rel)
        source = directory / "variables.tf"
        if not source.is_file():
            return None
        declarations = source.read_text(encoding="utf-8")
        code = _LINE_COMMENT.sub("", declarations)
        if set(_TOP_LEVEL.findall(code)) != {"variable"} or _CONST.search(code) or _READS_FILES.search(code):
            return None
        if any(directory.glob("*.tf.json")):
            return None
        for path in directory.glob("*.tf"):
            if path.name != "variables.tf" and _DECLARES_VARIABLE.search(path.read_text(encoding="utf-8")):
                return None
        if not self._validates(rel):
            return None
        files = {"variables.tf": declarations}
        for pattern in _AUTO_VAR_FILES:
            for path in sorted(directory.glob(pattern)):
                files[path.name] = path.read_text(encoding="utf-8")
        return files

    def _validates(self, rel: str) -> bool:
        """Whether ``rel`` inits and validates, found once per workspace and content of every
        file of its module tree (the configuration and the files beside it: ``plan_key``)."""
        key = plan_key(self.root, rel, ())
        if key not in self._valid:
            try:
                self.validate(rel)
                valid = True
            except PlanFailed:
                valid = False
            with self._lock:
                self._valid[key] = valid
        return self._valid[key]

    def inline(self, hcl: str) -> str:
        """A scratch root holding ``hcl`` (plus an aws provider block unless it has one), for
        plans of minimal configurations; returns its path for ``plan`` and ``plan_error``."""
        if 'provider "aws"' not in hcl:
            hcl = 'provider "aws" {\n  region = "us-east-1"\n}\n\n' + hcl
        return self._scratch_root(f"inline/{hashlib.sha256(hcl.encode()).hexdigest()[:16]}", {"main.tf": hcl})

    def _scratch_root(self, rel: str, files: Mapping[str, str]) -> str:
        """``rel``, a scratch root named by a digest of ``files``, written once per workspace."""
        directory = self.path(rel)
        with self._lock:
            if not directory.exists():
                directory.mkdir(parents=True)
                for name, text in files.items():
                    (directory / name).write_text(text, encoding="utf-8")
        return rel

    def validate(self, rel: str) -> str:
        self._test(rel)
        with self.terraform_env(self.path(rel)) as env:
            result = self.run(["validate", "-no-color"], self.path(rel), env)
        if result.returncode != 0:
            raise PlanFailed(normalise_diagnostics(result.stdout + result.stderr))
        return result.stdout


EXAMPLE_VARS = "terraform.tfvars.example"


def example_var_file(directory: Path) -> Path | None:
    """The example's ``terraform.tfvars.example``: what an offline plan of it uses when no
    var file is given, since examples leave what only the user knows without a default."""
    candidate = directory / EXAMPLE_VARS
    return candidate if candidate.is_file() else None


def plan_context() -> conformance.Context:
    """The account a plan is checked against: a fresh one in the harness's region, unless the
    environment says what it already has (see ``conformance.Context``)."""
    return conformance.Context.from_env(os.environ.get("AWS_REGION", "us-east-1"))


def assert_conformant(
    plan_json: Mapping[str, Any], rel: str, context: conformance.Context, toolchain: Toolchain
) -> None:
    violations = conformance.check_plan(dict(plan_json), context, resource_checks=not toolchain.offline)
    if violations:
        lines = "\n".join(f"  {v.render()}" for v in violations)
        raise PlanFailed(f"plan of {rel} breaks AWS conformance rules:\n{lines}")


def terraform_dirs(root: Path = REPO_ROOT) -> Iterator[str]:
    """The root module, every module and every example, as paths relative to ``root``."""
    if list(root.glob("*.tf")):
        yield "."
    for parent in ("modules", "examples"):
        base = root / parent
        if base.is_dir():
            for child in sorted(p for p in base.iterdir() if p.is_dir() and list(p.glob("*.tf"))):
                yield f"{parent}/{child.name}"
