"""IAM rules of the conformance layer: each plan of a minimal breaking configuration fails naming
the rule, and the fixed configuration plans."""

from __future__ import annotations

import pytest

from tfharness import Workspace

pytestmark = pytest.mark.terraform

TRUST = 'jsonencode({ Version = "2012-10-17", Statement = [] })'


def _role(arguments: str, name: str = "r") -> str:
    return f"""
resource "aws_iam_role" "{name}" {{
  assume_role_policy = {TRUST}
{arguments}
}}
"""


# ---------------------------------------------------------------- iam.role-name-prefix-length


def test_a_name_prefix_longer_than_38_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_role(f'  name_prefix = "{"p" * 39}"')))
    assert "iam.role-name-prefix-length" in error
    assert "name_prefix is 39 characters: at most 38" in error


def test_a_name_prefix_with_other_characters_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_role('  name_prefix = "ml/predict-"')))
    assert "iam.role-name-prefix-length" in error
    assert "only letters, digits and _+=,.@-" in error


def test_a_name_prefix_of_38_plans(tf: Workspace) -> None:
    assert tf.plan(tf.inline(_role(f'  name_prefix = "{"p" * 38}"'))).resources


# ---------------------------------------------------------------- iam.permissions-boundary-policy-arn


def test_a_boundary_that_is_not_a_managed_policy_is_rejected(tf: Workspace) -> None:
    hcl = _role('  name = "r"\n  permissions_boundary = "arn:aws:iam::123456789012:role/boundary"')
    error = tf.plan_error(tf.inline(hcl))
    assert "iam.permissions-boundary-policy-arn" in error
    assert "is not a managed policy ARN" in error


@pytest.mark.parametrize(
    "boundary",
    ["arn:aws:iam::123456789012:policy/boundary", "arn:aws:iam::aws:policy/PowerUserAccess"],
)
def test_a_managed_policy_boundary_plans(tf: Workspace, boundary: str) -> None:
    assert tf.plan(tf.inline(_role(f'  name = "r"\n  permissions_boundary = "{boundary}"'))).resources


# ---------------------------------------------------------------- iam.role-name-unique

TWO_REGIONS = """
provider "aws" {
  region = "us-east-1"
}

provider "aws" {
  alias  = "west"
  region = "us-west-2"
}
"""


def _two_regions(east: str, west: str, west_provider: str = "aws.west") -> str:
    return (
        TWO_REGIONS
        + _role(f'  name = "{east}"', "east")
        + _role(f'  name = "{west}"\n  provider = {west_provider}', "west")
    )


def test_one_role_name_in_two_regions_of_one_account_is_rejected(tf: Workspace) -> None:
    # The defect of issue 11: names without the region collide across regions of one account.
    error = tf.plan_error(tf.inline(_two_regions("churn-predict", "churn-predict")))
    assert "iam.role-name-unique" in error
    assert "aws_iam_role.west" in error
    assert "unique per account, whatever the region or letter case" in error


def test_role_names_differing_only_in_case_are_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_two_regions("churn-predict", "Churn-Predict")))
    assert "iam.role-name-unique" in error


def test_region_safe_role_names_plan(tf: Workspace) -> None:
    assert tf.plan(tf.inline(_two_regions("churn-predict-us-east-1", "churn-predict-us-west-2"))).resources


def test_one_role_name_for_another_account_plans(tf: Workspace) -> None:
    # A provider with other credentials may be another account: not compared.
    hcl = (
        TWO_REGIONS
        + """
provider "aws" {
  alias  = "prod"
  region = "us-east-1"
  assume_role {
    role_arn = "arn:aws:iam::210987654321:role/deploy"
  }
}
"""
        + _role('  name = "churn-predict"', "east")
        + _role('  name = "churn-predict"\n  provider = aws.prod', "prod")
    )
    assert tf.plan(tf.inline(hcl)).resources


_MODULE_TWICE = """
provider "aws" {{
  region = "us-east-1"
}}

provider "aws" {{
  alias  = "west"
  region = "us-west-2"
}}

module "east" {{
  source   = "../../modules/lambda-function"
  name     = "churn-predict"
  handler  = "mlgw.handlers.predict.lambda_handler"
  package  = {{ filename = "build/shared.zip", source_code_hash = "abc=" }}
  iam_role = {iam_role}
}}

module "west" {{
  source    = "../../modules/lambda-function"
  providers = {{ aws = aws.west }}
  name      = "churn-predict"
  handler   = "mlgw.handlers.predict.lambda_handler"
  package   = {{ filename = "build/shared.zip", source_code_hash = "abc=" }}
  iam_role  = {iam_role}
}}
"""


def test_the_module_in_two_regions_with_one_role_name_is_rejected(tf: Workspace) -> None:
    error = tf.plan_error(tf.inline(_MODULE_TWICE.format(iam_role='{ name = "churn-predict" }')))
    assert "iam.role-name-unique" in error
    assert "module.west.aws_iam_role.this[0]" in error


def test_the_module_in_two_regions_with_its_default_names_plans(tf: Workspace) -> None:
    plan = tf.plan(tf.inline(_MODULE_TWICE.format(iam_role="{}")))
    assert plan.resource("module.east.aws_iam_role.this[0]")["name"] == "churn-predict-us-east-1"
    assert plan.resource("module.west.aws_iam_role.this[0]")["name"] == "churn-predict-us-west-2"
