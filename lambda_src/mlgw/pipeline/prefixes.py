"""Key prefixes of an S3 pipeline: where its outputs go by default, and the rule that keeps it
from triggering itself."""

from __future__ import annotations

from collections.abc import Mapping

from mlgw.env import SettingsError


def sibling_prefix(prefix: str, suffix: str) -> str:
    """``a/upload/`` -> ``a/upload-<suffix>/``: next to the trigger prefix, never inside it."""
    return prefix.rstrip("/") + f"-{suffix}/"


def check_prefixes(input_setting: str, input_prefix: str, own_prefixes: Mapping[str, str]) -> None:
    """Objects written under, or above, the input prefix would trigger the function again, and
    nested output prefixes would mix one kind of output into another."""
    for name, value in own_prefixes.items():
        if value.startswith(input_prefix) or input_prefix.startswith(value):
            raise SettingsError(
                f"{name} ({value!r}) must not be nested with {input_setting} ({input_prefix!r}): "
                "objects written there would trigger this function again"
            )
    seen: dict[str, str] = {}
    for name, value in own_prefixes.items():
        for other, other_value in seen.items():
            if value.startswith(other_value) or other_value.startswith(value):
                raise SettingsError(f"{name} ({value!r}) must not be nested with {other} ({other_value!r})")
        seen[name] = value
