locals {
  batch_enabled = var.batch_prediction != null
  batch         = var.batch_prediction
  batch_route   = local.batch_enabled ? local.models[var.batch_prediction.model_route] : null

  batch_function_name = "${var.name}-batch-predict"
  batch_bucket_arn    = local.batch_enabled ? "arn:${local.partition}:s3:::${local.batch.bucket}" : null
  batch_job_prefix    = "${var.name}-batch"

  batch_transform_model = !local.batch_enabled ? null : try(
    coalesce(var.batch_prediction.transform.model_name, try(module.endpoint[0].model_name, null)), null
  )
  batch_transform_enabled = local.batch_enabled && try(var.batch_prediction.transform != null, false)

  # Same rule as the time-margin validation of var.batch_prediction (see there for the source).
  batch_model_call = local.batch_enabled ? local.batch.model_call : null
  batch_call_worst_case = !local.batch_enabled ? null : (
    local.batch_model_call.max_attempts * (local.batch_model_call.connect_timeout_seconds + local.batch_model_call.read_timeout_seconds)
    + sum(concat([0], [for i in range(local.batch_model_call.max_attempts - 1) : min(pow(2, i), 20) + 5]))
  )
  batch_time_margin = !local.batch_enabled ? null : coalesce(local.batch.time_margin_seconds, local.batch_call_worst_case + 30)

  # Reserved concurrency caps the model calls a burst of files makes at once: every invocation
  # runs `concurrency` calls in parallel. A created serverless endpoint serves at most its
  # variants' max_concurrency invocations at once and throttles the rest
  # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_ProductionVariantServerlessConfig.html);
  # otherwise the budget is 20 calls, about what one or two instances serve. Events beyond the
  # cap are throttled, and Lambda keeps retrying throttled asynchronous events for up to their
  # maximum age (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html).
  # A reservation must leave at least 100 of the account's concurrency unreserved
  # (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html), so accounts
  # with a small quota set -1, which the provider reads as no reservation.
  batch_serverless_calls = try(
    local.endpoint_create != null && lower(local.batch_route.endpoint_name) == lower(local.endpoint_name) && alltrue([for v in values(local.endpoint_create.variants) : v.serverless != null])
    ? sum([for v in values(local.endpoint_create.variants) : v.serverless.max_concurrency]) : null,
    null,
  )
  batch_reserved_concurrency = !local.batch_enabled ? null : coalesce(
    local.batch.reserved_concurrency,
    max(1, floor(coalesce(local.batch_serverless_calls, 20) / local.batch.concurrency)),
  )

  batch_endpoint_arn = try(
    "arn:${local.partition}:sagemaker:${local.region}:${local.account_id}:endpoint/${lower(local.batch_route.endpoint_name)}", null
  )
}

module "batch_bucket" {
  source = "./modules/data-bucket"
  count  = local.batch_enabled && try(var.batch_prediction.create_bucket, false) ? 1 : 0

  name        = local.batch.bucket
  kms_key_arn = local.batch.bucket_kms_key_arn
  tags        = var.tags
  expirations = merge(
    local.batch.output_expiration_days == null ? {} : {
      outputs = { prefix = local.batch.output_prefix, days = local.batch.output_expiration_days }
      errors  = { prefix = local.batch.error_prefix, days = local.batch.output_expiration_days }
    },
    # The function deletes a job's staging objects when it ends; this removes what a failure leaves.
    local.batch_transform_enabled ? {
      staging = { prefix = local.batch.staging_prefix, days = local.batch.transform.staging_expiration_days }
    } : {},
  )
}

