"""The ratings route's request and response templates, rendered as API Gateway would."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from mlgw_local.vtl import render_request, render_response

REQUEST_ID = "c0ffee00-1234-4cde-8f00-0123456789ab"


@pytest.fixture(scope="module")
def request_template(read_template: Callable[[str], str]) -> str:
    return read_template("ratings_request.vtl")


@pytest.fixture(scope="module")
def response_template(read_template: Callable[[str], str]) -> str:
    return read_template("ratings_response.vtl")


def model_input(template: str, user_id: str, items: str) -> Any:
    return json.loads(render_request(template, path_params={"user_id": user_id}, query={"items": items}))


def instances(user_id: int, items: list[int]) -> dict[str, Any]:
    return {"instances": [{"in0": [user_id], "in1": [item]} for item in items]}


def answer(
    template: str,
    predictions: Any,
    user_id: str = "321",
    items: str = "101,131,162",
    request_id: str = REQUEST_ID,
) -> tuple[int, Any]:
    rendered = render_response(
        template,
        json.dumps({"predictions": predictions}),
        200,
        path_params={"user_id": user_id},
        query={"items": items},
        context={"requestId": request_id},
    )
    return rendered.status, json.loads(rendered.body)


class TestRequest:
    def test_issue_example(self, request_template: str) -> None:
        assert model_input(request_template, "321", "101,131,162") == instances(321, [101, 131, 162])

    def test_single_item(self, request_template: str) -> None:
        assert model_input(request_template, "321", "101") == instances(321, [101])

    def test_whitespace_around_ids_is_ignored(self, request_template: str) -> None:
        assert model_input(request_template, " 321 ", " 101 ,\t131 , 162 ") == instances(321, [101, 131, 162])

    @pytest.mark.parametrize(
        ("items", "expected"),
        [
            ("101,,131", [101, 131]),
            ("101,131,", [101, 131]),
            ("101,131,,,", [101, 131]),
            (",101", [101]),
            (",", []),
            ("", []),
            ("  ", []),
        ],
    )
    def test_empty_elements_are_dropped(self, request_template: str, items: str, expected: list[int]) -> None:
        assert model_input(request_template, "321", items) == instances(321, expected)

    def test_repeated_items_are_kept_in_order(self, request_template: str) -> None:
        assert model_input(request_template, "7", "5,3,5") == instances(7, [5, 3, 5])

    @pytest.mark.parametrize(
        "crafted",
        [
            '101"]}, {"in0": [1], "in1": [2',
            "101]}]}",
            "{}",
            "[1]",
            "'1'",
            '"1"',
            "1\\",
            "1\\u0022",
            "1e3",
            "1.5",
            "-1",
            "+1",
            "0x1F",
            "007",
            "101 131",
            "1\n2",
            "\uff11\uff12",  # fullwidth digits
            "\u0661\u0662",  # Arabic-Indic digits
            "1234567890123456",
            "null",
            "$input.body",
            "#set($x = 1)",
        ],
    )
    def test_anything_but_a_canonical_integer_is_dropped(self, request_template: str, crafted: str) -> None:
        assert model_input(request_template, "321", f"101,{crafted},162") == instances(321, [101, 162])

    @pytest.mark.parametrize("user_id", ['1"', "1]}", "abc", "-1", "01", "1.0", "", "1 2"])
    def test_invalid_user_id_sends_no_instance(self, request_template: str, user_id: str) -> None:
        assert model_input(request_template, user_id, "101,131") == {"instances": []}

    def test_limits_of_the_id_rule(self, request_template: str) -> None:
        largest = "9" * 15
        assert model_input(request_template, "0", f"0,{largest},1{largest}") == instances(
            0, [0, int(largest)]
        )

    def test_items_come_from_the_query_string_not_a_header(self, request_template: str) -> None:
        rendered = render_request(
            request_template, path_params={"user_id": "1"}, query={"items": "2"}, headers={"items": "3"}
        )
        assert json.loads(rendered) == instances(1, [2])


class TestResponse:
    def test_issue_example(self, response_template: str) -> None:
        predictions = [
            {"scores": [3.527499437332153]},
            {"scores": [3.951640844345093]},
            {"scores": [3.658416271209717]},
        ]
        assert answer(response_template, predictions) == (
            200,
            {"ratings": [3.527499437332153, 3.951640844345093, 3.658416271209717], "items": [101, 131, 162]},
        )

    def test_factorization_machines_shape(self, response_template: str) -> None:
        predictions = [{"score": 4.2}, {"score": 1}, {"score": -0.5}]
        assert answer(response_template, predictions) == (
            200,
            {"ratings": [4.2, 1, -0.5], "items": [101, 131, 162]},
        )

    def test_single_item(self, response_template: str) -> None:
        assert answer(response_template, [{"scores": [2.5]}], items="131") == (
            200,
            {"ratings": [2.5], "items": [131]},
        )

    def test_exponent_scores_stay_numbers(self, response_template: str) -> None:
        status, body = answer(response_template, [{"scores": [1e-07]}, {"scores": [2.5e10]}], items="1,2")
        assert (status, body) == (200, {"ratings": [1e-07, 2.5e10], "items": [1, 2]})

    def test_items_name_what_was_scored_when_some_were_dropped(self, response_template: str) -> None:
        status, body = answer(response_template, [{"scores": [3.0]}, {"scores": [4.0]}], items='101,"x",,162')
        assert (status, body) == (200, {"ratings": [3.0, 4.0], "items": [101, 162]})

    @pytest.mark.parametrize(
        ("user_id", "items"),
        [("321", "101,131,162"), (" 4 ", " 1 ,, 2,"), ("5", "1,x,2,007,3"), ("x", "1"), ("6", "")],
    )
    def test_response_items_are_exactly_the_requested_instances(
        self, request_template: str, response_template: str, user_id: str, items: str
    ) -> None:
        sent = [instance["in1"][0] for instance in model_input(request_template, user_id, items)["instances"]]
        status, body = answer(
            response_template, [{"scores": [1.0]}] * len(sent), user_id=user_id, items=items
        )
        if sent:
            assert (status, body["items"]) == (200, sent)
        else:
            assert status == 400

    @pytest.mark.parametrize(("user_id", "items"), [("abc", "101"), ("321", ""), ("321", "a,b"), ("", "101")])
    def test_nothing_valid_to_rate_is_a_bad_request(
        self, response_template: str, user_id: str, items: str
    ) -> None:
        assert answer(response_template, [], user_id=user_id, items=items) == (
            400,
            {
                "message": "user_id and items must be non-negative integers, items separated by commas",
                "code": "BadRequest",
                "requestId": REQUEST_ID,
            },
        )

    @pytest.mark.parametrize(
        "predictions",
        [
            [{"scores": [1.0]}, {"scores": [2.0]}],
            [{"scores": [1.0]}, {"scores": [2.0]}, {"scores": [3.0]}, {"scores": [4.0]}],
            [],
            [{"scores": [1.0]}, {"scores": ["high"]}, {"scores": [3.0]}],
            [{"scores": [1.0]}, {"scores": [None]}, {"scores": [3.0]}],
            [{"scores": [1.0]}, {"scores": []}, {"scores": [3.0]}],
            [{"scores": [1.0]}, {"label": 2}, {"scores": [3.0]}],
            [{"scores": [1.0]}, {"score": {"value": 2}}, {"scores": [3.0]}],
            "not a list",
            None,
        ],
    )
    def test_a_model_answer_that_does_not_fit_is_a_model_error(
        self, response_template: str, predictions: Any
    ) -> None:
        assert answer(response_template, predictions) == (
            502,
            {
                "message": "The model returned predictions that do not match the requested items.",
                "code": "ModelError",
                "requestId": REQUEST_ID,
            },
        )

    def test_a_body_without_predictions_is_a_model_error(self, response_template: str) -> None:
        rendered = render_response(
            response_template,
            "<html>gateway page</html>",
            200,
            path_params={"user_id": "1"},
            query={"items": "2"},
            context={"requestId": REQUEST_ID},
        )
        assert (rendered.status, json.loads(rendered.body)["code"]) == (502, "ModelError")

    def test_request_id_is_escaped(self, response_template: str) -> None:
        crafted = 'id"}, "code": "x\\\'/é'
        status, body = answer(response_template, [], user_id="x", request_id=crafted)
        assert (status, body["requestId"], body["code"]) == (400, crafted, "BadRequest")
