"""Hermetic Terraform checks for terraform-aws-ml-gateway (see README.md in this folder)."""

from tfharness.toolchain import Toolchain, real_terraform_requested, toolchain
from tfharness.workspace import (
    MissingSchemaError,
    PlanFailed,
    PlanResult,
    Workspace,
    check_schemas_cover,
    normalise_diagnostics,
    terraform_dirs,
)

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
