"""Render API Gateway mapping templates offline, on airspeed's Velocity engine.

API Gateway evaluates mapping templates with Java Velocity: strings are ``java.lang.String``
and ``$util`` is backed by Java libraries. This module renders the same templates with airspeed
(the ``airspeed-ext`` package), a Python port of Velocity, and builds the variables API Gateway
gives a template itself: ``$input`` (``body``, ``json``, ``path``, ``params``), ``$util``,
``$context`` with its ``requestOverride`` and ``responseOverride`` maps, and ``$stageVariables``
(https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html).
A Python engine differs from API Gateway in ways that would let a template pass here and fail on
AWS (or the reverse). Each difference that matters to this project's templates or to users' own
templates is shimmed below, never worked around inside a template; the cases of
``tests/templates/aws_corpus.json`` hold the renderer to outputs recorded on API Gateway:

* Strings. A Python engine hands templates Python strings: Java's methods are missing or
  differ (``split()`` would split literally and keep trailing empty strings), and Python-only
  methods such as ``strip()`` work although they fail on AWS. :class:`JavaString` gives
  request parameters, context and stage variables, ``$input.json``, ``$input.path`` and
  ``$input.body`` results and ``$util`` results the ``java.lang.String`` semantics of the
  methods it implements (lengths and indices in UTF-16 units), and raises
  :class:`JavaDialectError` for any other method.
* Maps and lists. ``$input.params()``, nested ``$context`` values and ``$util.parseJson``
  results are :class:`JavaMap` and :class:`JavaList`: Java's methods, printed as Java prints
  them (``{a=b, c=d}``, ``[x, y]``, ``null``) where Python would print ``{'a': 'b'}``.
  ``$input.path`` answers maps the same way, but its lists print as compact JSON
  (``{a=1, b=[{"c":5}]}``), as API Gateway was observed to print them
  (https://github.com/localstack/localstack/pull/12379).
* ``$util``. The six functions of the reference above, each taking any value as its
  ``String.valueOf`` text; ``urlEncode`` follows ``java.net.URLEncoder``. Any other function
  raises :class:`JavaDialectError`.
* Whitespace. API Gateway keeps a template's leading and trailing whitespace, as recorded
  outputs show; the template is rendered as written.
* ``$input.params(name)``. API Gateway returns the first location (path, query string,
  header) that has the name, empty or not.
* ``$util.escapeJavaScript``. API Gateway escapes like Apache Commons Lang
  ``StringEscapeUtils.escapeJavaScript``: single quotes become ``\\'`` (not valid JSON, hence the
  documented ``.replaceAll("\\\\'", "'")``), ``/`` becomes ``\\/`` and every character outside
  printable ASCII a ``\\uXXXX`` escape.
* Null. A reference that resolves to null is an empty string wherever the template evaluates
  it (output, ``#set``, comparisons, arguments), so a missing value prints nothing.
* ``#`` before a reference. Velocity prints ``a#$b`` as ``a#`` and the value of ``$b``; airspeed
  reads ``#$`` as text, so the renderer separates the two before parsing. A ``#`` followed by
  spaces and ``set`` at the start of a line is read as ``#set``, as this renderer always has.
* Integration response selection. API Gateway matches the selection pattern against the whole
  value and the order of overlapping patterns is undefined, so
  :func:`select_integration_response` full-matches and refuses overlaps.

Java and Python regular expressions agree on the constructs the templates use (classes,
groups, alternation, bounded repetition, lookahead); patterns run with ``re.ASCII`` because
Java's ``\\d``, ``\\s`` and ``\\w`` are ASCII-only.
"""

from __future__ import annotations

import base64
import functools
import json
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import quote_plus, unquote_plus

import airspeed
from airspeed.operators import TemplateExecutionError, VariableExpression
from jsonpath_rw import parse as parse_jsonpath
from jsonpath_rw.jsonpath import JSONPath


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


def _utf16(text: str) -> bytes:
    return str.encode(text, "utf-16-le", "surrogatepass")


def _from_utf16(data: bytes) -> str:
    return bytes.decode(data, "utf-16-le", "surrogatepass")


