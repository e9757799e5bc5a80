locals {
  actuals_enabled = var.actuals_reporting != null
  # Defaults mirror the handler's: siblings of the trigger prefix, never inside it.
  actuals = local.actuals_enabled ? {
    bucket              = var.actuals_reporting.bucket
    prefix              = var.actuals_reporting.prefix
    processed_prefix    = coalesce(var.actuals_reporting.processed_prefix, "${trimsuffix(var.actuals_reporting.prefix, "/")}-processed/")
    failed_prefix       = coalesce(var.actuals_reporting.failed_prefix, "${trimsuffix(var.actuals_reporting.prefix, "/")}-failed/")
    state_prefix        = coalesce(var.actuals_reporting.state_prefix, "${trimsuffix(var.actuals_reporting.prefix, "/")}-state/")
    ground_truth_bucket = coalesce(var.actuals_reporting.ground_truth.bucket, var.actuals_reporting.bucket)
    ground_truth_prefix = coalesce(var.actuals_reporting.ground_truth.prefix, "${trimsuffix(var.actuals_reporting.prefix, "/")}-ground-truth/")
    datarobot           = contains(var.actuals_reporting.sinks, "datarobot")
    model_monitor       = contains(var.actuals_reporting.sinks, "model-monitor")
  } : null
  actuals_ground_truth_endpoint = try(coalesce(var.actuals_reporting.ground_truth.endpoint_name, local.endpoint_name), null)
  actuals_creates_secret        = local.actuals_enabled && try(local.actuals.datarobot && var.actuals_reporting.token_secret_arn == null, false)
  actuals_secret_arn = !local.actuals_enabled ? null : (
    local.actuals.datarobot ? coalesce(var.actuals_reporting.token_secret_arn, try(aws_secretsmanager_secret.actuals_token[0].arn, null)) : null
  )
  actuals_function_name = "${var.name}-report-actuals"
  actuals_function_arn  = "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.actuals_function_name}"
  # Async retries of the function; the handler moves a file to the failed prefix after the last one.
  actuals_retries = 2

  actuals_write_prefixes = local.actuals_enabled ? concat(
    [local.actuals.processed_prefix, local.actuals.failed_prefix, local.actuals.state_prefix],
    local.actuals.model_monitor && local.actuals.ground_truth_bucket == local.actuals.bucket ? [local.actuals.ground_truth_prefix] : [],
  ) : []

  actuals_bucket_arn = local.actuals_enabled ? "arn:${local.partition}:s3:::${local.actuals.bucket}" : null
}

# The token is set outside Terraform so it never lands in state:
#   aws secretsmanager put-secret-value --secret-id <actuals_token_secret_arn> --secret-string "$TOKEN"
resource "aws_secretsmanager_secret" "actuals_token" {
  #checkov:skip=CKV2_AWS_57:The token is issued by the MLOps platform, which Secrets Manager cannot rotate; rotate it there and put the new value.
  #checkov:skip=CKV_AWS_149:A customer managed key is opt-in through actuals_reporting.secret_kms_key_arn; the AWS managed key encrypts it otherwise.
  count = local.actuals_creates_secret ? 1 : 0

  name        = "${var.name}/actuals-api-token"
  description = "Bearer token of the MLOps actuals API used by ${local.actuals_function_name}"
  kms_key_id  = var.actuals_reporting.secret_kms_key_arn
  # What a destroy does to the secret, and so whether its name can be created again at once:
  # see actuals_reporting in variables.tf. Secrets Manager refuses a new secret under a name
  # that is scheduled for deletion (the provider's create retries on "scheduled for deletion"
  # only briefly: https://github.com/hashicorp/terraform-provider-aws/blob/v6.47.0/internal/service/secretsmanager/secret.go).
  recovery_window_in_days = var.actuals_reporting.secret_recovery_window_in_days
  tags                    = var.tags
}

