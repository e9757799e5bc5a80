"""The renderer's shims: where a Python Velocity engine differs from API Gateway's Java Velocity."""

from __future__ import annotations

import json
from typing import ClassVar

import pytest
from airspeed.operators import TemplateExecutionError

from mlgw_local.vtl import (
    AmbiguousSelectionError,
    JavaDialectError,
    JavaString,
    RenderedResponse,
    escape_javascript,
    render_request,
    render_response,
    select_integration_response,
)


class TestJavaString:
    def test_trim_strips_control_characters_and_spaces_only(self) -> None:
        assert JavaString(" \t\x00a b\r\n").trim() == "a b"
        assert JavaString("\u00a0a\u2003").trim() == "\u00a0a\u2003"

    @pytest.mark.parametrize(
        ("text", "regex", "expected"),
        [
            ("a,,b,", ",", ["a", "", "b"]),
            ("a,b,,,", ",", ["a", "b"]),
            (",a", ",", ["", "a"]),
            (",", ",", []),
            ("", ",", [""]),
            ("abc", ",", ["abc"]),
            ("a1b22c", "[0-9]+", ["a", "b", "c"]),
            ("ab", "", ["a", "b"]),
        ],
    )
    def test_split_follows_java(self, text: str, regex: str, expected: list[str]) -> None:
        parts = JavaString(text).split(regex)
        assert parts == expected
        assert all(isinstance(part, JavaString) for part in parts)

    def test_matches_is_a_whole_string_ascii_match(self) -> None:
        assert JavaString("123").matches("[0-9]+")
        assert not JavaString("123a").matches("[0-9]+")
        assert not JavaString("a123").matches("[0-9]+")
        assert not JavaString("\u0661\u0662\u0663").matches("\\d+")

    def test_replace_all_reads_java_replacements(self) -> None:
        assert JavaString("it\\'s").replaceAll("\\\\'", "'") == "it's"
        assert JavaString("a-b").replaceAll("([a-z])-([a-z])", "$2-$1") == "b-a"
        assert JavaString("a").replaceAll("a", "\\$1") == "$1"

    def test_methods_java_lacks_are_refused(self) -> None:
        with pytest.raises(JavaDialectError, match="strip"):
            JavaString(" a ").strip()


class TestRenderer:
    def test_python_only_methods_fail_the_render(self) -> None:
        with pytest.raises(JavaDialectError):
            render_request("$input.params('q').strip()", query={"q": " a "})

    def test_java_string_methods_render(self) -> None:
        template = "#foreach($p in $input.params('q').split(','))[$p.trim()]#end"
        assert render_request(template, query={"q": " a ,,b,,"}) == "[a][][b]"

    def test_params_take_the_first_location_holding_the_name_even_when_empty(self) -> None:
        template = "[$input.params('x')]"
        assert render_request(template, path_params={"x": "p"}, query={"x": "q"}) == "[p]"
        assert render_request(template, query={"x": ""}, headers={"x": "h"}) == "[]"
        assert render_request(template, headers={"x": "h"}) == "[h]"
        assert render_request(template) == "[]"

    def test_context_and_stage_variables_are_java_strings(self) -> None:
        template = "$context.requestId.matches('[a-f0-9-]+') $stageVariables.variant.trim()"
        rendered = render_request(
            template, context={"requestId": "ab-12"}, stage_variables={"variant": " v1 "}
        )
        assert rendered == "true v1"

    def test_response_overrides(self) -> None:
        template = (
            "#set($context.responseOverride.status = 418)"
            "#set($context.responseOverride.header.Location = '/x')x"
        )
        assert render_response(template, "", 200) == RenderedResponse(
            body="x", status=418, headers={"Location": "/x"}
        )
        assert render_response("y", "", 502) == RenderedResponse(body="y", status=502, headers={})

    def test_escaping_a_missing_value_renders_nothing(self) -> None:
        assert render_request("[$util.escapeJavaScript($context.missing)]") == "[]"

    def test_response_template_reads_the_method_request(self) -> None:
        rendered = render_response(
            "$input.params('id') $input.json('$.a')", '{"a": [1]}', 200, path_params={"id": "7"}
        )
        assert rendered.body == "7 [1]"


