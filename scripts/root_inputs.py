"""The root inputs that are a module's inputs, generated from that module and checked to reach it.

The root input ``api`` holds the inputs of modules/rest-api, and ``endpoint.create`` those of
modules/sagemaker-endpoint. Terraform cannot name another module's variable type, so the root's
type has to be written out; this file writes it. In the root's variables.tf, between

    # BEGIN_MODULE_INPUTS modules/<module> ...
    # END_MODULE_INPUTS modules/<module>

every variable of the module becomes a field of the same type: required where the module requires
it, otherwise optional with the module's default. Only the variables that COMPOSITIONS lists as
root-owned, each with the reason, are left out: the root sets those from inputs of its own.

``scripts/gen_docs.py`` (``make docs``) rewrites the blocks and ``make docs-check`` fails when one
is stale. ``wiring_problems`` (run by the same check and by tests/terraform/test_root_inputs.py)
fails when the root's module call does not pass a module variable, or builds an object variable
field by field and leaves out a field that COMPOSITIONS does not list as deliberately unset.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import hcl2

ROOT_VARIABLES = "variables.tf"
BEGIN = "# BEGIN_MODULE_INPUTS"
END = "# END_MODULE_INPUTS"
_VARIABLE = re.compile(r'^variable\s+"([^"]+)"\s*\{\s*$')
_ITEM = re.compile(r"^  ([a-z_]+)\s*(=|\{)\s*(.*)$")
_FIELD = re.compile(r"^  ([a-z0-9_]+)\s*=")
_CALL_META_ARGUMENTS = {"source", "version", "count", "for_each", "depends_on", "providers"}


@dataclass(frozen=True)
class Composition:
    """How one root input holds, and one module call passes, a module's variables."""

    module: str  # the module's directory, relative to the root
    call: str  # name of the root's module block
    call_file: str  # the root file that holds the module block
    source: str  # the expression the module block reads pass-through fields from
    root_owned: Mapping[str, str]  # module variable -> why the root sets it from its own inputs
    root_defaults: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # variable -> (HCL, why)
    unset_fields: Mapping[str, str] = field(default_factory=dict)  # "variable.field" -> why left unset


_ROLE_NAME = (
    "the root names every role <name>-<purpose>-<region>, or lets IAM complete a name_prefix "
    "(iam_roles.use_name_prefix)"
)

COMPOSITIONS: tuple[Composition, ...] = (
    Composition(
        module="modules/rest-api",
        call="api",
        call_file="api.tf",
        source="var.api",
        root_owned={
            "default_endpoint_name": "the primary endpoint, var.endpoint",
            "iam_role": "built from iam_roles, like every role the root creates",
            "lambda_function": "the prediction function the root creates from var.models",
            "name": "var.name",
            "tags": "var.tags",
        },
        root_defaults={
            "routes": ("{}", "the root adds the prediction routes of var.models to api.routes"),
        },
        unset_fields={"iam_role.name": _ROLE_NAME},
    ),
    Composition(
        module="modules/sagemaker-endpoint",
        call="endpoint",
        call_file="endpoint.tf",
        source="local.endpoint_create",
        root_owned={
            "iam_role": "built from endpoint.create.execution_role_arn and permissions_boundary_arn "
            "and iam_roles, like every role the root creates",
            "name": "endpoint.name, which names the endpoint whether or not the root creates it",
            "tags": "var.tags",
        },
        unset_fields={"iam_role.name": _ROLE_NAME},
    ),
)


@dataclass(frozen=True)
class ModuleVariable:
    type: str  # the type expression as written, continuation lines dedented to the block
    default: str | None  # the default expression as written; None when the variable is required


def _items(body: list[str]) -> dict[str, list[str]]:
    """Top-level attributes and blocks of a variable block (``terraform fmt`` layout assumed)."""
    items: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in body:
        match = _ITEM.match(line)
        if match:
            current = items.setdefault(match.group(1), [])
            current.append(match.group(3) if match.group(2) == "=" else "{")
        elif not line.strip() or line.startswith("  #"):
            current = None
        elif current is not None:
            current.append(line[2:] if line.startswith("  ") else line)
    return items


def module_variables(module_dir: Path) -> dict[str, ModuleVariable]:
    """Every variable of a module with its type and default, as written."""
    variables: dict[str, ModuleVariable] = {}
    for tf_file in sorted(module_dir.glob("*.tf")):
        lines = tf_file.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            match = _VARIABLE.match(line)
            if not match:
                continue
            end = next(i for i in range(number + 1, len(lines)) if lines[i].startswith("}"))
            items = _items(lines[number + 1 : end])
            name = match.group(1)
            default = items.get("default")
            if default is not None and len(default) > 1:
                raise ValueError(f"{tf_file}: variable {name}: write the default on one line")
            variables[name] = ModuleVariable(
                type="\n".join(items.get("type", ["any"])),
                default=default[0] if default else None,
            )
    return variables