# The function, its role and its S3 trigger are wired by module.s3_pipeline (pipelines.tf).
locals {
  actuals_pipeline = !local.actuals_enabled ? null : {
    function_name      = local.actuals_function_name
    description        = "Streams actuals CSVs from s3://${local.actuals.bucket}/${local.actuals.prefix} to the monitoring sinks"
    handler            = "mlgw.handlers.report_actuals.lambda_handler"
    memory_size        = var.actuals_reporting.memory_size
    timeout            = var.actuals_reporting.timeout
    retries            = local.actuals_retries
    role               = "report_actuals"
    bucket             = local.actuals.bucket
    bucket_kms_key_arn = var.actuals_reporting.bucket_kms_key_arn
    prefix             = local.actuals.prefix
    suffixes           = [".csv"]
    write_prefixes     = local.actuals_write_prefixes
    # A long file is reported by a chain of invocations, each queueing the next with an
    # asynchronous Invoke of this function. Lambda's loop detection also stops loops made only of
    # Lambda functions invoking each other asynchronously, after about 16 invocations
    # (https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html), which would end
    # any chain longer than that; the handler bounds the chain itself (max_idle_handoffs, the
    # refusal of its own outputs) and the trigger cannot overlap the outputs (variables.tf).
    recursive_loop = "Allow"

    # The function's settings document (lambda_src/mlgw/actuals/settings.py reads it). The token
    # secret's ARN stays apart: the ARN of a secret created here is known only after apply.
    environment = merge(
      {
        MLGW_SETTINGS = jsonencode({
          bucket                = local.actuals.bucket
          prefix                = local.actuals.prefix
          processed_prefix      = local.actuals.processed_prefix
          failed_prefix         = local.actuals.failed_prefix
          state_prefix          = local.actuals.state_prefix
          on_success            = var.actuals_reporting.on_success
          bad_rows              = var.actuals_reporting.bad_rows
          sinks                 = sort(var.actuals_reporting.sinks)
          api_url               = trimsuffix(var.actuals_reporting.api_url, "/")
          report_rows           = var.actuals_reporting.report_rows
          deployment_id_pattern = var.actuals_reporting.deployment_id_pattern
          bad_rows_in_report    = var.actuals_reporting.bad_rows_in_report
          max_in_flight         = var.actuals_reporting.max_in_flight
          spool_limit_mb        = var.actuals_reporting.spool_limit_mb
          http                  = var.actuals_reporting.http
          status_poll           = var.actuals_reporting.status_poll
          dataset_path          = var.actuals_reporting.dataset_path
          time_margin_seconds   = var.actuals_reporting.time_margin_seconds
          max_attempts          = local.actuals_retries + 1
          ground_truth_bucket   = local.actuals.ground_truth_bucket
          ground_truth_prefix   = local.actuals.ground_truth_prefix
          ground_truth_endpoint = local.actuals_ground_truth_endpoint
          max_idle_handoffs     = var.actuals_reporting.max_idle_handoffs
          pacing                = var.actuals_reporting.pacing
        })
        POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
      },
      local.actuals.datarobot ? { ACTUALS_TOKEN_SECRET_ARN = local.actuals_secret_arn } : {},
    )

    policy_statements = merge(
      {
        ReadInputsAndState = {
          actions = ["s3:GetObject"]
          resources = [
            "${local.actuals_bucket_arn}/${local.actuals.prefix}*",
            "${local.actuals_bucket_arn}/${local.actuals.state_prefix}*",
          ]
        }
        WriteOutcomes = {
          actions = ["s3:PutObject"]
          resources = [
            "${local.actuals_bucket_arn}/${local.actuals.processed_prefix}*",
            "${local.actuals_bucket_arn}/${local.actuals.failed_prefix}*",
            "${local.actuals_bucket_arn}/${local.actuals.state_prefix}*",
          ]
        }
        # A move (archive, quarantine) is CopyObject, which copies the source's tags by default
        # (TaggingDirective COPY: https://docs.aws.amazon.com/AmazonS3/latest/API/API_CopyObject.html).
        # Copying a tagged object needs s3:GetObjectTagging on the source and s3:PutObjectTagging
        # on the target (https://repost.aws/knowledge-center/s3-troubleshoot-copy-between-buckets;
        # an AccessDenied without them: https://github.com/nasa/cumulus-orca/issues/530).
        ReadInputTags = {
          actions   = ["s3:GetObjectTagging"]
          resources = ["${local.actuals_bucket_arn}/${local.actuals.prefix}*"]
        }
        WriteMovedTags = {
          actions = ["s3:PutObjectTagging"]
          resources = [
            "${local.actuals_bucket_arn}/${local.actuals.processed_prefix}*",
            "${local.actuals_bucket_arn}/${local.actuals.failed_prefix}*",
          ]
        }
        # A move above 5 GB is a multipart copy (mlgw/pipeline/multipart.py); one that fails is
        # aborted so no incomplete upload is left, which needs s3:AbortMultipartUpload on the
        # target (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions).
        AbortMovedUploads = {
          actions = ["s3:AbortMultipartUpload"]
          resources = [
            "${local.actuals_bucket_arn}/${local.actuals.processed_prefix}*",
            "${local.actuals_bucket_arn}/${local.actuals.failed_prefix}*",
          ]
        }
        # The hand-off to a fresh invocation (lambda_src/mlgw/pipeline/continuation.py), on the
        # function's own unqualified ARN, built from its name so the role does not wait for it.
        HandOffToItself = {
          actions   = ["lambda:InvokeFunction"]
          resources = [local.actuals_function_arn]
        }
        # Deletes are conditional on the ETag read (If-Match), which S3 allows with s3:DeleteObject
        # and s3:GetObject on the object (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-delete-enforce.html).
        RemoveInputsAndState = {
          actions = ["s3:DeleteObject"]
          resources = [
            "${local.actuals_bucket_arn}/${local.actuals.prefix}*",
            "${local.actuals_bucket_arn}/${local.actuals.state_prefix}*",
          ]
        }
      },
      local.actuals.datarobot ? {
        ReadApiToken = {
          actions   = ["secretsmanager:GetSecretValue"]
          resources = [local.actuals_secret_arn]
        }
      } : {},
      local.actuals.model_monitor ? {
        WriteGroundTruth = {
          actions   = ["s3:PutObject"]
          resources = ["arn:${local.partition}:s3:::${local.actuals.ground_truth_bucket}/${local.actuals.ground_truth_prefix}*"]
        }
      } : {},
      var.actuals_reporting.secret_kms_key_arn == null || !local.actuals.datarobot ? {} : {
        DecryptApiToken = {
          actions   = ["kms:Decrypt"]
          resources = [var.actuals_reporting.secret_kms_key_arn]
        }
      },
    )
  }
}
