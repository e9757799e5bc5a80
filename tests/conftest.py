"""Fixtures shared by every test: fake AWS credentials and the Terraform workspace."""

from __future__ import annotations

import pytest

from tfharness import Workspace, toolchain


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing in the suite may reach AWS: fake credentials, a fixed region, no profiles."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="session")
def tf(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """A staged copy of the repository's Terraform with the offline (or real) toolchain."""
    scratch = tmp_path_factory.mktemp("terraform")
    return Workspace(toolchain(scratch / "toolchain"), scratch)
