"""Shared access to the REST API module's mapping templates and integration response table."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "modules" / "rest-api" / "templates"


@pytest.fixture(scope="session")
def read_template() -> Callable[[str], str]:
    """Read a template file of modules/rest-api/templates by name."""

    def read(name: str) -> str:
        return (TEMPLATES_DIR / name).read_text(encoding="utf-8")

    return read


@pytest.fixture(scope="session")
def template_names() -> list[str]:
    return sorted(path.name for path in TEMPLATES_DIR.glob("*.vtl"))


@pytest.fixture(scope="session")
def integration_responses() -> dict[str, dict[str, Any]]:
    """The table Terraform reads with jsondecode(file(...)): name -> integration response."""
    return json.loads((TEMPLATES_DIR / "integration_responses.json").read_text(encoding="utf-8"))
