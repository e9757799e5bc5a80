"""Render API Gateway mapping templates offline, on LocalStack's VTL engine.

API Gateway evaluates mapping templates with Java Velocity: strings are ``java.lang.String``
and ``$util`` is backed by Java libraries. LocalStack renders the same templates with
airspeed, a Python port, and differs from API Gateway in ways that would let a template pass
here and fail on AWS (or the reverse). Each difference that matters to this project's templates
is shimmed below, never worked around inside a template:

* Strings. LocalStack hands templates Python strings: ``trim()`` and ``matches()`` render
  nothing, ``split()`` splits literally and keeps trailing empty strings, and Python-only
  methods such as ``strip()`` work although they fail on AWS. :class:`JavaString` gives
  request parameters, context and stage variables, ``$input.json`` results and
  ``$util.escapeJavaScript`` results the ``java.lang.String`` semantics of the methods it
  implements, and raises :class:`JavaDialectError` for any other method.
* ``$input.params(name)``. LocalStack skips a parameter whose value is empty and looks for the
  name in the next location; API Gateway returns the first location (path, query string,
  header) that has the name, empty or not.
* ``$util.escapeJavaScript``. LocalStack escapes like JSON and turns a blank string into ``{}``;
  API Gateway escapes like Apache Commons Lang ``StringEscapeUtils.escapeJavaScript``: single
  quotes become ``\\'`` (not valid JSON, hence the documented ``.replaceAll("\\\\'", "'")``),
  ``/`` becomes ``\\/`` and every character outside printable ASCII a ``\\uXXXX`` escape.
* Integration response selection. LocalStack tries ``re.match`` (a prefix match) in
  definition order; API Gateway matches the selection pattern against the whole value and
  the order of overlapping patterns is undefined, so :func:`select_integration_response`
  full-matches and refuses overlaps.

Java and Python regular expressions agree on the constructs the templates use (classes,
groups, alternation, bounded repetition, lookahead); patterns run with ``re.ASCII`` because
Java's ``\\d``, ``\\s`` and ``\\w`` are ASCII-only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from airspeed.operators import TemplateExecutionError
from localstack.services.apigateway.next_gen.execute_api.template_mapping import (
    ApiGatewayVtlTemplate,
    MappingTemplateInput,
    MappingTemplateParams,
    MappingTemplateVariables,
    VelocityInput,
    VelocityUtilApiGateway,
)
from localstack.services.apigateway.next_gen.execute_api.variables import (
    ContextVariableOverrides,
    ContextVariables,
)
from localstack.utils.aws.templating import APIGW_SOURCE


class JavaDialectError(TypeError):
    """A template called a method that API Gateway's Java Velocity would not resolve."""


def _java_regex(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.ASCII)


def _java_replacement(replacement: str) -> Callable[[re.Match[str]], str]:
    """Expand a ``java.util.regex.Matcher`` replacement: ``$n`` is group n, ``\\x`` is x."""

    def expand(match: re.Match[str]) -> str:
        out: list[str] = []
        index = 0
        while index < len(replacement):
            char = replacement[index]
            if char == "\\" and index + 1 < len(replacement):
                out.append(replacement[index + 1])
                index += 2
            elif char == "$":
                digits = re.match(r"[0-9]+", replacement[index + 1 :])
                if digits is None:
                    raise ValueError(f"illegal group reference in replacement {replacement!r}")
                out.append(match.group(int(digits.group())) or "")
                index += 1 + len(digits.group())
            else:
                out.append(char)
                index += 1
        return "".join(out)

    return expand


class JavaString(str):
    """A string with ``java.lang.String`` semantics for the methods templates may call."""

    JAVA_METHODS: ClassVar[frozenset[str]] = frozenset({"matches", "replaceAll", "split", "trim"})

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("__") or name in JavaString.JAVA_METHODS:
            return super().__getattribute__(name)
        raise JavaDialectError(
            f"{name}() is not a java.lang.String method this renderer implements "
            f"(implemented: {', '.join(sorted(JavaString.JAVA_METHODS))})"
        )

    def trim(self) -> JavaString:
        """Strip every character up to U+0020 from both ends, as Java does (not Unicode spaces)."""
        start, end = 0, len(self)
        while start < end and ord(self[start]) <= 0x20:
            start += 1
        while end > start and ord(self[end - 1]) <= 0x20:
            end -= 1
        return JavaString(str.__getitem__(self, slice(start, end)))

    def matches(self, regex: str) -> bool:
        return _java_regex(regex).fullmatch(self) is not None

    def replaceAll(self, regex: str, replacement: str) -> JavaString:
        return JavaString(_java_regex(regex).sub(_java_replacement(replacement), self))

    def split(self, regex: str) -> list[JavaString]:  # type: ignore[override]
        """``String.split(regex)``: no match gives the whole string, trailing empties are dropped."""
        parts: list[JavaString] = []
        index = 0
        for match in _java_regex(regex).finditer(self):
            if match.end() == 0:
                continue
            parts.append(JavaString(str.__getitem__(self, slice(index, match.start()))))
            index = match.end()
        if index == 0:
            return [JavaString(self)]
        parts.append(JavaString(str.__getitem__(self, slice(index, None))))
        while parts and not parts[-1]:
            parts.pop()
        return parts


def _javafy(value: Any) -> Any:
    """Turn every string inside nested dicts and lists into a JavaString, in place."""
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _javafy(item)
        return value
    if isinstance(value, list):
        value[:] = [_javafy(item) for item in value]
        return value
    if isinstance(value, str):
        return JavaString(value)
    return value


_JS_ESCAPES = {
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
    '"': '\\"',
    "'": "\\'",
    "/": "\\/",
    "\\": "\\\\",
}


