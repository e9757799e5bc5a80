"""Generate the Inputs and Outputs tables of every Terraform README from the code, the
catalogue of AWS conformance rules in tests/tfharness/README.md from the rule registry, the
root inputs that restate a module's variables (scripts/root_inputs.py), and the route tables of
the examples' and modules/rest-api's READMEs from the OpenAPI documents the examples plan
(scripts/route_docs.py).

    python scripts/gen_docs.py           # rewrite the tables in place (`make docs`)
    python scripts/gen_docs.py --check   # exit 1 and name the stale READMEs (run by the tests)

Tables sit between ``<!-- BEGIN_TF_DOCS -->`` and ``<!-- END_TF_DOCS -->`` (the rule catalogue
between ``<!-- BEGIN_RULES -->`` and ``<!-- END_RULES -->``, the routes between
``<!-- BEGIN_ROUTES -->`` and ``<!-- END_ROUTES -->``); everything else in a README is prose
written by hand. Types are shown exactly as written in the code.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import root_inputs
import route_docs

REPO_ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
RULES_README = REPO_ROOT / "tests" / "tfharness" / "README.md"
BEGIN_RULES = "<!-- BEGIN_RULES -->"
END_RULES = "<!-- END_RULES -->"
_VARIABLE = re.compile(r'^variable\s+"([^"]+)"\s*\{\s*$', re.MULTILINE)
_TOP_LEVEL_ATTRIBUTE = re.compile(r"^  [a-z_]+\s*(=|\{)")


def terraform_dirs(root: Path = REPO_ROOT) -> Iterator[Path]:
    yield root
    for parent in ("modules", "examples"):
        base = root / parent
        if base.is_dir():
            yield from sorted(p for p in base.iterdir() if p.is_dir() and list(p.glob("*.tf")))


def _raw_types(text: str) -> dict[str, str]:
    """The type expression of every variable, as written (``terraform fmt`` layout assumed)."""
    types: dict[str, str] = {}
    lines = text.splitlines()
    for match in _VARIABLE.finditer(text):
        start = text.count("\n", 0, match.start()) + 1
        collected: list[str] = []
        for line in lines[start:]:
            if line.startswith("}"):
                break
            if collected and (_TOP_LEVEL_ATTRIBUTE.match(line) or not line.strip()):
                break
            if collected or re.match(r"^  type\s*=", line):
                collected.append(line)
        if collected:
            first = re.sub(r"^  type\s*=\s*", "", collected[0])
            body = [line[2:] if line.startswith("  ") else line for line in collected[1:]]
            types[match.group(1)] = "\n".join([first, *body])
    return types


def _without_comments(type_expression: str) -> str:
    return "\n".join(line for line in type_expression.splitlines() if not line.lstrip().startswith("#"))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    if "\n" in text:
        escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "&#124;")
        return "<pre>" + "<br/>".join(escaped.splitlines()) + "</pre>"
    return f"`{text}`"


def _default(value: Any) -> str:
    if isinstance(value, str) and value.startswith("${") and value.endswith("}"):
        return _code(value[2:-1])  # an expression such as -1, kept as written
    if isinstance(value, str):
        return _code(json.dumps(value))
    return _code(json.dumps(value, sort_keys=True))


def render(module: Path) -> str:
    variables: dict[str, dict[str, Any]] = {}
    outputs: dict[str, dict[str, Any]] = {}
    raw_types: dict[str, str] = {}
    for tf_file in sorted(module.glob("*.tf")):
        text = tf_file.read_text(encoding="utf-8")
        parsed = hcl2.loads(text)
        for block in parsed.get("variable", []):
            variables.update(block)
        for block in parsed.get("output", []):
            outputs.update(block)
        raw_types.update(_raw_types(text))

    lines = ["## Inputs", ""]
    if variables:
        lines += [
            "| Name | Description | Type | Default | Required |",
            "|------|-------------|------|---------|:--------:|",
        ]
        for name in sorted(variables, key=lambda n: ("default" in variables[n], n)):
            spec = variables[name]
            has_default = "default" in spec
            default = _default(spec["default"][0]) if has_default else "n/a"
            type_ = _code(_without_comments(raw_types.get(name, "any")))
            description = _cell(spec.get("description", [""])[0])
            required = "no" if has_default else "yes"
            lines.append(
                f'| <a name="input_{name}"></a> `{name}` | {description} | {type_} | {default} | {required} |'
            )
    else:
        lines.append("No inputs.")
    lines += ["", "## Outputs", ""]
    if outputs:
        lines += ["| Name | Description |", "|------|-------------|"]
        for name in sorted(outputs):
            description = _cell(outputs[name].get("description", [""])[0])
            lines.append(f'| <a name="output_{name}"></a> `{name}` | {description} |')
    else:
        lines.append("No outputs.")
    return "\n".join(lines)


def render_rules() -> str:
    """The conformance catalogue: every rule with its source, then the two tables' sizes."""
    sys.path.insert(0, str(REPO_ROOT / "tests"))
    from tfharness.conformance import RULES, api_model, arguments  # noqa: PLC0415 - tests/ joins sys.path above

    lines = [
        f"{len(RULES)} service rules:",
        "",
        "| Rule | Checks | What the source says | Source |",
        "|------|--------|----------------------|--------|",
    ]
    for rule_id in sorted(RULES):
        rule = RULES[rule_id]
        checks = ", ".join(f"`{t}`" for t in rule.types) if rule.kind == "resource" else "the whole plan"
        lines.append(f"| `{rule_id}` | {checks} | {_cell(rule.evidence)} | <{rule.source}> |")
    table = api_model.load_table()
    mapped = sum(len(m) for m in table.mappings.values())
    unmapped = sum(len(u) for u in table.unmapped.values())
    argument_rules = sum(len(r) for r in arguments.load_rules().values())
    lines += [
        "",
        f"API model (`conformance/api_model.toml`): {len(table.mappings)} resource types, {mapped} arguments "
        f"mapped to an API parameter, {unmapped} listed with the reason they map to none.",
        "",
        f"Provider argument rules (`conformance/arguments.toml`): {argument_rules}.",
    ]
    return "\n".join(lines)


