"""The one settings document each function reads at cold start.

Terraform renders every setting of a function, defaults included, into one JSON document in
the `MLGW_SETTINGS` environment variable (defaults live only in the module's variables). The
handlers parse it once into frozen settings and require every field, so a function deployed
with a document from another version fails its first invocation with a message that names the
field, instead of running with a value nobody chose.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

SETTINGS_VARIABLE = "MLGW_SETTINGS"


class SettingsError(ValueError):
    """The settings document is missing, or one of its fields is missing or malformed."""


class Document:
    """Typed, required fields of one JSON object, named by their path in errors."""

    def __init__(self, fields: Mapping[str, Any], path: str = SETTINGS_VARIABLE) -> None:
        self._fields = fields
        self.path = path

    def raw_fields(self) -> dict[str, Any]:
        return dict(self._fields)

    def name(self, key: str) -> str:
        return f"{self.path}.{key}"

    def raw(self, key: str) -> Any:
        if key not in self._fields:
            raise SettingsError(f"{self.name(key)} is missing")
        return self._fields[key]

    def text(self, key: str) -> str:
        value = self.raw(key)
        if not isinstance(value, str) or not value.strip():
            raise SettingsError(f"{self.name(key)} must be a non-empty string, got {value!r}")
        return value.strip()

    def opt_text(self, key: str) -> str | None:
        return None if self.raw(key) is None else self.text(key)

    def whole(self, key: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self.raw(key)
        # JSON has one number type: Terraform writes 500 as 500, never 500.0, but accept both.
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise SettingsError(f"{self.name(key)} must be a whole number, got {value!r}")
        self._check_range(key, int(value), minimum, maximum)
        return int(value)

    def number(self, key: str, *, minimum: float | None = None, maximum: float | None = None) -> float:
        value = self.raw(key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingsError(f"{self.name(key)} must be a number, got {value!r}")
        self._check_range(key, float(value), minimum, maximum)
        return float(value)

    def flag(self, key: str) -> bool:
        value = self.raw(key)
        if not isinstance(value, bool):
            raise SettingsError(f"{self.name(key)} must be true or false, got {value!r}")
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self.text(key)
        if value not in choices:
            raise SettingsError(f"{self.name(key)} must be one of {', '.join(choices)}, got {value!r}")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.raw(key)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise SettingsError(f"{self.name(key)} must be a list of strings, got {value!r}")
        return tuple(value)

    def prefix(self, key: str) -> str:
        """An S3 key prefix, normalised to end with exactly one '/'."""
        value = self.text(key).lstrip("/")
        if not value.strip("/"):
            raise SettingsError(f"{self.name(key)} must be a non-empty key prefix such as 'input/'")
        return value.rstrip("/") + "/"

    def section(self, key: str) -> Document:
        value = self.raw(key)
        if not isinstance(value, dict):
            raise SettingsError(f"{self.name(key)} must be an object, got {value!r}")
        return Document(value, self.name(key))

    def opt_section(self, key: str) -> Document | None:
        return None if self.raw(key) is None else self.section(key)

    def _check_range(self, key: str, value: float, minimum: float | None, maximum: float | None) -> None:
        if minimum is not None and value < minimum:
            raise SettingsError(f"{self.name(key)} must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise SettingsError(f"{self.name(key)} must be at most {maximum}, got {value}")


def load_document(env: Mapping[str, str]) -> Document:
    """The function's settings document, from its environment."""
    raw = env.get(SETTINGS_VARIABLE, "").strip()
    if not raw:
        raise SettingsError(f"{SETTINGS_VARIABLE} must be set: the module renders it for every function")
    try:
        fields = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingsError(
            f"{SETTINGS_VARIABLE} must be valid JSON: {exc.msg} at position {exc.pos}"
        ) from None
    if not isinstance(fields, dict):
        raise SettingsError(f"{SETTINGS_VARIABLE} must be a JSON object")
    return Document(fields)
