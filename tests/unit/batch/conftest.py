"""Fixtures for batch prediction: moto S3, a real local SageMaker-runtime-compatible model server,
and the handler loaded afresh under each test's environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from batch_fake_model import FakeSageMakerRuntime
from batch_helpers import Harness
from moto import mock_aws


@pytest.fixture
def model() -> Iterator[FakeSageMakerRuntime]:
    server = FakeSageMakerRuntime()
    yield server
    server.close()


@pytest.fixture
def harness(model: FakeSageMakerRuntime, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    with mock_aws():
        current = Harness(model, monkeypatch)
        yield current
        current.unload()