def _replace_block(current: str, begin: str, end: str, body: str, title: str) -> str:
    block = f"{begin}\n{body}\n{end}"
    if begin in current and end in current:
        head, rest = current.split(begin, 1)
        tail = rest.split(end, 1)[1]
        return f"{head}{block}{tail}"
    return (current.rstrip() + "\n\n" if current else title) + block + "\n"


def updated_readme(module: Path) -> tuple[Path, str, str]:
    readme = module / "README.md"
    current = readme.read_text(encoding="utf-8") if readme.exists() else ""
    title = f"# {module.name if module != REPO_ROOT else 'terraform-aws-ml-gateway'}\n\n"
    return readme, current, _replace_block(current, BEGIN, END, render(module), title)


def updated_rules_readme() -> tuple[Path, str, str]:
    current = RULES_README.read_text(encoding="utf-8")
    return RULES_README, current, _replace_block(current, BEGIN_RULES, END_RULES, render_rules(), "")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="fail when a README is stale instead of writing")
    args = parser.parse_args(argv)
    stale = []
    # The root's module inputs first: the root README's table shows them.
    variables = REPO_ROOT / root_inputs.ROOT_VARIABLES
    current = variables.read_text(encoding="utf-8")
    regenerated = root_inputs.regenerate(current, REPO_ROOT)
    if current != regenerated and args.check:
        stale.append(root_inputs.ROOT_VARIABLES)
    elif current != regenerated:
        variables.write_text(regenerated, encoding="utf-8")
        print(f"updated {root_inputs.ROOT_VARIABLES}")

    def apply(readme: Path, current: str, new: str) -> None:
        name = readme.relative_to(REPO_ROOT).as_posix()
        if current == new or name in stale:
            return
        if args.check:
            stale.append(name)
        else:
            readme.write_text(new, encoding="utf-8")
            print(f"updated {name}")

    for readme, current, new in [*(updated_readme(m) for m in terraform_dirs()), updated_rules_readme()]:
        apply(readme, current, new)
    # After the tables above, which may have rewritten the same READMEs: read them afresh.
    for readme, current, new in route_docs.updated_readmes(route_docs.example_documents()):
        apply(readme, current, new)
    problems = root_inputs.wiring_problems(REPO_ROOT)
    for problem in problems:
        print(f"root input: {problem}", file=sys.stderr)
    if stale:
        print("stale Terraform docs (run `make docs`): " + ", ".join(stale), file=sys.stderr)
    return 1 if stale or problems else 0


if __name__ == "__main__":
    sys.exit(main())