def _java_index(text: str, char_index: int) -> int:
    """Index in UTF-16 code units (Java's unit) of the Python character index."""
    return len(_utf16(str.__getitem__(text, slice(0, char_index)))) // 2


class JavaString(str):
    """A string with ``java.lang.String`` semantics for the methods templates may call.

    Indices and lengths count UTF-16 code units, as Java does. Any other attribute fails the
    render, so a template cannot lean on a Python-only method that AWS would not resolve.
    """

    JAVA_METHODS: ClassVar[frozenset[str]] = frozenset(
        {
            "charAt",
            "concat",
            "contains",
            "endsWith",
            "equals",
            "equalsIgnoreCase",
            "indexOf",
            "isEmpty",
            "lastIndexOf",
            "length",
            "matches",
            "replace",
            "replaceAll",
            "replaceFirst",
            "split",
            "startsWith",
            "substring",
            "toLowerCase",
            "toString",
            "toUpperCase",
            "trim",
        }
    )

    def __getattribute__(self, name: str) -> Any:
        if name.startswith("__") or name in JavaString.JAVA_METHODS:
            return super().__getattribute__(name)
        if name == "keys":
            # the engine asks every #foreach value whether it is a map; a string is not
            raise AttributeError(name)
        raise JavaDialectError(
            f"{name}() is not a java.lang.String method this renderer implements "
            f"(implemented: {', '.join(sorted(JavaString.JAVA_METHODS))})"
        )

    def length(self) -> int:
        return len(_utf16(self)) // 2

    def isEmpty(self) -> bool:
        return str.__len__(self) == 0

    def toString(self) -> JavaString:
        return self

    def equals(self, other: Any) -> bool:
        return isinstance(other, str) and str.__eq__(self, other)

    def equalsIgnoreCase(self, other: Any) -> bool:
        return isinstance(other, str) and str.lower(self) == str.lower(other)

    def contains(self, part: Any) -> bool:
        return str.__contains__(self, _java_str(part))

    def startsWith(self, prefix: str, offset: int = 0) -> bool:
        return _utf16(self)[2 * offset :].startswith(_utf16(prefix)) if offset >= 0 else False

    def endsWith(self, suffix: str) -> bool:
        return str.endswith(self, suffix)

    def indexOf(self, part: str, from_index: int = 0) -> int:
        units, wanted = _utf16(self), _utf16(_java_str(part))
        start = max(from_index, 0) * 2
        while (found := units.find(wanted, start)) != -1 and found % 2:
            start = found + 1
        return -1 if found == -1 else found // 2

    def lastIndexOf(self, part: str) -> int:
        units, wanted = _utf16(self), _utf16(_java_str(part))
        end = len(units)
        while (found := units.rfind(wanted, 0, end)) != -1 and found % 2:
            end = found + len(wanted) - 1
        return -1 if found == -1 else found // 2

    def charAt(self, index: int) -> JavaString:
        return self.substring(index, index + 1)

    def substring(self, begin: int, end: int | None = None) -> JavaString:
        """``substring(begin[, end])``; out-of-range indices fail as Java's exception would."""
        units = _utf16(self)
        stop = len(units) // 2 if end is None else end
        if not 0 <= begin <= stop <= len(units) // 2:
            raise IndexError(f"substring({begin}, {end}) out of range for length {len(units) // 2}")
        return JavaString(_from_utf16(units[2 * begin : 2 * stop]))

    def concat(self, other: str) -> JavaString:
        return JavaString(str.__add__(self, other))

    def replace(self, target: Any, replacement: Any) -> JavaString:  # type: ignore[override]
        """``replace(CharSequence, CharSequence)``: every literal occurrence, no regex."""
        return JavaString(str.replace(self, _java_str(target), _java_str(replacement)))

    def toLowerCase(self) -> JavaString:
        return JavaString(str.lower(self))

    def toUpperCase(self) -> JavaString:
        return JavaString(str.upper(self))

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

    def replaceFirst(self, regex: str, replacement: str) -> JavaString:
        return JavaString(_java_regex(regex).sub(_java_replacement(replacement), self, count=1))

    def split(self, regex: str) -> JavaList:  # type: ignore[override]
        """``String.split(regex)``: no match gives the whole string, trailing empties are dropped."""
        parts = JavaList()
        index = 0
        for match in _java_regex(regex).finditer(self):
            if match.end() == 0:
                continue
            parts.append(JavaString(str.__getitem__(self, slice(index, match.start()))))
            index = match.end()
        if index == 0:
            return JavaList([JavaString(self)])
        parts.append(JavaString(str.__getitem__(self, slice(index, None))))
        while parts and not parts[-1]:
            parts.pop()
        return parts


