"""Rule tests plan minimal configurations that break AWS's rules on purpose, and assert the
stand-in provider's diagnostics. With the real toolchain (MLGW_TF_REAL=1) the real provider
refuses many of them first, in its own words, so they run offline only; the layer itself still
checks every plan of the modules and examples there (tests/terraform), and test_layer.py covers
how it reads a real plan."""

from __future__ import annotations

import pytest

from tfharness import real_terraform_requested


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not real_terraform_requested():
        return
    skip = pytest.mark.skip(reason="asserts the offline stand-in's diagnostics (MLGW_TF_REAL=1 is set)")
    for item in items:
        if "tf" in getattr(item, "fixturenames", ()) and item.path.parent.name == "conformance":
            item.add_marker(skip)
