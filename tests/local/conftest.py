"""The default example served by local mode for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from local_support import LocalMode, start_local_mode


@pytest.fixture(scope="session")
def local_mode(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalMode]:
    """The default example, served for the whole session."""
    mode = start_local_mode(tmp_path_factory.mktemp("local-mode"))
    yield mode
    mode.stop()