def _java_str(value: Any) -> str:
    """``String.valueOf``: how Java prints a value (null, booleans, maps and lists included)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, dict) and not isinstance(value, JavaMap):
        return "{" + ", ".join(f"{_java_str(k)}={_java_str(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple) and not isinstance(value, JavaList):
        return "[" + ", ".join(_java_str(item) for item in value) + "]"
    return str(value)


class JavaMap(dict[str, Any]):
    """A ``java.util.Map`` as templates see one: Java's methods, printed as ``{a=b, c=d}``."""

    def __str__(self) -> str:
        return "{" + ", ".join(f"{_java_str(k)}={_java_str(v)}" for k, v in self.items()) + "}"

    def toString(self) -> str:
        return str(self)

    def size(self) -> int:
        return len(self)

    def isEmpty(self) -> bool:
        return not self

    def containsKey(self, key: Any) -> bool:
        return key in self

    def containsValue(self, value: Any) -> bool:
        return value in dict.values(self)

    def keySet(self) -> JavaList:
        return JavaList(self.keys())

    def values(self) -> JavaList:  # type: ignore[override]
        return JavaList(dict.values(self))

    def put(self, key: Any, value: Any) -> Any:
        previous = self.get(key)
        self[key] = value
        return previous

    def putAll(self, other: Mapping[Any, Any]) -> None:
        self.update(other)

    def remove(self, key: Any) -> Any:
        return self.pop(key, None)


class JavaList(list[Any]):
    """A ``java.util.List`` as templates see one: Java's methods, printed as ``[x, y]``."""

    def __str__(self) -> str:
        return "[" + ", ".join(_java_str(item) for item in self) + "]"

    def toString(self) -> str:
        return str(self)

    def size(self) -> int:
        return len(self)

    def isEmpty(self) -> bool:
        return not self

    def get(self, index: int) -> Any:
        return self[index]

    def contains(self, value: Any) -> bool:
        return value in self

    def add(self, value: Any) -> bool:
        self.append(value)
        return True

    def set(self, index: int, value: Any) -> Any:
        """``List.set``: replace the element at ``index`` and answer the one it replaced."""
        previous = self[index]
        self[index] = value
        return previous


def _java_value(value: Any) -> Any:
    """A copy of a JSON-like value with Java types: strings, maps and lists."""
    if isinstance(value, dict):
        return JavaMap({key: _java_value(item) for key, item in value.items()})
    if isinstance(value, list):
        return JavaList(_java_value(item) for item in value)
    if isinstance(value, str):
        return JavaString(value)
    return value


class JsonPathList(JavaList):
    """A JSON array from ``$input.path``: a Java list that prints as compact JSON."""

    def __str__(self) -> str:
        return json.dumps(self, separators=(",", ":"))


def _json_path_value(value: Any) -> Any:
    """A copy of a JSON value as ``$input.path`` answers it: maps, JSON-printing lists, strings."""
    if isinstance(value, dict):
        return JavaMap({key: _json_path_value(item) for key, item in value.items()})
    if isinstance(value, list):
        return JsonPathList(_json_path_value(item) for item in value)
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


def url_encode(text: str) -> str:
    """``java.net.URLEncoder.encode(text, "UTF-8")``: form encoding of UTF-8 bytes.

    Letters, digits and ``.-*_`` stay, a space becomes ``+``, every other byte ``%XY``
    (https://docs.oracle.com/javase/8/docs/api/java/net/URLEncoder.html); Python's quote_plus
    differs on ``*`` (kept by Java) and ``~`` (kept by Python).
    """
    return quote_plus(text, safe="*").replace("~", "%7E")