def escape_javascript(text: str) -> str:
    """Apache Commons Lang ``StringEscapeUtils.escapeJavaScript``, over UTF-16 code units."""
    out: list[str] = []
    for unit in _utf16_units(text):
        char = chr(unit)
        if char in _JS_ESCAPES:
            out.append(_JS_ESCAPES[char])
        elif unit < 0x20 or unit > 0x7F:
            out.append(f"\\u{unit:04X}")
        else:
            out.append(char)
    return "".join(out)


def _utf16_units(text: str) -> list[int]:
    units: list[int] = []
    for char in text:
        code = ord(char)
        if code > 0xFFFF:
            code -= 0x10000
            units.extend((0xD800 + (code >> 10), 0xDC00 + (code & 0x3FF)))
        else:
            units.append(code)
    return units


class _JavaUtil(VelocityUtilApiGateway):
    # A null argument stays null, which this engine renders as an empty string.
    def escapeJavaScript(self, obj: Any) -> JavaString | None:
        if obj is None:
            return None
        return JavaString(escape_javascript(str(obj)))


class _JavaInput(VelocityInput):
    def params(self, name: str | None = None) -> Any:
        if not name:
            return self.parameters
        for location in ("path", "querystring", "header"):
            values = self.parameters.get(location) or {}
            if name in values:
                return values[name]
        return JavaString("")

    def json(self, path: str) -> JavaString:
        return JavaString(super().json(path))


class _JavaVtlTemplate(ApiGatewayVtlTemplate):
    def prepare_namespace(self, variables: dict[str, Any], source: str = APIGW_SOURCE) -> dict[str, Any]:
        namespace = super().prepare_namespace(variables, source)
        # The context dict must stay the same object: render_* read the overrides back from it.
        _javafy(namespace["context"])
        _javafy(namespace.get("stageVariables"))
        input_var = variables.get("input") or {}
        namespace["input"] = _JavaInput(input_var.get("body"), _javafy(input_var.get("params")))
        namespace["util"] = _JavaUtil()
        return namespace


@dataclass(frozen=True)
class RenderedResponse:
    """What the client receives from an integration response: body, final status, headers."""

    body: str
    status: int
    headers: dict[str, str]


def _variables(
    body: str,
    *,
    path_params: Mapping[str, str] | None,
    query: Mapping[str, str] | None,
    headers: Mapping[str, str] | None,
    context: Mapping[str, Any] | None,
    stage_variables: Mapping[str, str] | None,
) -> MappingTemplateVariables:
    return MappingTemplateVariables(
        context=cast(ContextVariables, dict(context or {})),
        stageVariables=dict(stage_variables or {}),
        input=MappingTemplateInput(
            body=body,
            params=MappingTemplateParams(
                path=dict(path_params or {}),
                querystring=dict(query or {}),
                header=dict(headers or {}),
            ),
        ),
    )


@contextmanager
def _dialect_errors_surface() -> Iterator[None]:
    """Re-raise a JavaDialectError that airspeed wrapped, naming the template expression."""
    try:
        yield
    except TemplateExecutionError as error:
        if isinstance(error.__cause__, JavaDialectError):
            raise JavaDialectError(f"{error.__cause__} in {error.element.my_text()}") from error
        raise


def _no_overrides() -> ContextVariableOverrides:
    return ContextVariableOverrides(
        requestOverride={"header": {}, "path": {}, "querystring": {}},
        responseOverride={"header": {}, "status": 0},
    )


def render_request(
    template: str,
    body: str = "",
    *,
    path_params: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    context: Mapping[str, Any] | None = None,
    stage_variables: Mapping[str, str] | None = None,
) -> str:
    """Render an integration request template; returns the body sent to the integration."""
    variables = _variables(
        body,
        path_params=path_params,
        query=query,
        headers=headers,
        context=context,
        stage_variables=stage_variables,
    )
    with _dialect_errors_surface():
        rendered, _ = _JavaVtlTemplate().render_request(template, variables, _no_overrides())
    return rendered


def render_response(
    template: str,
    body: str,
    status: int,
    *,
    path_params: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    context: Mapping[str, Any] | None = None,
    stage_variables: Mapping[str, str] | None = None,
) -> RenderedResponse:
    """Render an integration response template over the integration's body.

    ``status`` is the status code of the selected integration response; a template may replace
    it through ``$context.responseOverride.status``. The method request's parameters are
    inputs too, because ``$input.params`` in a response template still reads them.
    """
    variables = _variables(
        body,
        path_params=path_params,
        query=query,
        headers=headers,
        context=context,
        stage_variables=stage_variables,
    )
    with _dialect_errors_surface():
        rendered, override = _JavaVtlTemplate().render_response(template, variables, _no_overrides())
    return RenderedResponse(
        body=rendered,
        status=int(override["status"] or status),
        headers={str(name): str(value) for name, value in override["header"].items()},
    )


class AmbiguousSelectionError(ValueError):
    """More than one selection pattern matches: API Gateway does not define which one wins."""


def select_integration_response(patterns: Mapping[str, str | None], selection_value: str) -> str:
    """Name of the integration response API Gateway selects for ``selection_value``.

    ``patterns`` maps each integration response to its selection pattern, None for the
    default response. For an AWS service integration such as SageMaker, ``selection_value``
    is the status code of the service's answer, as a string.
    """
    matched = [
        name
        for name, pattern in patterns.items()
        if pattern is not None and _java_regex(pattern).fullmatch(selection_value)
    ]
    if len(matched) > 1:
        raise AmbiguousSelectionError(f"{selection_value!r} matches {sorted(matched)}")
    if matched:
        return matched[0]
    defaults = [name for name, pattern in patterns.items() if pattern is None]
    if len(defaults) != 1:
        raise ValueError(f"expected exactly one default integration response, got {defaults}")
    return defaults[0]
