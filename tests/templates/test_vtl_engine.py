"""The renderer's engine layer: the variables it builds for a template and how it drives airspeed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import airspeed
import pytest

from mlgw_local.vtl import JavaDialectError, render_request, render_response

REPO = Path(__file__).resolve().parents[2]
BODY = json.dumps({"a": None, "b": True, "c": [1, {"d": None}], "e": {"f": "g"}})


def test_renderer_imports_only_its_engine_not_localstack() -> None:
    """Local mode installs airspeed-ext and jsonpath-rw for the renderer, not localstack-core."""
    code = (
        "import sys, mlgw_local.vtl; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('localstack', 'plux', 'rich')))"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "local"), str(REPO / "tests")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[]"


class TestInputPath:
    def test_a_map_prints_as_java_with_its_lists_as_json(self) -> None:
        assert render_request("$input.path('$')", BODY) == '{a=null, b=true, c=[1,{"d":null}], e={f=g}}'

    def test_one_match_is_the_value_and_several_are_a_list(self) -> None:
        assert render_request("$input.path('$.e.f').length()", BODY) == "1"
        assert render_request("$input.path('$.c[*]')", BODY) == '[1,{"d":null}]'

    def test_maps_and_lists_have_java_methods(self) -> None:
        template = (
            "$input.path('$').size() "
            "#set($m = $input.path('$.e'))#set($old = $m.put('h', 'i'))$m "
            "#set($l = $input.path('$.c'))#set($old = $l.set(0, 2))$old $l"
        )
        assert render_request(template, BODY) == '4 {f=g, h=i} 1 [2,{"d":null}]'

    def test_an_empty_or_non_json_payload_selects_nothing(self) -> None:
        for body in ("", "not json"):
            assert render_request("[$input.path('$')]", body) == "[]"


class TestInputJson:
    def test_selects_json_text(self) -> None:
        assert json.loads(render_request("$input.json('$.c[1]')", BODY)) == {"d": None}
        assert json.loads(render_request("$input.json('$')", BODY)) == json.loads(BODY)

    def test_a_path_that_selects_nothing_is_an_empty_json_string(self) -> None:
        assert render_request("$input.json('$.missing')", BODY) == '""'


class TestContext:
    def test_request_overrides_start_empty_and_a_template_sets_them(self) -> None:
        template = (
            "$context.requestOverride#set($context.requestOverride.header.h = 'v') $context.requestOverride"
        )
        assert render_request(template) == (
            "{header={}, path={}, querystring={}} {header={h=v}, path={}, querystring={}}"
        )

    def test_response_override_without_a_status_keeps_the_selected_one(self) -> None:
        rendered = render_response("#set($context.responseOverride.header.X = 'y')ok", "{}", 202)
        assert (rendered.body, rendered.status, rendered.headers) == ("ok", 202, {"X": "y"})


class TestUtil:
    @pytest.mark.parametrize("function", ["toJson", "qr", "quiet"])
    def test_an_undocumented_function_fails_the_render(self, function: str) -> None:
        with pytest.raises(JavaDialectError, match=f"util.{function} is not a function"):
            render_request(f"$util.{function}($input.body)", BODY)


class TestEngine:
    def test_a_hash_right_before_a_reference_is_text(self) -> None:
        template = "a#$stageVariables.x b#${stageVariables.x}#$stageVariables.x #$stageVariables.x"
        assert render_request(template, stage_variables={"x": "X"}) == "a#X b#X#X #X"

    def test_a_double_hash_before_a_reference_stays_a_comment(self) -> None:
        assert render_request("##$stageVariables.x\nnext", stage_variables={"x": "X"}) == "next"

    def test_a_spaced_set_directive_is_a_set_and_other_text_is_kept(self) -> None:
        assert render_request('# set($a = "v")$a') == "v"
        assert render_request("# settings") == "# settings"

    def test_null_is_an_empty_string_while_rendering_only(self) -> None:
        template = "#set($x = $input.path('$.missing'))#if($x == '')empty#{else}null#end"
        assert render_request(template, BODY) == "empty"
        # the engine itself, outside the renderer, keeps null distinct from ""
        assert airspeed.Template("#if($nope == '')empty#{else}null#end").merge({}) == "null"