def object_fields(type_expression: str) -> list[str]:
    """The attribute names of an object type expression; empty for any other type."""
    if not type_expression.startswith("object({"):
        return []
    return [m.group(1) for line in type_expression.splitlines()[1:] if (m := _FIELD.match(line))]


def _wrap(type_expression: str, default: str | None) -> list[str]:
    lines = type_expression.splitlines()
    if default is None:
        return lines
    suffix = ")" if default == "null" else f", {default})"
    lines[0] = "optional(" + lines[0]
    lines[-1] += suffix
    return lines


def render_fields(composition: Composition, root: Path, indent: str) -> list[str]:
    """The generated lines: one field per module variable the root does not own, fmt-aligned."""
    variables = module_variables(root / composition.module)
    fields: list[tuple[str, list[str]]] = []
    for name in sorted(variables):
        if name in composition.root_owned:
            continue
        variable = variables[name]
        default = variable.default
        if name in composition.root_defaults:
            default = composition.root_defaults[name][0]
        fields.append((name, _wrap(variable.type, default)))
    # terraform fmt aligns the "=" of consecutive one-line attributes; a multi-line one stands alone.
    out: list[str] = []
    run: list[tuple[str, str]] = []

    def flush() -> None:
        width = max((len(n) for n, _ in run), default=0)
        out.extend(f"{indent}{n.ljust(width)} = {value}" for n, value in run)
        run.clear()

    for name, lines in fields:
        if len(lines) == 1:
            run.append((name, lines[0]))
            continue
        flush()
        out.append(f"{indent}{name} = {lines[0]}")
        out.extend(f"{indent}{line}" if line else "" for line in lines[1:])
    flush()
    return out


def regenerate(text: str, root: Path) -> str:
    """The root variables.tf text with every module-inputs block written afresh."""
    lines = text.splitlines()
    for composition in COMPOSITIONS:
        marker = re.compile(rf"^\s*{BEGIN} {re.escape(composition.module)}(?![\w/-])")
        begin = next((i for i, line in enumerate(lines) if marker.match(line)), None)
        end = next(
            (i for i, line in enumerate(lines) if line.strip() == f"{END} {composition.module}"),
            None,
        )
        if begin is None or end is None or end < begin:
            raise ValueError(
                f"{ROOT_VARIABLES} needs the lines '{BEGIN} {composition.module} ...' and "
                f"'{END} {composition.module}' around the fields generated from {composition.module}"
            )
        indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
        lines[begin + 1 : end] = render_fields(composition, root, indent)
    return "\n".join(lines) + ("\n" if text.endswith("\n") else "")


def _module_call(composition: Composition, root: Path) -> dict[str, object]:
    parsed = hcl2.loads((root / composition.call_file).read_text(encoding="utf-8"))
    for block in parsed.get("module", []):
        if composition.call in block:
            return {
                k: v[0] if isinstance(v, list) and len(v) == 1 else v
                for k, v in block[composition.call].items()
                if k not in _CALL_META_ARGUMENTS and not k.startswith("__")
            }
    raise ValueError(f'{composition.call_file} has no module "{composition.call}"')


def wiring_problems(root: Path) -> list[str]:
    """What the root leaves out of a module it composes; empty when every input reaches the module."""
    problems: list[str] = []
    for c in COMPOSITIONS:
        variables = module_variables(root / c.module)
        arguments = _module_call(c, root)
        where = f'module "{c.call}" ({c.call_file})'
        for name in sorted({*c.root_owned, *c.root_defaults} - set(variables)):
            problems.append(f"{c.module} has no variable {name}: remove it from root_inputs.COMPOSITIONS")
        for name, variable in sorted(variables.items()):
            if name not in arguments:
                problems.append(
                    f"{where} does not pass {c.module} input {name}: set {name} = {c.source}.{name}"
                    + ("" if name in c.root_owned else " (the root's type has it since `make docs`)")
                )
                continue
            value = arguments[name]
            if name not in c.root_owned and not re.search(
                re.escape(f"{c.source}.{name}") + r"\b", json.dumps(value)
            ):
                problems.append(
                    f"{where} sets {name} without {c.source}.{name}, so that field of the root input never "
                    f"reaches the module: pass it, or list {name} as root-owned in root_inputs.COMPOSITIONS"
                )
            if isinstance(value, dict):
                for field_name in object_fields(variable.type):
                    if field_name not in value and f"{name}.{field_name}" not in c.unset_fields:
                        problems.append(
                            f"{where} builds {name} without its field {field_name}: set it, or list "
                            f'"{name}.{field_name}" with the reason in root_inputs.COMPOSITIONS unset_fields'
                        )
        for dotted in sorted(c.unset_fields):
            name, _, field_name = dotted.partition(".")
            if field_name not in object_fields(variables[name].type if name in variables else "any"):
                problems.append(f"{c.module} has no field {dotted}: remove it from unset_fields")
    return problems