class _JavaUtil:
    """``$util`` over Java values; each function takes any value as its ``String.valueOf`` text.

    The functions are the ones the variables reference for data transformations lists
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-mapping-template-reference.html);
    any other name fails the render rather than work here and not on AWS. A null argument
    stays null, which the renderer prints as an empty string.
    """

    FUNCTIONS: ClassVar[frozenset[str]] = frozenset(
        {"base64Decode", "base64Encode", "escapeJavaScript", "parseJson", "urlDecode", "urlEncode"}
    )

    def __getattr__(self, name: str) -> Any:
        # reached only for names the class does not define
        if name.startswith("__") or name == "keys":
            raise AttributeError(name)
        raise JavaDialectError(
            f"$util.{name} is not a function API Gateway documents "
            f"(documented: {', '.join(sorted(_JavaUtil.FUNCTIONS))})"
        )

    def escapeJavaScript(self, obj: Any) -> JavaString | None:
        if obj is None:
            return None
        return JavaString(escape_javascript(_java_str(obj)))

    def base64Encode(self, obj: Any) -> JavaString | None:
        if obj is None:
            return None
        return JavaString(base64.b64encode(_java_str(obj).encode("utf-8")).decode("ascii"))

    def base64Decode(self, obj: Any) -> JavaString | None:
        if obj is None:
            return None
        return JavaString(base64.b64decode(_java_str(obj), validate=True).decode("utf-8"))

    def urlEncode(self, obj: Any) -> JavaString | None:
        if obj is None:
            return None
        return JavaString(url_encode(_java_str(obj)))

    def urlDecode(self, obj: Any) -> JavaString | None:
        if obj is None:
            return None
        return JavaString(unquote_plus(_java_str(obj), errors="strict"))

    def parseJson(self, obj: Any) -> Any:
        if obj is None:
            return None
        return _java_value(json.loads(_java_str(obj)))


@functools.lru_cache(maxsize=256)
def _jsonpath(expression: str) -> JSONPath:
    return parse_jsonpath(expression)


_NO_DOCUMENT = object()


class _JavaInput:
    """``$input``: the payload and the method request's parameters, answered as Java values.

    ``path(x)`` and ``json(x)`` evaluate the JSONPath expression ``x`` over the payload, the
    first answering the selected value for the template to use natively, the second answering
    it as JSON text (variables reference above). A payload that is empty or not JSON selects
    nothing; one match answers that value, several answer the list of them.
    """

    def __init__(self, body: str, parameters: Mapping[str, Mapping[str, str]]) -> None:
        self._body = body
        self._parameters = parameters
        self._document: Any = _NO_DOCUMENT

    def __repr__(self) -> str:
        return "$input"

    def _select(self, expression: str) -> Any:
        if self._document is _NO_DOCUMENT:
            try:
                self._document = json.loads(self._body) if self._body else None
            except json.JSONDecodeError:
                self._document = None
        if self._document is None:
            return None
        matches = [match.value for match in _jsonpath(expression).find(self._document)]
        if not matches:
            return None
        return matches[0] if len(matches) == 1 else matches

    def params(self, name: str | None = None) -> Any:
        if not name:
            return _java_value(self._parameters)
        for location in ("path", "querystring", "header"):
            values = self._parameters.get(location) or {}
            if name in values:
                return JavaString(values[name])
        return JavaString("")

    def json(self, expression: str) -> JavaString:
        selected = self._select(expression or "$")
        return JavaString(json.dumps("" if selected is None else selected))

    def path(self, expression: str) -> Any:
        return _json_path_value(self._select(expression))

    @property
    def body(self) -> JavaString:
        """The raw payload; an empty one reads as ``{}``."""
        return JavaString(self._body or "{}")


# A reference that resolves to null counts as an empty string while a mapping template renders:
# the engine's own evaluation of every variable expression is wrapped once, and the wrapper acts
# only inside _render, so other users of the engine in the process keep its behaviour.
_NULL_AS_EMPTY: ContextVar[bool] = ContextVar("mlgw_vtl_null_as_empty", default=False)


