data "aws_partition" "current" {}
data "aws_region" "current" {}
data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id

  endpoint_name = try(var.endpoint.name, null)
  # SageMaker stores endpoint names in lower case inside ARNs, whatever case they were created with.
  endpoint_arn = local.endpoint_name == null ? null : "arn:${local.partition}:sagemaker:${local.region}:${local.account_id}:endpoint/${lower(local.endpoint_name)}"

  # The routing table as the prediction function reads it: null fields dropped, and the
  # primary endpoint filled in for sagemaker routes that name none.
  models = {
    for key, model in var.models : key => {
      for field, value in merge(model, {
        endpoint_name = model.backend == "sagemaker" ? coalesce(model.endpoint_name, local.endpoint_name) : null
      }) : field => value if value != null
    }
  }
  models_json = jsonencode(local.models)

  # A name prefix for each created role when var.iam_roles.use_name_prefix is set: at most the
  # provider's 38 characters, ending in "-" before the suffix IAM adds.
  role_name_prefixes = {
    for key in ["predict", "batch-predict", "report-actuals", "sagemaker", "apigateway"] :
    key => var.iam_roles.use_name_prefix ? "${trimsuffix(substr("${var.name}-${key}", 0, 37), "-")}-" : null
  }

  # Endpoint ARNs every sagemaker route may invoke: the prediction function's policy scope.
  model_endpoint_arns = distinct([
    for model in values(local.models) :
    "arn:${local.partition}:sagemaker:${local.region}:${local.account_id}:endpoint/${lower(model.endpoint_name)}"
    if model.backend == "sagemaker"
  ])
}
