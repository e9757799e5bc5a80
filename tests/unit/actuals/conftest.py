"""Fixtures for the actuals reporter: moto S3 and Secrets Manager, a real local actuals API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from actuals_fake_api import FakeActualsApi
from actuals_helpers import TOKEN, Harness
from moto import mock_aws


@pytest.fixture
def fake_api() -> Iterator[FakeActualsApi]:
    api = FakeActualsApi(tokens={TOKEN}).start()
    yield api
    api.stop()


@pytest.fixture
def harness(fake_api: FakeActualsApi, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    with mock_aws():
        yield Harness(fake_api, monkeypatch)
