"""Shared machinery of the stand-in providers: value codec, schema conversion, servicer.

The servicer answers just enough of tfplugin6 for ``terraform validate``, ``plan`` against
empty state, ``test`` with ``mock_provider`` and tftest plan checks. Logic that lives in a
real provider's Go code (enum checks, ConflictsWith, ForceNew, provider defaults) is not
reproduced: plan checks assert the values the modules set, never provider defaults.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgpack
from msgpack.ext import ExtType
from tf.gen import tfplugin_pb2 as pb
from tf.gen import tfplugin_pb2_grpc as rpc

from tfharness.conformance.core import UNKNOWN

Json = dict[str, Any]
SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def _ext_hook(code: int, data: bytes) -> object:
    # cty encodes unknown values as msgpack extension 0 (refined unknowns as 12).
    if code in (0, 12):
        return UNKNOWN
    return ExtType(code, data)


def _ext_default(obj: object) -> ExtType:
    if obj is UNKNOWN:
        return ExtType(0, b"\x00")
    raise TypeError(repr(obj))


def decode(value: pb.DynamicValue) -> Any:
    if value.msgpack:
        return msgpack.unpackb(value.msgpack, ext_hook=_ext_hook, raw=False, strict_map_key=False)
    if value.json:
        return json.loads(value.json)
    return None


def encode(value: Any) -> pb.DynamicValue:
    return pb.DynamicValue(msgpack=msgpack.packb(value, default=_ext_default, use_bin_type=True))


def diagnostic(summary: str, detail: str = "", attribute: str = "") -> pb.Diagnostic:
    diag = pb.Diagnostic(severity=pb.Diagnostic.ERROR, summary=summary, detail=detail)
    if attribute:
        diag.attribute.CopyFrom(attribute_path(attribute))
    return diag


_STEP = re.compile(r"\.?([A-Za-z0-9_]+)|\[(\d+)\]|\['((?:[^'\\]|\\.)*)'\]")


def attribute_path(path: str) -> pb.AttributePath:
    """``settings[0].logging_level`` or ``tags['a']`` as tfplugin6 attribute path steps."""
    steps = []
    for name, index, key in _STEP.findall(path):
        if name:
            steps.append(pb.AttributePath.Step(attribute_name=name))
        elif index:
            steps.append(pb.AttributePath.Step(element_key_int=int(index)))
        else:
            steps.append(pb.AttributePath.Step(element_key_string=key))
    return pb.AttributePath(steps=steps)


def load_schema_file(path: Path) -> Json:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


# --------------------------------------------------------------------- schema conversion

_BLOCK_NESTING = {
    "single": pb.Schema.NestedBlock.SINGLE,
    "list": pb.Schema.NestedBlock.LIST,
    "set": pb.Schema.NestedBlock.SET,
    "map": pb.Schema.NestedBlock.MAP,
    "group": pb.Schema.NestedBlock.GROUP,
}
_OBJECT_NESTING = {
    "single": pb.Schema.Object.SINGLE,
    "list": pb.Schema.Object.LIST,
    "set": pb.Schema.Object.SET,
    "map": pb.Schema.Object.MAP,
}
_TEXT_KIND = {"plain": pb.PLAIN, "markdown": pb.MARKDOWN}


def _attribute_pb(name: str, attr: Json) -> pb.Schema.Attribute:
    kwargs: dict[str, Any] = {
        "name": name,
        "description": attr.get("description", ""),
        "description_kind": _TEXT_KIND.get(attr.get("description_kind", "plain"), pb.PLAIN),
        "required": bool(attr.get("required")),
        "optional": bool(attr.get("optional")),
        "computed": bool(attr.get("computed")),
        "sensitive": bool(attr.get("sensitive")),
        "deprecated": bool(attr.get("deprecated")),
    }
    if "nested_type" in attr:
        nested = attr["nested_type"]
        kwargs["nested_type"] = pb.Schema.Object(
            attributes=[_attribute_pb(n, a) for n, a in sorted(nested["attributes"].items())],
            nesting=_OBJECT_NESTING[nested.get("nesting_mode", "single")],
        )
    else:
        kwargs["type"] = json.dumps(attr["type"]).encode()
    return pb.Schema.Attribute(**kwargs)


def _block_pb(block: Json) -> pb.Schema.Block:
    return pb.Schema.Block(
        attributes=[_attribute_pb(n, a) for n, a in sorted(block.get("attributes", {}).items())],
        block_types=[
            pb.Schema.NestedBlock(
                type_name=name,
                block=_block_pb(nested["block"]),
                nesting=_BLOCK_NESTING[nested["nesting_mode"]],
                min_items=nested.get("min_items", 0),
                max_items=nested.get("max_items", 0),
            )
            for name, nested in sorted(block.get("block_types", {}).items())
        ],
        description=block.get("description", ""),
        description_kind=_TEXT_KIND.get(block.get("description_kind", "plain"), pb.PLAIN),
        deprecated=bool(block.get("deprecated")),
    )


def schema_pb(schema: Json) -> pb.Schema:
    return pb.Schema(version=schema.get("version", 0), block=_block_pb(schema["block"]))


# --------------------------------------------------------------------- value helpers


def _map_nested(mode: str, block: Json, value: Any, fn: Callable[[Json, Any], Any]) -> Any:
    if mode in ("single", "group"):
        return fn(block, value)
    if mode in ("list", "set"):
        return [fn(block, item) for item in value]
    if mode == "map":
        return {key: fn(block, item) for key, item in value.items()}
    return value


def mark_computed_unknown(block: Json, value: Any) -> Any:
    """A planned create: computed attributes the configuration left null become unknown."""
    if not isinstance(value, dict):
        return value
    out = dict(value)
    for name, attr in block.get("attributes", {}).items():
        current = out.get(name)
        if current is None and attr.get("computed"):
            out[name] = UNKNOWN
        elif "nested_type" in attr and current is not None and current is not UNKNOWN:
            nested = attr["nested_type"]
            out[name] = _map_nested(
                nested.get("nesting_mode", "single"),
                {"attributes": nested["attributes"]},
                current,
                mark_computed_unknown,
            )
    for name, nested in block.get("block_types", {}).items():
        current = out.get(name)
        if current is not None and current is not UNKNOWN:
            out[name] = _map_nested(nested["nesting_mode"], nested["block"], current, mark_computed_unknown)
    return out


def zero_value(type_: Any, name: str) -> Any:
    if type_ == "string":
        return f"standin-{name}"
    if type_ == "number":
        return 0
    if type_ == "bool":
        return False
    if isinstance(type_, list):
        kind = type_[0]
        if kind in ("list", "set"):
            return []
        if kind == "map":
            return {}
        if kind == "object":
            return dict.fromkeys(type_[1])
        if kind == "tuple":
            return [None for _ in type_[1]]
    return None


def fill_unknowns(
    block: Json, value: Any, overrides: Json | None = None, fill_null_computed: bool = False
) -> Any:
    """Replace unknown (and optionally null computed) values with deterministic fakes."""
    if not isinstance(value, dict):
        return value
    overrides = overrides or {}
    out = dict(value)
    for name, attr in block.get("attributes", {}).items():
        current = out.get(name)
        if current is UNKNOWN or (fill_null_computed and current is None and attr.get("computed")):
            if name in overrides:
                out[name] = overrides[name]
            elif "nested_type" in attr:
                out[name] = None
            else:
                out[name] = zero_value(attr["type"], name)
    for name, nested in block.get("block_types", {}).items():
        current = out.get(name)
        if current is UNKNOWN:
            out[name] = [] if nested["nesting_mode"] in ("list", "set") else None
        elif current is not None:
            out[name] = _map_nested(
                nested["nesting_mode"],
                nested["block"],
                current,
                lambda b, v: fill_unknowns(b, v, None, fill_null_computed),
            )
    return out


# --------------------------------------------------------------------- servicer


class StandinProvider(rpc.ProviderServicer):
    """A provider that serves schemas from a file and plans without calling any API."""

    schema_path: Path
    provider_schema: Json = {"version": 0, "block": {}}  # noqa: RUF012 - read-only class data

    def __init__(self, *_: object) -> None:
        data = load_schema_file(self.schema_path)
        self.resources: dict[str, Json] = data.get("resource_schemas", {})
        self.data_sources: dict[str, Json] = data.get("data_source_schemas", {})
        self.default_region = os.environ.get("STANDIN_REGION", "us-east-1")
        self.region = self.default_region
        self._schema_response: pb.GetProviderSchema.Response | None = None

    # -- schema and configuration
    def GetMetadata(self, request: Any, context: Any) -> pb.GetMetadata.Response:
        return pb.GetMetadata.Response(
            server_capabilities=pb.ServerCapabilities(plan_destroy=True, get_provider_schema_optional=False),
            resources=[pb.GetMetadata.ResourceMetadata(type_name=n) for n in self.resources],
            data_sources=[pb.GetMetadata.DataSourceMetadata(type_name=n) for n in self.data_sources],
        )

    def GetProviderSchema(self, request: Any, context: Any) -> pb.GetProviderSchema.Response:
        if self._schema_response is None:
            self._schema_response = pb.GetProviderSchema.Response(
                provider=schema_pb(self.provider_schema),
                provider_meta=pb.Schema(block=pb.Schema.Block()),
                resource_schemas={n: schema_pb(s) for n, s in self.resources.items()},
                data_source_schemas={n: schema_pb(s) for n, s in self.data_sources.items()},
                server_capabilities=pb.ServerCapabilities(plan_destroy=True),
            )
        return self._schema_response

    def ValidateProviderConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateProviderConfig.Response()

    def ValidateResourceConfig(self, request: Any, context: Any) -> Any:
        config = decode(request.config)
        diagnostics = self.check(request.type_name, config, configured=False) if config else []
        return pb.ValidateResourceConfig.Response(diagnostics=diagnostics)

    def check(self, type_name: str, values: Json, configured: bool) -> list[pb.Diagnostic]:
        """Diagnostics for what the real provider or AWS would reject (none by default).

        ``configured`` is false while Terraform validates, before the provider knows its region.
        """
        return []

    def ValidateDataResourceConfig(self, request: Any, context: Any) -> Any:
        return pb.ValidateDataResourceConfig.Response()

    def ConfigureProvider(self, request: Any, context: Any) -> Any:
        config = decode(request.config) or {}
        # Every configuration sets the region afresh: a process Terraform reattaches to serves
        # many plans, and one without a region must not inherit the previous plan's.
        region = config.get("region")
        self.region = region if isinstance(region, str) and region else self.default_region
        return pb.ConfigureProvider.Response()

    # -- state
    def UpgradeResourceState(self, request: Any, context: Any) -> Any:
        return pb.UpgradeResourceState.Response(upgraded_state=pb.DynamicValue(json=request.raw_state.json))

    def ReadResource(self, request: Any, context: Any) -> Any:
        return pb.ReadResource.Response(new_state=request.current_state, private=request.private)

    def PlanResourceChange(self, request: Any, context: Any) -> Any:
        proposed = decode(request.proposed_new_state)
        if proposed is None:  # destroy
            return pb.PlanResourceChange.Response(planned_state=request.proposed_new_state)
        prior = decode(request.prior_state)
        block = self.resources[request.type_name]["block"]
        planned = mark_computed_unknown(block, proposed) if prior is None else proposed
        diagnostics = self.check(request.type_name, planned, configured=True)
        if diagnostics:
            return pb.PlanResourceChange.Response(diagnostics=diagnostics)
        return pb.PlanResourceChange.Response(
            planned_state=encode(planned), planned_private=request.prior_private
        )

    def ApplyResourceChange(self, request: Any, context: Any) -> Any:
        planned = decode(request.planned_state)
        if planned is None:
            return pb.ApplyResourceChange.Response(new_state=request.planned_state)
        block = self.resources[request.type_name]["block"]
        name = planned.get("name") if isinstance(planned.get("name"), str) else request.type_name
        overrides = {
            "id": name,
            "arn": f"arn:aws:standin:{self.region}:000000000000:{request.type_name}/{name}",
        }
        return pb.ApplyResourceChange.Response(new_state=encode(fill_unknowns(block, planned, overrides)))

    def ReadDataSource(self, request: Any, context: Any) -> Any:
        config = decode(request.config) or {}
        try:
            state = self.read_data_source(request.type_name, config)
        except Exception as exc:  # surfaced to the user as a Terraform diagnostic
            return pb.ReadDataSource.Response(diagnostics=[diagnostic(f"{request.type_name}: {exc}")])
        return pb.ReadDataSource.Response(state=encode(state))

    def read_data_source(self, type_name: str, config: Json) -> Json:
        return fill_unknowns(self.data_sources[type_name]["block"], config, fill_null_computed=True)

    def ImportResourceState(self, request: Any, context: Any) -> Any:
        return pb.ImportResourceState.Response(diagnostics=[diagnostic("import is not supported offline")])

    def MoveResourceState(self, request: Any, context: Any) -> Any:
        return pb.MoveResourceState.Response(diagnostics=[diagnostic("moves are not supported offline")])

    def GetFunctions(self, request: Any, context: Any) -> Any:
        return pb.GetFunctions.Response()

    def StopProvider(self, request: Any, context: Any) -> Any:
        return pb.StopProvider.Response()


def serve(servicer: type[StandinProvider], full_name: str, argv: Iterable[str] | None = None) -> None:
    """Run the go-plugin handshake and serve ``servicer`` until Terraform stops it."""
    import tf.provider
    import tf.runner

    tf.provider.ProviderServicer = servicer  # tf.runner instantiates ProviderServicer(provider)
    argv = list(argv) if argv is not None else sys.argv
    if "--dev" in argv:
        # A long-lived stand-in stops on SIGTERM or SIGINT through the SDK's own way out, which
        # removes its socket directory; SIGINT may arrive ignored (a shell starts background
        # jobs so), hence the handlers.
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGINT, _interrupt)
        parent = os.environ.get("MLGW_STANDIN_PARENT_PID")
        if parent:
            threading.Thread(target=_exit_with_parent, args=(int(parent),), daemon=True).start()

    class _Identity:
        def full_name(self) -> str:
            return full_name

    tf.runner.run_provider(_Identity(), argv)


def _exit_with_parent(parent: int) -> None:
    """A long-lived stand-in (debug mode, reattached) ends when the process that started it
    does, even if that one was killed without stopping it."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os.kill(os.getpid(), signal.SIGTERM)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
