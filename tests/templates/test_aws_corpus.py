"""The renderer against output that real API Gateway gave for the same template and input.

Each case of ``aws_corpus.json`` was recorded by a public test suite against API Gateway and
cites the repository, commit and files of the recording and when it was made. A case the
renderer cannot match yet stays as a strict xfail with its reason, so a fix shows up as an
unexpected pass and the reason must go.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from mlgw_local.vtl import render_request

CORPUS = json.loads((Path(__file__).with_name("aws_corpus.json")).read_text(encoding="utf-8"))["cases"]


def _render(case: dict[str, Any]) -> str:
    if case["kind"] == "variables":
        # As recorded: a line of #set directives gives each variable its value from
        # $util.parseJson of the request body, then the template follows on the next line.
        variables = case["variables"]
        prefix = "#set($bodyJSON = $util.parseJson($input.body))" + "".join(
            f"#set(${name} = $bodyJSON.{name})" for name in variables
        )
        return render_request(f"{prefix}\n{case['template']}", json.dumps(variables))
    request = case["request"]
    return render_request(
        case["template"],
        request.get("body", ""),
        path_params=request.get("path"),
        query=request.get("query"),
        headers=request.get("headers"),
        context=request.get("context"),
    )


def _params() -> list[Any]:
    params = []
    for case in CORPUS:
        marks = [pytest.mark.xfail(reason=case["xfail"], strict=True)] if "xfail" in case else []
        params.append(pytest.param(case, id=case["id"], marks=marks))
    return params


def test_corpus_is_large_and_cited() -> None:
    passing = [case for case in CORPUS if "xfail" not in case]
    assert len(passing) >= 50
    for case in CORPUS:
        source = case["source"]
        assert source["repository"], case["id"]
        assert source["commit"], case["id"]
        assert source["files"], case["id"]
        assert case["recorded"], case["id"]


@pytest.mark.parametrize("case", _params())
def test_renderer_matches_recorded_output(case: dict[str, Any]) -> None:
    rendered = _render(case)
    if case["compare"] == "json":
        assert json.loads(rendered) == case["expected"]
    elif case["compare"] == "whitespace":
        assert re.sub(r"\s+", " ", rendered).strip() == case["expected"]
    else:
        assert rendered == case["expected"]
