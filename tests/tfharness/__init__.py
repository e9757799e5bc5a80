"""Hermetic Terraform checks for terraform-aws-ml-gateway (see README.md in this folder).

The workspace's names are imported on first use: the stand-in providers live in this package
and start several times per plan, so importing the package must not pull in tftest. (The
toolchain's are imported at once: ``toolchain`` is also a submodule's name, and an import of
that submodule would otherwise shadow the function.)
"""

from __future__ import annotations

import importlib
from typing import Any

from tfharness.toolchain import Toolchain, real_terraform_requested, toolchain

_EXPORTS = {
    "MissingSchemaError": "tfharness.workspace",
    "PlanFailed": "tfharness.workspace",
    "PlanResult": "tfharness.workspace",
    "Workspace": "tfharness.workspace",
    "check_schemas_cover": "tfharness.workspace",
    "normalise_diagnostics": "tfharness.workspace",
    "terraform_dirs": "tfharness.workspace",
}

__all__ = [
    "MissingSchemaError",
    "PlanFailed",
    "PlanResult",
    "Toolchain",
    "Workspace",
    "check_schemas_cover",
    "normalise_diagnostics",
    "real_terraform_requested",
    "terraform_dirs",
    "toolchain",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tfharness' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