def _install_null_as_empty() -> None:
    engine_calculate = VariableExpression.calculate
    if getattr(engine_calculate, "mlgw_null_as_empty", False):
        return

    def calculate(self: VariableExpression, namespace: Any, loader: Any, global_namespace: Any = None) -> Any:
        value = engine_calculate(self, namespace, loader, global_namespace)
        if value is None and _NULL_AS_EMPTY.get():
            return ""
        return value

    calculate.mlgw_null_as_empty = True  # type: ignore[attr-defined]
    VariableExpression.calculate = calculate  # type: ignore[method-assign]


_install_null_as_empty()

# "#" right before a reference: the engine would read "#$" as text, so a marker that it reads as
# text goes between the two and is removed from the output. Random per process, so no payload
# can carry it.
_HASH_MARKER = f"\x00{secrets.token_hex(8)}\x00"
_HASH_BEFORE_REFERENCE = re.compile(r"#(?=\$)")
_SPACED_SET = re.compile(r"^#[ \t]+(set[ \t]*\()", re.MULTILINE)


def _source(template: str) -> str:
    return _HASH_BEFORE_REFERENCE.sub("#" + _HASH_MARKER, _SPACED_SET.sub(r"#\1", template))


@dataclass(frozen=True)
class RenderedResponse:
    """What the client receives from an integration response: body, final status, headers."""

    body: str
    status: int
    headers: dict[str, str]


@contextmanager
def _dialect_errors_surface() -> Iterator[None]:
    """Re-raise a JavaDialectError that airspeed wrapped, naming the template expression."""
    try:
        yield
    except TemplateExecutionError as error:
        if isinstance(error.__cause__, JavaDialectError):
            raise JavaDialectError(f"{error.__cause__} in {error.element.my_text()}") from error
        raise


def _no_overrides() -> JavaMap:
    """``$context.requestOverride`` and ``responseOverride`` before the template sets any.

    A template sets ``$context.requestOverride.header.<name>``, ``.path.<name>`` and
    ``.querystring.<name>``, or ``$context.responseOverride.header.<name>`` and ``.status``
    (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-override-request-response-parameters.html).
    """
    return JavaMap(
        requestOverride=JavaMap(header=JavaMap(), path=JavaMap(), querystring=JavaMap()),
        responseOverride=JavaMap(header=JavaMap(), status=0),
    )


def _render(
    template: str,
    body: str,
    *,
    path_params: Mapping[str, str] | None,
    query: Mapping[str, str] | None,
    headers: Mapping[str, str] | None,
    context: Mapping[str, Any] | None,
    stage_variables: Mapping[str, str] | None,
) -> tuple[str, JavaMap]:
    """Render ``template``; returns the text and ``$context`` as the template left it."""
    context_map = JavaMap({key: _java_value(value) for key, value in (context or {}).items()})
    context_map.update(_no_overrides())
    if not template:
        return template, context_map
    namespace = {
        "context": context_map,
        "stageVariables": _java_value(dict(stage_variables or {})),
        "input": _JavaInput(
            body,
            {
                "path": dict(path_params or {}),
                "querystring": dict(query or {}),
                "header": dict(headers or {}),
            },
        ),
        "util": _JavaUtil(),
    }
    reset = _NULL_AS_EMPTY.set(True)
    try:
        with _dialect_errors_surface():
            rendered = airspeed.Template(_source(template)).merge(namespace)
    finally:
        _NULL_AS_EMPTY.reset(reset)
    return rendered.replace(_HASH_MARKER, ""), context_map


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
    rendered, _ = _render(
        template,
        body,
        path_params=path_params,
        query=query,
        headers=headers,
        context=context,
        stage_variables=stage_variables,
    )
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
    rendered, context_map = _render(
        template,
        body,
        path_params=path_params,
        query=query,
        headers=headers,
        context=context,
        stage_variables=stage_variables,
    )
    override = context_map["responseOverride"]
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