# The function, its role and its S3 trigger are wired by module.s3_pipeline (pipelines.tf).
locals {
  batch_pipeline = !local.batch_enabled ? null : {
    function_name        = local.batch_function_name
    description          = "Scores files under s3://${local.batch.bucket}/${local.batch.input_prefix} in batches"
    handler              = "mlgw.handlers.batch_predict.lambda_handler"
    memory_size          = local.batch.memory_size
    timeout              = local.batch.timeout
    retries              = 2
    reserved_concurrency = local.batch_reserved_concurrency
    role                 = "batch_predict"
    bucket               = local.batch.bucket
    bucket_kms_key_arn   = local.batch.bucket_kms_key_arn
    prefix               = local.batch.input_prefix
    suffixes             = local.batch.suffixes
    write_prefixes       = compact([local.batch.output_prefix, local.batch.error_prefix, local.batch_transform_enabled ? local.batch.staging_prefix : null])

    # The function's settings document (lambda_src/mlgw/batch/settings.py reads it).
    environment = {
      MLGW_SETTINGS = jsonencode({
        bucket                  = local.batch.bucket
        input_prefix            = local.batch.input_prefix
        output_prefix           = local.batch.output_prefix
        error_prefix            = local.batch.error_prefix
        staging_prefix          = local.batch.staging_prefix
        model_route             = local.batch.model_route
        route                   = local.batch_route
        csv_header              = local.batch.csv_header
        feature_columns         = local.batch.feature_columns
        id_column               = local.batch.id_column
        prediction_columns      = local.batch.prediction_columns
        batch_size              = local.batch.batch_size
        concurrency             = local.batch.concurrency
        max_record_bytes        = local.batch.max_record_bytes
        batch_retry             = local.batch.batch_retry
        isolation_calls         = local.batch.isolation_calls
        part_size_mb            = local.batch.part_size_mb
        stream_bytes_per_second = local.batch.stream_bytes_per_second
        model_call              = local.batch_model_call
        # The margin is computed here, where the timeout is validated against it.
        time_margin_seconds = local.batch_time_margin
        transform = local.batch_transform_enabled && local.batch_transform_model != null ? {
          model_name      = local.batch_transform_model
          min_bytes       = local.batch.transform.min_bytes
          instance_type   = local.batch.transform.instance_type
          instance_count  = local.batch.transform.instance_count
          max_payload_mb  = local.batch.transform.max_payload_mb
          job_name_prefix = local.batch_job_prefix
          kms_key_id      = local.batch.transform.kms_key_id
        } : null
      })
      POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
    }

    policy_statements = merge(
      {
        ReadInputs = {
          actions   = ["s3:GetObject"]
          resources = ["${local.batch_bucket_arn}/${local.batch.input_prefix}*"]
        }
        # Reading the existing output's metadata is how a duplicate event is recognised.
        ReadOutputs = {
          actions   = ["s3:GetObject"]
          resources = ["${local.batch_bucket_arn}/${local.batch.output_prefix}*"]
        }
        WriteResults = {
          actions = ["s3:PutObject", "s3:AbortMultipartUpload"]
          resources = [
            "${local.batch_bucket_arn}/${local.batch.output_prefix}*",
            "${local.batch_bucket_arn}/${local.batch.error_prefix}*",
          ]
        }
      },
      local.batch_route.backend == "sagemaker" ? {
        InvokeModel = {
          actions = ["sagemaker:InvokeEndpoint"]
          # Both spellings of an inference component's name: see inference_component_arns in api.tf.
          resources = distinct(compact([
            local.batch_endpoint_arn,
            try("arn:${local.partition}:sagemaker:${local.region}:${local.account_id}:inference-component/${local.batch_route.inference_component}", null),
            try("arn:${local.partition}:sagemaker:${local.region}:${local.account_id}:inference-component/${lower(local.batch_route.inference_component)}", null),
          ]))
        }
      } : {},
      local.batch_transform_enabled ? {
        # CreateTransformJob takes no role: the job runs as the model's execution role, passed
        # when the model was created, so no iam:PassRole is granted
        # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_CreateTransformJob.html).
        # Job names end in a content hash, so the prefix is as narrow as the ARN can be.
        RunTransformJobs = {
          actions   = ["sagemaker:CreateTransformJob", "sagemaker:DescribeTransformJob"]
          resources = ["arn:${local.partition}:sagemaker:${local.region}:${local.account_id}:transform-job/${local.batch_job_prefix}-*"]
        }
        # Rows are staged by UploadPartCopy, which needs s3:GetObject on the source (ReadInputs)
        # and s3:PutObject on the destination
        # (https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPartCopy.html). The function
        # also reads job records and outputs there, and deletes them once a job is finished.
        StageTransformJobs = {
          actions   = ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"]
          resources = ["${local.batch_bucket_arn}/${local.batch.staging_prefix}*"]
        }
      } : {},
      local.batch_transform_enabled && try(local.batch.transform.kms_key_id, null) != null ? {
        # The job's output is encrypted with transform.kms_key_id; reading it, and copying it
        # into the output by UploadPartCopy, decrypts it
        # (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions).
        ReadTransformOutputs = {
          actions   = ["kms:Decrypt"]
          resources = [local.batch.transform.kms_key_id]
        }
      } : {},
    )
  }
}

# The job runs as the created model's role and writes its output encrypted with
# transform.kms_key_id: SageMaker asks that role for kms:Encrypt
# (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_TransformOutput.html), and an
# SSE-KMS upload needs kms:GenerateDataKey and kms:Decrypt
# (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions).
# A role given through endpoint.create.execution_role_arn, or the role of transform.model_name,
# is the owner's to grant.
locals {
  batch_transform_output_key = (
    local.batch_transform_enabled && try(var.batch_prediction.transform.model_name, null) == null
    && try(local.endpoint_create.execution_role_arn, null) == null
  ) ? try(local.batch.transform.kms_key_id, null) : null
}

data "aws_iam_policy_document" "batch_transform_output_key" {
  count = local.batch_transform_output_key != null ? 1 : 0

  statement {
    sid       = "WriteTransformOutputs"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [local.batch_transform_output_key]
  }
}

resource "aws_iam_role_policy" "batch_transform_output_key" {
  count = local.batch_transform_output_key != null ? 1 : 0

  name   = "batch-transform-output-key"
  role   = module.endpoint[0].role_name
  policy = data.aws_iam_policy_document.batch_transform_output_key[0].json
}

# SageMaker reports every transform job state change to EventBridge
# (https://docs.aws.amazon.com/sagemaker/latest/dg/automating-sagemaker-with-eventbridge.html).
# A job of this function that ended invokes it, which writes the job's output with the header.
# Staging objects are written under staging_prefix, outside the S3 trigger's input prefix, so
# they never start the pipeline.
resource "aws_cloudwatch_event_rule" "batch_transform" {
  count = local.batch_transform_enabled ? 1 : 0

  name        = "${var.name}-batch-transform"
  description = "Batch Transform jobs of ${local.batch_function_name} that ended"
  event_pattern = jsonencode({
    source        = ["aws.sagemaker"]
    "detail-type" = ["SageMaker Transform Job State Change"]
    detail = {
      TransformJobName   = [{ prefix = "${local.batch_job_prefix}-" }]
      TransformJobStatus = ["Completed", "Failed", "Stopped"]
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "batch_transform" {
  count = local.batch_transform_enabled ? 1 : 0

  rule      = aws_cloudwatch_event_rule.batch_transform[0].name
  target_id = "batch-predict"
  arn       = module.s3_pipeline["batch"].function_arn
}

resource "aws_lambda_permission" "batch_transform" {
  count = local.batch_transform_enabled ? 1 : 0

  statement_id  = "${var.name}-events-batch-transform"
  action        = "lambda:InvokeFunction"
  function_name = module.s3_pipeline["batch"].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.batch_transform[0].arn
}
