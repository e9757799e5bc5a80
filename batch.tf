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

    environment = merge(
      {
        BATCH_BUCKET             = local.batch.bucket
        BATCH_INPUT_PREFIX       = local.batch.input_prefix
        BATCH_OUTPUT_PREFIX      = local.batch.output_prefix
        BATCH_ERROR_PREFIX       = local.batch.error_prefix
        MODELS_JSON              = local.models_json
        BATCH_MODEL_ROUTE        = local.batch.model_route
        BATCH_CSV_HEADER         = tostring(local.batch.csv_header)
        BATCH_PREDICTION_COLUMNS = join(",", local.batch.prediction_columns)
        BATCH_SIZE               = tostring(local.batch.batch_size)
        BATCH_CONCURRENCY        = tostring(local.batch.concurrency)
        # The margin is computed here, where the timeout is validated against it.
        BATCH_TIME_MARGIN_SECONDS     = tostring(local.batch_time_margin)
        MODEL_CONNECT_TIMEOUT_SECONDS = tostring(local.batch_model_call.connect_timeout_seconds)
        MODEL_READ_TIMEOUT_SECONDS    = tostring(local.batch_model_call.read_timeout_seconds)
        MODEL_MAX_ATTEMPTS            = tostring(local.batch_model_call.max_attempts)
      },
      local.endpoint_name == null ? {} : { DEFAULT_ENDPOINT_NAME = local.endpoint_name },
      length(local.batch.feature_columns) == 0 ? {} : { BATCH_FEATURE_COLUMNS = join(",", local.batch.feature_columns) },
      local.batch.id_column == null ? {} : { BATCH_ID_COLUMN = local.batch.id_column },
      local.batch_transform_enabled && local.batch_transform_model != null ? {
        BATCH_TRANSFORM_MODEL_NAME     = local.batch_transform_model
        BATCH_TRANSFORM_MIN_BYTES      = tostring(local.batch.transform.min_bytes)
        BATCH_TRANSFORM_INSTANCE_TYPE  = local.batch.transform.instance_type
        BATCH_TRANSFORM_INSTANCE_COUNT = tostring(local.batch.transform.instance_count)
        BATCH_TRANSFORM_JOB_PREFIX     = local.batch_job_prefix
        BATCH_STAGING_PREFIX           = local.batch.staging_prefix
      } : {},
    )

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
    )
  }
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
