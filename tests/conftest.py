"""Fixtures shared by every test: fake AWS credentials and the Terraform workspace."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Any

import pytest
from botocore import loaders

from tfharness import Workspace, toolchain
from tfharness.plan_cache import plan_cache_from_env

# moto's mock_aws gives each test a new boto3 session, and each session's loader reads the
# service models it needs from disk again: about 0.1 s for each client a handler creates at its
# cold start, a third of many unit tests' time. Loaders with the same search paths and extras
# share one cache here, as the clients of one session already share their loader's
# (botocore.loaders.instance_cache): the models are botocore's files, the same for every test.
_LOADER_CACHES: dict[tuple[Any, ...], dict[Any, Any]] = {}
_loader_init = loaders.Loader.__init__


def _shared_loader_cache(self: loaders.Loader, *args: Any, **kwargs: Any) -> None:
    _loader_init(self, *args, **kwargs)
    key = (type(self.file_loader), tuple(self.search_paths), tuple(self.extras_types))
    self._cache = _LOADER_CACHES.setdefault(key, {})


loaders.Loader.__init__ = _shared_loader_cache  # type: ignore[method-assign]

# Offline plans of inputs planned before are read back (tfharness.plan_cache): the suite gives
# each run caches of its own, shared by the workers, by `make docs` run from a test, and by every
# local-mode process they start (they inherit the environment). Each plan a run needs is made
# once in that run, never read from an earlier run's plans, whatever the shell sets (but "off").
# Local mode keeps only its newest plans, so it gets a directory of its own.
PLAN_CACHES = {"MLGW_TF_PLAN_CACHE": "terraform", "MLGW_LOCAL_PLAN_CACHE": "local"}
_PLAN_CACHE = pytest.StashKey[str]()


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):
        return  # a worker inherits the controller's
    directory = tempfile.mkdtemp(prefix="mlgw-plans-")
    config.stash[_PLAN_CACHE] = directory
    for variable, name in PLAN_CACHES.items():
        if os.environ.get(variable, "").strip().lower() != "off":
            os.environ[variable] = os.path.join(directory, name)


def pytest_unconfigure(config: pytest.Config) -> None:
    directory = config.stash.get(_PLAN_CACHE, None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
        for variable in PLAN_CACHES:
            if os.environ.get(variable, "").startswith(directory):
                os.environ.pop(variable)


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
    return Workspace(toolchain(scratch / "toolchain"), scratch, plan_cache_from_env())
