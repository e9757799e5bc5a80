"""The routing table: route name -> model backend, in the JSON shape the root `models` input renders.

Validation is strict (unknown keys, keys that belong to another backend, missing required keys)
because the table is written by hand, in Terraform or straight into an SSM parameter, and a typo
must fail loudly at load time rather than silently route to the wrong model.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from logging import Logger
from typing import Any, Protocol

from mlgw.backends.limits import SAGEMAKER_REALTIME_MAX_BYTES, SAGEMAKER_SERVERLESS_MAX_BYTES
from mlgw.backends.payload import CSV, JSON, is_json, media_type
from mlgw.env import SettingsError

DEFAULT_ROUTE = "default"
BACKENDS = ("sagemaker", "amazon-ml", "http")
PROTOCOLS = ("sagemaker", "kserve-v1", "mlflow")
ROUTE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

# Keys each backend may set; every other key must be absent or null, which is how Terraform
# renders the optional attributes a route does not use.
_COMMON = {"backend", "content_type", "accept", "max_payload_bytes", "feature_names"}
_ALLOWED = {
    "sagemaker": _COMMON
    | {"endpoint_name", "target_variant", "target_model", "inference_component", "custom_attributes"}
    | {"serverless"},
    "amazon-ml": {"backend", "model_id", "predict_endpoint", "max_payload_bytes", "feature_names"},
    "http": _COMMON | {"url", "protocol"},
}
_ALL_KEYS = set().union(*_ALLOWED.values())
# Terraform fills these defaults into every route whatever its backend, so a key that does not
# apply to a route is only an error when it holds something other than its default.
_DEFAULTS: dict[str, Any] = {
    "content_type": JSON,
    "accept": JSON,
    "serverless": False,
    "protocol": "sagemaker",
}


@dataclass(frozen=True)
class Route:
    """One validated route; fields a backend does not use stay None."""

    name: str
    backend: str
    content_type: str = JSON
    accept: str = JSON
    max_payload_bytes: int = SAGEMAKER_REALTIME_MAX_BYTES
    feature_names: tuple[str, ...] | None = None
    endpoint_name: str | None = None
    target_variant: str | None = None
    target_model: str | None = None
    inference_component: str | None = None
    custom_attributes: str | None = None
    model_id: str | None = None
    predict_endpoint: str | None = None
    url: str | None = None
    protocol: str = "sagemaker"


@dataclass(frozen=True)
class RouteTable:
    routes: Mapping[str, Route] = field(default_factory=dict)

    def get(self, name: str) -> Route | None:
        return self.routes.get(name)


def parse_routes(document: Any, *, default_endpoint_name: str | None, source: str) -> RouteTable:
    """Validate a decoded routing table; `source` names where it came from in error messages."""
    if not isinstance(document, dict) or not document:
        raise SettingsError(f"{source} must be a non-empty JSON object of route name -> settings")
    routes = {}
    for name, raw in document.items():
        if not ROUTE_NAME.fullmatch(name):
            raise SettingsError(
                f"{source}: route name {name!r} must be 1-64 letters, digits, '.', '_' or '-'"
            )
        if not isinstance(raw, dict):
            raise SettingsError(f"{source}: route {name!r} must be an object")
        routes[name] = _parse_route(name, raw, default_endpoint_name, f"{source}: route {name!r}")
    return RouteTable(routes)


def _parse_route(name: str, raw: dict[str, Any], default_endpoint: str | None, where: str) -> Route:
    values = {key: value for key, value in raw.items() if value is not None}
    unknown = sorted(set(values) - _ALL_KEYS)
    if unknown:
        raise SettingsError(f"{where} has unknown key(s): {', '.join(unknown)}")
    backend = values.get("backend", "sagemaker")
    if backend not in BACKENDS:
        raise SettingsError(f"{where}: backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    values = {
        key: value
        for key, value in values.items()
        if key in _ALLOWED[backend] or key not in _DEFAULTS or value != _DEFAULTS[key]
    }
    misplaced = sorted(set(values) - _ALLOWED[backend])
    if misplaced:
        raise SettingsError(f"{where}: {', '.join(misplaced)} do(es) not apply to backend {backend}")
    for key, value in values.items():
        if key not in {"max_payload_bytes", "feature_names", "serverless"} and not (
            isinstance(value, str) and value.strip()
        ):
            raise SettingsError(f"{where}: {key} must be a non-empty string")

    limit = _payload_limit(values, where)
    common: dict[str, Any] = {
        "name": name,
        "backend": backend,
        "max_payload_bytes": limit,
        "feature_names": _feature_names(values.get("feature_names"), where),
    }
    if backend == "amazon-ml":
        return Route(
            **common,
            model_id=_required(values, "model_id", where),
            predict_endpoint=_url(values, "predict_endpoint", where, schemes=("https",)),
        )
    content_type = _model_media_type(values.get("content_type", JSON), where)
    accept = values.get("accept", JSON)
    if backend == "http":
        protocol = values.get("protocol", "sagemaker")
        if protocol not in PROTOCOLS:
            raise SettingsError(f"{where}: protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
        if protocol != "sagemaker" and content_type != JSON:
            raise SettingsError(f"{where}: protocol {protocol} sends JSON, so content_type must be {JSON}")
        return Route(
            **common,
            content_type=content_type,
            accept=accept,
            url=_url(values, "url", where, schemes=("http", "https")),
            protocol=protocol,
        )
    targets = [key for key in ("target_variant", "target_model", "inference_component") if key in values]
    if len(targets) > 1:
        raise SettingsError(f"{where}: set at most one of target_variant, target_model, inference_component")
    endpoint_name = values.get("endpoint_name", default_endpoint)
    if not endpoint_name:
        raise SettingsError(f"{where}: endpoint_name is null and default_endpoint_name is not set")
    return Route(
        **common,
        content_type=content_type,
        accept=accept,
        endpoint_name=endpoint_name,
        target_variant=values.get("target_variant"),
        target_model=values.get("target_model"),
        inference_component=values.get("inference_component"),
        custom_attributes=values.get("custom_attributes"),
    )


def _payload_limit(values: Mapping[str, Any], where: str) -> int:
    serverless = values.get("serverless", False)
    if not isinstance(serverless, bool):
        raise SettingsError(f"{where}: serverless must be true or false")
    ceiling = SAGEMAKER_SERVERLESS_MAX_BYTES if serverless else SAGEMAKER_REALTIME_MAX_BYTES
    limit = values.get("max_payload_bytes", ceiling)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise SettingsError(f"{where}: max_payload_bytes must be a positive whole number")
    if values.get("backend", "sagemaker") == "sagemaker" and limit > ceiling:
        kind = "serverless" if serverless else "real-time"
        raise SettingsError(f"{where}: max_payload_bytes must be at most {ceiling}, SageMaker's {kind} limit")
    return limit


def _feature_names(raw: Any, where: str) -> tuple[str, ...] | None:
    if raw is None:
        return None
    if (
        not isinstance(raw, list)
        or not raw
        or not all(isinstance(item, str) and item for item in raw)
        or len(set(raw)) != len(raw)
    ):
        raise SettingsError(f"{where}: feature_names must be a non-empty list of distinct names")
    return tuple(raw)


def _model_media_type(raw: str, where: str) -> str:
    value = media_type(raw)
    if value != CSV and not is_json(value):
        raise SettingsError(f"{where}: content_type must be {CSV} or a JSON type, got {raw!r}")
    return value


def _required(values: Mapping[str, Any], key: str, where: str) -> str:
    if key not in values:
        raise SettingsError(f"{where}: {key} must be set")
    return str(values[key])


def _url(values: Mapping[str, Any], key: str, where: str, *, schemes: tuple[str, ...]) -> str:
    value = _required(values, key, where)
    if not any(value.startswith(f"{scheme}://") and len(value) > len(scheme) + 3 for scheme in schemes):
        raise SettingsError(f"{where}: {key} must be an absolute {' or '.join(schemes)} URL")
    return value


class RouteSource(Protocol):
    def table(self) -> RouteTable: ...


@dataclass(frozen=True)
class StaticRoutes:
    """A table fixed at deploy time (the settings document's models): a model switch is a redeploy."""

    routes: RouteTable

    def table(self) -> RouteTable:
        return self.routes


class ParameterRoutes:
    """A table read from an SSM parameter through Powertools' Parameters utility, which caches the
    value for `ttl` seconds (`max_age`), so operators switch models without a redeploy. The table
    is parsed again only when the value changed. A failed refresh keeps serving the last good
    table for another `ttl`: a brief SSM outage or a bad edit must not take down predictions that
    were working, nor put an SSM call on every request while it lasts."""

    def __init__(
        self,
        provider: Any,
        name: str,
        *,
        ttl: int,
        default_endpoint_name: str | None,
        logger: Logger,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._provider = provider
        self._name = name
        self._ttl = ttl
        self._default_endpoint_name = default_endpoint_name
        self._logger = logger
        self._clock = clock
        self._cached: RouteTable | None = None
        self._raw: Any = None
        self._hold_until = 0.0

    def table(self) -> RouteTable:
        now = self._clock()
        if self._cached is not None and now < self._hold_until:
            return self._cached
        try:
            value = self._provider.get(self._name, max_age=self._ttl, decrypt=True)
            if self._cached is None or value != self._raw:
                self._cached = self._parse(value)
                self._raw = value
        except Exception as exc:
            if self._cached is None:
                raise self._settings_error(exc) from None
            self._logger.error(
                "routing table refresh failed; serving the previous table",
                extra={"parameter": self._name, "error": str(exc), "error_type": type(exc).__name__},
            )
            self._hold_until = now + self._ttl
        return self._cached

    def _settings_error(self, exc: Exception) -> Exception:
        """Powertools raises GetParameterError from inside the handler of the SDK's error, which
        stays reachable as its context."""
        cause = exc.__context__
        response = getattr(cause, "response", None)
        if isinstance(response, dict) and response.get("Error", {}).get("Code") == "ParameterNotFound":
            return SettingsError(f"SSM parameter {self._name} does not exist")
        return exc

    def _parse(self, value: Any) -> RouteTable:
        source = f"SSM parameter {self._name}"
        try:
            document = json.loads(value)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{source} must be valid JSON: {exc.msg} at position {exc.pos}") from None
        return parse_routes(document, default_endpoint_name=self._default_endpoint_name, source=source)
