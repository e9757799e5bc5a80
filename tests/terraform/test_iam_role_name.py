"""The role naming every module shares: region in every name, a path hash outside "/"."""

from __future__ import annotations

import pytest

from tfharness import Workspace

pytestmark = pytest.mark.terraform

MODULE = "modules/iam-role-name"


def _names(tf: Workspace, **tf_vars: object) -> dict[str, str]:
    return tf.plan(MODULE, {"region": "eu-west-1", **tf_vars}).outputs["names"]


def test_names_carry_the_region(tf: Workspace) -> None:
    assert _names(tf, bases={"fn": "churn-predict"}) == {"fn": "churn-predict-eu-west-1"}


def test_a_path_other_than_root_changes_the_name_so_a_replacement_can_be_created_first(tf: Workspace) -> None:
    # The provider replaces a role whose path changes; IAM names are unique whatever the path,
    # so the replacement needs another name to be created before the old role goes.
    one = _names(tf, bases={"fn": "churn-predict"}, role={"path": "/ml/"})["fn"]
    two = _names(tf, bases={"fn": "churn-predict"}, role={"path": "/ml-gateway/"})["fn"]
    assert one.startswith("churn-predict-eu-west-1-")
    assert len({one, two, "churn-predict-eu-west-1"}) == 3


def test_long_bases_are_cut_to_64_characters_and_stay_distinct(tf: Workspace) -> None:
    bases = {"a": "x" * 60 + "-one", "b": "x" * 60 + "-two"}
    names = _names(tf, bases=bases, role={"path": "/ml/"})
    assert {len(n) for n in names.values()} == {64}
    assert names["a"] != names["b"]
    suffix = names["a"][-len("-eu-west-1-123456") :]
    assert suffix.startswith("-eu-west-1-")
    assert names["b"].endswith(suffix)
