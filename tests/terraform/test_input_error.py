"""``Workspace.plan_error`` finds inputs a directory's own validation rules reject by planning
its ``variables.tf`` alone (``Workspace.input_error``), where those rules decide alone as they
do in a plan of the directory, and plans the directory itself for every other failure, or when
asked for the whole plan's diagnostics."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tfharness import PlanFailed, Workspace

pytestmark = pytest.mark.terraform

SIZE = """
variable "size" {
  type    = number
  default = 1

  validation {
    condition     = var.size <= 10
    error_message = "size must be at most 10."
  }
}
"""

# Terraform 1.9 lets a rule refer to other objects of its module, here a local value that
# the declarations alone do not hold (https://github.com/hashicorp/terraform/pull/34955) ...
LOCAL_CEILING = """
variable "count_limit" {
  type    = number
  default = 1

  validation {
    condition     = var.count_limit <= local.ceiling
    error_message = "count_limit must be at most the ceiling."
  }
}
"""

# A rule that fails to evaluate once it has the values, along with the other rules' verdicts.
UNREADABLE_CEILING = (
    LOCAL_CEILING.replace("local.ceiling", "tonumber(var.ceiling)")
    + """
variable "ceiling" {
  type    = string
  default = "five"
}
"""
)

# A rule that reads a file beside the declarations, which a copy of them would not find.
FILE_RULE = """
variable "limits_file" {
  type    = string
  default = "limits.json"

  validation {
    condition     = fileexists("${path.module}/${var.limits_file}")
    error_message = "limits_file must name a file of the module."
  }
}
"""


# Its default breaks its rule: only a value from a variables file passes.
MODE = """
variable "mode" {
  type    = string
  default = "bad"

  validation {
    condition     = var.mode == "good"
    error_message = "mode must be good."
  }
}
"""


def _root(tf: Workspace, name: str, main: str, variables: str) -> str:
    """A scratch root of its own (``name`` keeps it apart from other tests' roots)."""
    rel = tf.inline(f"# {name}\n{main}")
    (tf.path(rel) / "variables.tf").write_text(variables, encoding="utf-8")
    return rel


@pytest.fixture
def planned(tf: Workspace, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The directories Terraform plans in, in order."""
    seen: list[Path] = []
    run = tf.run

    def recording(args: list[str], root: Path, env: object = None) -> object:
        if args[0] == "plan":
            seen.append(root)
        return run(args, root, env)  # type: ignore[arg-type]

    monkeypatch.setattr(tf, "run", recording)
    return seen


def _diagnostics(text: str) -> list[str]:
    """The diagnostics of a failed plan's text, without the progress lines before them."""
    return sorted("Error: " + block.strip() for block in text.split("Error: ")[1:])


def test_an_input_its_rule_rejects_gets_the_diagnostics_of_a_plan_of_the_directory(
    tf: Workspace, planned: list[Path]
) -> None:
    rel = _root(tf, "rejected", 'output "size" {\n  value = var.size\n}\n', SIZE)

    rejected = tf.input_error(rel, {"size": 11})

    assert rejected is not None
    assert "size must be at most 10." in rejected
    with pytest.raises(PlanFailed) as full:
        tf.plan(rel, {"size": 11})
    assert _diagnostics(rejected) == _diagnostics(str(full.value))
    del planned[:]
    assert tf.plan_error(rel, {"size": 11}) == rejected
    assert tf.path(rel) not in planned, "the declarations alone were enough"


def test_the_root_modules_rejected_name_reads_as_a_plan_of_the_root_reports_it(tf: Workspace) -> None:
    rejected = tf.input_error(".", {"name": "Not A Name"})

    assert rejected is not None
    assert rejected.startswith("plan of . failed on its own input rules")
    assert re.search(
        r"Error: Invalid value for variable on variables\.tf line \d+: \d+: variable \"name\"", rejected
    )
    with pytest.raises(PlanFailed) as full:
        tf.plan(".", {"name": "Not A Name"})
    assert _diagnostics(rejected) == _diagnostics(str(full.value))


def test_inputs_the_rules_accept_leave_the_failure_to_a_plan_of_the_directory(
    tf: Workspace, planned: list[Path]
) -> None:
    main = """
output "size" {
  value = var.size

  precondition {
    condition     = var.size != 3
    error_message = "size 3 is taken."
  }
}
"""
    rel = _root(tf, "accepted", main, SIZE)

    assert tf.input_error(rel, {"size": 3}) is None
    assert "size 3 is taken." in tf.plan_error(rel, {"size": 3})
    assert planned[-1] == tf.path(rel)


def test_a_rule_naming_more_than_the_variables_is_checked_by_a_plan_of_the_directory(tf: Workspace) -> None:
    rel = _root(tf, "local-ceiling", "locals {\n  ceiling = 5\n}\n", SIZE + LOCAL_CEILING)

    assert tf.input_error(rel, {"count_limit": 6}) is None
    assert "count_limit must be at most the ceiling." in tf.plan_error(rel, {"count_limit": 6})


def test_a_rule_that_fails_to_evaluate_leaves_every_rule_to_a_plan_of_the_directory(tf: Workspace) -> None:
    rel = _root(
        tf, "unreadable-ceiling", 'output "size" {\n  value = var.size\n}\n', SIZE + UNREADABLE_CEILING
    )

    # size breaks its own rule, and count_limit's rule cannot be evaluated: both are the
    # directory's plan's to report.
    assert tf.input_error(rel, {"size": 11, "count_limit": 6}) is None
    error = tf.plan_error(rel, {"size": 11, "count_limit": 6})
    assert "size must be at most 10." in error
    assert 'Invalid value for "v" parameter: cannot convert "five" to number' in error


def test_declarations_that_read_files_are_not_planned_alone(tf: Workspace) -> None:
    rel = _root(tf, "file-rule", 'output "size" {\n  value = var.size\n}\n', SIZE + FILE_RULE)
    (tf.path(rel) / "limits.json").write_text("{}", encoding="utf-8")

    # Alone, the declarations would not find limits.json and would reject limits_file too.
    assert tf.input_error(rel, {"size": 11}) is None
    error = tf.plan_error(rel, {"size": 11})
    assert "size must be at most 10." in error
    assert "limits_file must name a file of the module." not in error


def test_a_directory_without_declarations_is_planned_itself(tf: Workspace) -> None:
    rel = tf.inline('# undeclared\noutput "size" {\n  value = var.size\n}\n')

    assert tf.input_error(rel, {"size": 11}) is None
    assert "Reference to undeclared input variable" in tf.plan_error(rel)


def test_a_directory_that_does_not_validate_is_planned_itself(tf: Workspace) -> None:
    # Terraform stops a plan of a configuration that does not validate before any rule runs.
    main = 'output "size" {\n  value = aws_sqs_queue.missing.arn\n}\n'
    rel = _root(tf, "broken", main, SIZE)

    assert tf.input_error(rel, {"size": 11}) is None
    error = tf.plan_error(rel, {"size": 11})
    assert "Reference to undeclared resource" in error
    assert "size must be at most 10." not in error


def test_a_directory_declaring_variables_elsewhere_is_planned_itself(tf: Workspace) -> None:
    # Its plan stops on the variable left without a value before any rule runs.
    main = 'variable "region" {\n  type = string\n}\n\noutput "size" {\n  value = var.size\n}\n'
    rel = _root(tf, "declared-elsewhere", main, SIZE)

    assert tf.input_error(rel, {"size": 11}) is None
    assert "No value for required variable" in tf.plan_error(rel, {"size": 11})


def test_the_variables_files_terraform_loads_itself_are_read_with_the_declarations(
    tf: Workspace, planned: list[Path]
) -> None:
    rel = _root(tf, "auto-vars", 'output "size" {\n  value = var.size\n}\n', SIZE + MODE)
    (tf.path(rel) / "terraform.tfvars").write_text('mode = "good"\n', encoding="utf-8")
    (tf.path(rel) / "sizes.tfvars").write_text("size = 11\n", encoding="utf-8")

    # The directory's terraform.tfvars sets mode, and a relative var file is read from it.
    error = tf.plan_error(rel, var_file="sizes.tfvars")

    assert "size must be at most 10." in error
    assert "mode must be" not in error
    assert tf.path(rel) not in planned


def test_prose_in_whole_line_comments_does_not_count_as_reading_files(
    tf: Workspace, planned: list[Path]
) -> None:
    commented = "# Sizes once came from a file (limits.json); see path.module in older releases.\n" + SIZE
    rel = _root(tf, "commented", 'output "size" {\n  value = var.size\n}\n', commented)

    assert "size must be at most 10." in tf.plan_error(rel, {"size": 11})
    assert tf.path(rel) not in planned


def test_the_other_diagnostics_of_the_same_plan_need_a_whole_plan(tf: Workspace) -> None:
    # The root's rule rejects size, and a module it calls rejects the limit it is given.
    module = tf.inline('# limited module\noutput "limit" {\n  value = var.limit\n}\n')
    limit = SIZE.replace("size", "limit").replace("<= 10", "<= 5").replace("at most 10", "at most 5")
    (tf.path(module) / "variables.tf").write_text(limit, encoding="utf-8")
    main = f'module "limited" {{\n  source = "../{module.split("/")[1]}"\n  limit  = var.limit\n}}\n'
    rel = _root(tf, "calls-limited", main, SIZE + SIZE.replace("size", "limit").replace("<= 10", "<= 100"))

    inputs = {"size": 11, "limit": 6}
    assert "limit must be at most 5." not in tf.plan_error(rel, inputs)
    whole = tf.plan_error(rel, inputs, whole=True)
    assert "size must be at most 10." in whole
    assert "limit must be at most 5." in whole


def test_declarations_beside_other_blocks_are_not_planned_alone(tf: Workspace) -> None:
    rel = _root(
        tf,
        "with-locals",
        'output "size" {\n  value = var.size\n}\n',
        SIZE + "\nlocals {\n  ceiling = 10\n}\n",
    )

    assert tf.input_error(rel, {"size": 11}) is None
    assert "size must be at most 10." in tf.plan_error(rel, {"size": 11})


def test_declarations_with_constants_are_not_planned_alone(tf: Workspace) -> None:
    constant = '\nvariable "release" {\n  type    = string\n  default = "v1"\n  const   = true\n}\n'
    rel = _root(tf, "with-const", 'output "size" {\n  value = var.size\n}\n', SIZE + constant)

    assert tf.input_error(rel, {"size": 11}) is None
    assert "size must be at most 10." in tf.plan_error(rel, {"size": 11})


def test_a_directory_broken_after_it_validated_is_validated_again(tf: Workspace) -> None:
    main = (
        'locals {\n  limits = jsondecode(file("${path.module}/limits.json"))\n}\n\n'
        'output "size" {\n  value = var.size\n}\n'
    )
    rel = _root(tf, "reads-limits", main, SIZE)
    limits = tf.path(rel) / "limits.json"
    limits.write_text("{}", encoding="utf-8")
    assert tf.input_error(rel, {"size": 11}) is not None

    limits.write_text("{", encoding="utf-8")

    assert tf.input_error(rel, {"size": 11}) is None
    assert "Error in function call" in tf.plan_error(rel, {"size": 11})
