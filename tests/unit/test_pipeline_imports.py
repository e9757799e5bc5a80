"""The two S3 pipelines share the core in `mlgw.pipeline` and nothing else: neither imports the
other, and the core imports neither, so a change to one pipeline cannot break the other."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "lambda_src" / "mlgw"


def imported_modules(folder: Path, root: Path = PACKAGE) -> set[str]:
    """Every module named by an import statement of the folder's files, relative ones resolved."""
    names: set[str] = set()
    for path in folder.rglob("*.py"):
        package = ["mlgw", *path.relative_to(root).parent.parts]
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = package[: len(package) - node.level + 1] if node.level else []
                module = ".".join([*base, node.module] if node.module else base)
                names.add(module)
                names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def touches(names: set[str], package: str) -> set[str]:
    return {name for name in names if name == package or name.startswith(package + ".")}


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("batch", ("mlgw.actuals",)),
        ("actuals", ("mlgw.batch",)),
        ("pipeline", ("mlgw.actuals", "mlgw.batch", "mlgw.handlers")),
    ],
)
def test_pipelines_do_not_import_each_other(folder: str, forbidden: tuple[str, ...]) -> None:
    names = imported_modules(PACKAGE / folder)

    assert names, f"no imports found under {folder}: the walk is broken"
    for package in forbidden:
        assert touches(names, package) == set()


def test_the_walk_resolves_relative_imports(tmp_path: Path) -> None:
    # Given a pipeline module that imports the other pipeline with a relative import
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "reader.py").write_text("from ..actuals import pipeline\nimport json\n")

    # Then the walk names the other pipeline
    names = imported_modules(folder, root=tmp_path)
    assert touches(names, "mlgw.actuals") == {"mlgw.actuals", "mlgw.actuals.pipeline"}