class TestRequestValuesAreJavaValues:
    """$util functions, String methods and printing on values from the request and context."""

    QUERY: ClassVar[dict[str, str]] = {"q": "a b~*&é", "b64": "aGVsbG8gw6k=", "enc": "a+b%7E%2A%C3%A9"}

    @pytest.mark.parametrize(
        ("expression", "expected"),
        [
            ("$util.base64Encode($input.params('q'))", "YSBifiomw6k="),
            ("$util.base64Decode($input.params('b64'))", "hello é"),
            # URLEncoder keeps * and encodes ~, unlike Python's quote_plus
            ("$util.urlEncode($input.params('q'))", "a+b%7E*%26%C3%A9"),
            ("$util.urlDecode($input.params('enc'))", "a b~*é"),
            ("$util.urlEncode($context.requestId)", "id%2F1"),
            ("$util.base64Encode($input.json('$.a'))", "InhcIiI="),
            ("$util.urlEncode($input.path('$.a'))", "x%22"),
            ("$util.escapeJavaScript($input.path('$.a'))", 'x\\"'),
            ("$util.parseJson($input.json('$')).a", 'x"'),
            ("$util.parseJson($input.body)", '{a=x", n=null, l=[1, true]}'),
        ],
    )
    def test_util_functions_take_request_values(self, expression: str, expected: str) -> None:
        body = '{"a": "x\\"", "n": null, "l": [1, true]}'
        rendered = render_request(expression, body, query=self.QUERY, context={"requestId": "id/1"})
        assert rendered == expected

    @pytest.mark.parametrize(
        ("expression", "expected"),
        [
            ("$input.params('s').length()", "7"),
            ("$input.params('e').length()", "2"),
            ("$input.params('s').isEmpty() $input.params('none').isEmpty()", "false true"),
            ("$input.params('s').contains('B.c')", "true"),
            ("$input.params('s').equals('aB.cDe ') $input.params('s').equals(7)", "true false"),
            ("$input.params('s').toString()", "aB.cDe "),
            ("$input.params('s').substring(1, 4) $input.params('s').substring(3)", "B.c cDe "),
            ("$input.params('s').indexOf('c') $input.params('s').indexOf('z')", "3 -1"),
            ("$input.params('s').startsWith('aB') $input.params('s').endsWith('e ')", "true true"),
            ("$input.params('s').replace('.', '-')", "aB-cDe "),
            ("$input.params('s').toLowerCase()$input.params('s').toUpperCase()", "ab.cde AB.CDE "),
            ("$input.params('s').trim().length()", "6"),
            ("$context.stage.toUpperCase()", "PROD"),
            ("$input.json('$.a').length()", "5"),
            ("$input.path('$.a').substring(1)", '"'),
        ],
    )
    def test_java_string_methods(self, expression: str, expected: str) -> None:
        body = '{"a": "x\\""}'
        query = {"s": "aB.cDe ", "e": "😀"}
        assert render_request(expression, body, query=query, context={"stage": "prod"}) == expected

    def test_out_of_range_substring_fails_the_render(self) -> None:
        with pytest.raises(TemplateExecutionError, match="out of range"):
            render_request("$input.params('s').substring(2, 1)", query={"s": "abc"})

    def test_maps_and_lists_print_as_java_does(self) -> None:
        template = (
            "$input.params()|$input.params().querystring|$input.params().header.keySet()|"
            "$context.identity|$context.authorizer"
        )
        context = {
            "identity": {"sourceIp": "192.0.2.1", "user": None},
            "authorizer": {"claims": {"sub": "u1"}, "scopes": ["a", "b"], "admin": False},
        }
        query = {"a": "b", "c": "d"}
        rendered = render_request(template, path_params={"id": "7"}, query=query, context=context)
        assert rendered == (
            "{path={id=7}, querystring={a=b, c=d}, header={}}|{a=b, c=d}|[]|"
            "{sourceIp=192.0.2.1, user=null}|{claims={sub=u1}, scopes=[a, b], admin=false}"
        )

    def test_java_maps_have_java_methods(self) -> None:
        template = (
            "$input.params().querystring.size() $input.params().querystring.containsKey('a') "
            "$input.params().querystring.get('a') #foreach($k in $input.params().querystring.keySet())$k#end"
        )
        assert render_request(template, query={"a": "b", "c": "d"}) == "2 true b ac"

    def test_template_whitespace_is_kept(self) -> None:
        assert render_request("\n $input.params('a') \n", query={"a": "b"}) == "\n b \n"


class TestEscapeJavaScript:
    @pytest.mark.parametrize(
        ("raw", "escaped"),
        [
            ("plain-id", "plain-id"),
            ("", ""),
            ("it's", "it\\'s"),
            ('say "hi"', 'say \\"hi\\"'),
            ("a/b\\c", "a\\/b\\\\c"),
            ("\b\t\n\f\r", "\\b\\t\\n\\f\\r"),
            ("\x00\x1f\x7f", "\\u0000\\u001F\x7f"),
            ("é", "\\u00E9"),
            ("\u2028", "\\u2028"),
            ("😀", "\\uD83D\\uDE00"),
        ],
    )
    def test_commons_lang_semantics(self, raw: str, escaped: str) -> None:
        assert escape_javascript(raw) == escaped

    @pytest.mark.parametrize("raw", ["it's", 'a"b', "\\", "\\'", "x\\\\'y", "</script>", "é😀\n", "   "])
    def test_documented_idiom_yields_a_json_string(self, raw: str) -> None:
        template = '"$util.escapeJavaScript($input.params(\'v\')).replaceAll("\\\\\'", "\'")"'
        assert json.loads(render_request(template, query={"v": raw})) == raw


class TestSelection:
    PATTERNS: ClassVar[dict[str, str | None]] = {"ok": None, "five": "5", "client": "4[0-9]{2}"}

    def test_patterns_match_the_whole_value(self) -> None:
        assert select_integration_response(self.PATTERNS, "503") == "ok"
        assert select_integration_response(self.PATTERNS, "5") == "five"
        assert select_integration_response(self.PATTERNS, "404") == "client"
        assert select_integration_response(self.PATTERNS, "4040") == "ok"

    def test_overlapping_patterns_are_refused(self) -> None:
        with pytest.raises(AmbiguousSelectionError):
            select_integration_response({"ok": None, "a": "40[0-9]", "b": "4[0-9]{2}"}, "404")

    def test_exactly_one_default_is_required(self) -> None:
        with pytest.raises(ValueError, match="default"):
            select_integration_response({"a": "400"}, "500")
