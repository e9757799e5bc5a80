# The trust policy of both roles below: API Gateway may assume them, with no condition.
# API Gateway does not put aws:SourceAccount in the request context when it assumes an
# integration's credentials role, so a StringEquals on it never matches and every request of
# the direct routes fails with "API Gateway does not have permission to assume the provided
# role" (https://github.com/aws-solutions-library-samples/accelerated-intelligent-document-processing-on-aws/pull/479).
# The account-level CloudWatch role is trusted the way AWS documents it, without conditions
# (https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html): no source
# says API Gateway sets aws:SourceAccount or aws:SourceArn for it either.
data "aws_iam_policy_document" "apigateway_assume" {
  statement {
    sid     = "ApiGatewayAssumeRole"
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["apigateway.amazonaws.com"]
    }
  }
}

# <name>-apigateway-<purpose>-<region>, and a path hash outside "/": see modules/iam-role-name.
module "role_names" {
  source = "../iam-role-name"

  bases = {
    sagemaker  = "${var.name}-apigateway-sagemaker"
    cloudwatch = "${var.name}-apigateway-cloudwatch"
  }
  region = local.region
  role   = var.iam_role
}

locals {
  create_sagemaker_role = length(local.sagemaker_routes) > 0 && var.iam_role.arn == null
  # The document names the role, so its ARN is built from the name, path, account and partition
  # (arn:<partition>:iam::<account>:role<path><name>,
  # https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns).
  # A name_prefix leaves the name to IAM: the ARN, and with it the document, is known only
  # after apply.
  sagemaker_role_arn = length(local.sagemaker_routes) == 0 ? null : (
    var.iam_role.arn != null ? var.iam_role.arn :
    var.iam_role.name_prefix != null ? aws_iam_role.sagemaker[0].arn :
    "arn:${local.partition}:iam::${local.account_id}:role${var.iam_role.path}${coalesce(var.iam_role.name, module.role_names.names["sagemaker"])}"
  )
}

# The role API Gateway assumes to call the SageMaker runtime for direct routes: InvokeEndpoint
# on the exact endpoints the routes name, nothing else.
resource "aws_iam_role" "sagemaker" {
  count = local.create_sagemaker_role ? 1 : 0

  name                 = var.iam_role.name_prefix != null ? null : coalesce(var.iam_role.name, module.role_names.names["sagemaker"])
  name_prefix          = var.iam_role.name_prefix
  path                 = var.iam_role.path
  description          = "API Gateway ${var.name}: direct SageMaker routes"
  assume_role_policy   = data.aws_iam_policy_document.apigateway_assume.json
  permissions_boundary = var.iam_role.permissions_boundary_arn
  tags                 = var.tags

  # A new name or path replaces the role: the integrations move to it before the old one is
  # deleted. A default name changes with the path (modules/iam-role-name); an explicit name
  # must change along with the path.
  lifecycle {
    create_before_destroy = true
  }
}

data "aws_iam_policy_document" "sagemaker" {
  count = length(local.sagemaker_routes) > 0 ? 1 : 0

  statement {
    sid       = "InvokeEndpoints"
    actions   = ["sagemaker:InvokeEndpoint"]
    resources = concat(sort(values(local.sagemaker_endpoint_arns)), local.sagemaker_inference_component_arns)
  }
}

resource "aws_iam_role_policy" "sagemaker" {
  count = local.create_sagemaker_role ? 1 : 0

  name   = "${var.name}-invoke-endpoints"
  role   = aws_iam_role.sagemaker[0].id
  policy = data.aws_iam_policy_document.sagemaker[0].json
}

# Account-level: the role API Gateway uses to write execution and access logs in this region.
resource "aws_iam_role" "cloudwatch" {
  count = local.create_account_cloudwatch_role ? 1 : 0

  name                 = var.iam_role.name_prefix != null ? null : module.role_names.names["cloudwatch"]
  name_prefix          = var.iam_role.name_prefix
  path                 = var.iam_role.path
  description          = "API Gateway account setting of ${local.region}: writes execution and access logs of every REST API in the region"
  assume_role_policy   = data.aws_iam_policy_document.apigateway_assume.json
  permissions_boundary = var.iam_role.permissions_boundary_arn
  tags                 = var.tags

  # Every REST API of the region logs through this role: a replacement (new name or path) is
  # created and set on the account before the old role is deleted.
  lifecycle {
    create_before_destroy = true
  }
}

# The AWS managed policy made for this role: API Gateway creates one execution log group per
# API and stage, so the policy cannot be scoped to names known here.
resource "aws_iam_role_policy_attachment" "cloudwatch" {
  count = local.create_account_cloudwatch_role ? 1 : 0

  role       = aws_iam_role.cloudwatch[0].name
  policy_arn = "arn:${local.partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
}

# One setting per account and region, shared by every REST API there. hashicorp/aws 6.x resets it
# when this resource is destroyed (https://github.com/hashicorp/terraform-provider-aws/pull/42226):
# the region's other APIs then have no role to write logs with.
resource "aws_api_gateway_account" "this" {
  count = local.create_account_cloudwatch_role ? 1 : 0

  cloudwatch_role_arn = aws_iam_role.cloudwatch[0].arn

  depends_on = [aws_iam_role_policy_attachment.cloudwatch]
}
