"""Generate the Inputs and Outputs tables of every Terraform README from the code.

    python scripts/gen_docs.py           # rewrite the tables in place (`make docs`)
    python scripts/gen_docs.py --check   # exit 1 and name the stale READMEs (run by the tests)

Tables sit between ``<!-- BEGIN_TF_DOCS -->`` and ``<!-- END_TF_DOCS -->``; everything else
in a README is prose written by hand. Types are shown exactly as written in the code.
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

REPO_ROOT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- BEGIN_TF_DOCS -->"
END = "<!-- END_TF_DOCS -->"
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
            type_ = _code(raw_types.get(name, "any"))
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


def updated_readme(module: Path) -> tuple[Path, str, str]:
    readme = module / "README.md"
    current = readme.read_text(encoding="utf-8") if readme.exists() else ""
    block = f"{BEGIN}\n{render(module)}\n{END}"
    if BEGIN in current and END in current:
        head, rest = current.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        new = f"{head}{block}{tail}"
    else:
        title = f"# {module.name if module != REPO_ROOT else 'terraform-aws-ml-gateway'}\n\n"
        new = (current.rstrip() + "\n\n" if current else title) + block + "\n"
    return readme, current, new


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="fail when a README is stale instead of writing")
    args = parser.parse_args(argv)
    stale = []
    for module in terraform_dirs():
        readme, current, new = updated_readme(module)
        if current == new:
            continue
        if args.check:
            stale.append(readme.relative_to(REPO_ROOT).as_posix())
        else:
            readme.write_text(new, encoding="utf-8")
            print(f"updated {readme.relative_to(REPO_ROOT).as_posix()}")
    if stale:
        print("stale Terraform docs (run `make docs`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
