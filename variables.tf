variable "actuals_reporting" {
  description = <<-EOT
    S3-triggered actuals reporting (null = off). CSVs of associationId,actualValue dropped
    under <prefix><deployment_id>/ are streamed to the MLOps actuals API (DataRobot
    protocol, at most report_rows rows a request) and/or written as SageMaker Model Monitor
    ground truth. Processed, failed and state prefixes default to siblings of prefix
    (upload_actuals-processed/, …), never inside it. token_secret_arn null: the module
    creates an empty secret whose value you set outside Terraform (see the README), and
    secret_recovery_window_in_days says what destroying it does: 0 (the default) deletes it
    at once, so the same stack can be applied again right away, and the token must be put
    again; 7 to 30 schedules the deletion, so the token can be restored
    (aws secretsmanager restore-secret) during that many days, but until they end Secrets
    Manager refuses a new secret of the same name and applying the stack again fails unless
    you restore and import the secret, or force its deletion. The window is read from the
    state when the secret is destroyed: apply a change to it before destroying.
    deployment_id_pattern: the regular expression a deployment id segment must match.
    bad_rows_in_report: how many bad rows the report lists. max_in_flight: actuals requests
    sent at once. spool_limit_mb: files up to this size are kept in /tmp after validation and
    sent from there, larger ones are read again (0 = always read again). http: the actuals
    API's timeouts, retries of a failed request and their exponential backoff. status_poll:
    the first and the longest wait between polls of an accepted request's status.
    time_margin_seconds: the time kept back before the function's timeout to save progress
    and hand the rest of a file to a fresh invocation of the function. max_idle_handoffs: how
    many hand-offs in a row without a delivered chunk fail the file. pacing: the hourly budget
    of actuals per deployment shared by all its files (the platform's limit is 10,000,000;
    multiclass rows count once per class, time-series rows once per forecast distance) and
    the window it is counted in, which must divide the hour.
    dataset_path: files of at least min_bytes (default 512 MiB) are not streamed through the
    function when datarobot is the only sink: the platform reads the file as a dataset and
    submits its actuals (actuals/fromDataset). fetch = "url" hands it a presigned S3 GET URL
    valid for url_expiry_seconds (60 to 3600: the URL is signed with the function role's temporary
    credentials and stops working when they expire, so it is kept short and signed again once if
    the platform's fetch fails); "upload" streams the file to
    the dataset upload endpoint instead, for a platform that cannot reach S3 URLs.
  EOT
  type = object({
    bucket                = string
    prefix                = optional(string, "upload_actuals/")
    processed_prefix      = optional(string)
    failed_prefix         = optional(string)
    state_prefix          = optional(string)
    on_success            = optional(string, "delete")
    bad_rows              = optional(string, "reject")
    bad_rows_in_report    = optional(number, 100)
    deployment_id_pattern = optional(string, "[0-9a-f]{24}")
    report_rows           = optional(number, 10000)
    max_in_flight         = optional(number, 8)
    spool_limit_mb        = optional(number, 256)
    time_margin_seconds   = optional(number, 20)
    max_idle_handoffs     = optional(number, 3)
    pacing = optional(object({
      actuals_per_hour = optional(number, 10000000)
      window_seconds   = optional(number, 3600)
    }), {})
    http = optional(object({
      connect_timeout_seconds = optional(number, 5)
      read_timeout_seconds    = optional(number, 60)
      max_retries             = optional(number, 6)
      backoff_base_seconds    = optional(number, 0.5)
      backoff_max_seconds     = optional(number, 30)
    }), {})
    status_poll = optional(object({
      interval_seconds     = optional(number, 1)
      max_interval_seconds = optional(number, 10)
    }), {})
    dataset_path = optional(object({
      enabled            = optional(bool, true)
      min_bytes          = optional(number, 536870912)
      fetch              = optional(string, "url")
      url_expiry_seconds = optional(number, 3600)
    }), {})
    sinks                          = optional(list(string), ["datarobot"])
    api_url                        = optional(string, "https://app.datarobot.com")
    token_secret_arn               = optional(string)
    secret_kms_key_arn             = optional(string)
    secret_recovery_window_in_days = optional(number, 0)
    bucket_kms_key_arn             = optional(string)
    ground_truth = optional(object({
      bucket        = optional(string)
      prefix        = optional(string)
      endpoint_name = optional(string)
    }), {})
    memory_size = optional(number, 512)
    timeout     = optional(number, 900)
  })
  default = null

  validation {
    condition     = var.actuals_reporting == null || try(var.actuals_reporting.report_rows >= 1 && var.actuals_reporting.report_rows <= 10000 && floor(var.actuals_reporting.report_rows) == var.actuals_reporting.report_rows, false)
    error_message = "actuals_reporting.report_rows must be a whole number between 1 and 10000: the actuals API rejects larger requests."
  }

  validation {
    condition = var.actuals_reporting == null || alltrue([
      for p in compact([
        try(var.actuals_reporting.prefix, null), try(var.actuals_reporting.processed_prefix, null),
        try(var.actuals_reporting.failed_prefix, null), try(var.actuals_reporting.state_prefix, null),
      ]) : endswith(p, "/") && !startswith(p, "/")
    ])
    error_message = "actuals_reporting prefixes must be key prefixes ending with \"/\" and not starting with one, e.g. \"upload_actuals/\"."
  }

  validation {
    condition = var.actuals_reporting == null || alltrue([
      for p in compact([try(var.actuals_reporting.processed_prefix, null), try(var.actuals_reporting.failed_prefix, null), try(var.actuals_reporting.state_prefix, null)]) :
      !startswith(p, var.actuals_reporting.prefix) && !startswith(var.actuals_reporting.prefix, p)
    ])
    error_message = "actuals_reporting processed_prefix, failed_prefix and state_prefix must be siblings of prefix, not inside it: a file moved under the trigger prefix would be read as a deployment id and trigger the function again."
  }

  validation {
    condition     = var.actuals_reporting == null || contains(["delete", "archive"], try(var.actuals_reporting.on_success, ""))
    error_message = "actuals_reporting.on_success must be delete or archive."
  }

  validation {
    condition     = var.actuals_reporting == null || contains(["reject", "skip"], try(var.actuals_reporting.bad_rows, ""))
    error_message = "actuals_reporting.bad_rows must be reject (the whole file goes to the failed prefix) or skip (bad rows are reported and left out)."
  }

  validation {
    condition     = var.actuals_reporting == null || (length(try(var.actuals_reporting.sinks, [])) > 0 && length(setsubtract(try(var.actuals_reporting.sinks, []), ["datarobot", "model-monitor"])) == 0)
    error_message = "actuals_reporting.sinks must name datarobot, model-monitor or both."
  }

  validation {
    condition     = var.actuals_reporting == null || can(regex("^https://[^/\\s]+(/[^\\s?#]*)?$", try(var.actuals_reporting.api_url, "")))
    error_message = "actuals_reporting.api_url must be an https:// base URL such as https://app.datarobot.com: the bearer token must not travel in clear text."
  }

  validation {
    condition = var.actuals_reporting == null || try(
      var.actuals_reporting.bad_rows_in_report >= 1 && var.actuals_reporting.bad_rows_in_report <= 10000 && floor(var.actuals_reporting.bad_rows_in_report) == var.actuals_reporting.bad_rows_in_report &&
      var.actuals_reporting.max_in_flight >= 1 && var.actuals_reporting.max_in_flight <= 16 && floor(var.actuals_reporting.max_in_flight) == var.actuals_reporting.max_in_flight &&
      var.actuals_reporting.spool_limit_mb >= 0 && var.actuals_reporting.spool_limit_mb <= 10240 && floor(var.actuals_reporting.spool_limit_mb) == var.actuals_reporting.spool_limit_mb,
      false
    )
    error_message = "actuals_reporting: bad_rows_in_report must be a whole number from 1 to 10000, max_in_flight from 1 to 16, spool_limit_mb from 0 to 10240 (Lambda's largest /tmp)."
  }

  validation {
    condition = var.actuals_reporting == null || try(
      var.actuals_reporting.http.connect_timeout_seconds >= 0.1 && var.actuals_reporting.http.connect_timeout_seconds <= 60 &&
      var.actuals_reporting.http.read_timeout_seconds >= 0.1 && var.actuals_reporting.http.read_timeout_seconds <= 900 &&
      var.actuals_reporting.http.max_retries >= 0 && var.actuals_reporting.http.max_retries <= 20 && floor(var.actuals_reporting.http.max_retries) == var.actuals_reporting.http.max_retries &&
      var.actuals_reporting.http.backoff_base_seconds >= 0 && var.actuals_reporting.http.backoff_base_seconds <= 60 &&
      var.actuals_reporting.http.backoff_max_seconds >= 0 && var.actuals_reporting.http.backoff_max_seconds <= 300 &&
      var.actuals_reporting.status_poll.interval_seconds >= 0 && var.actuals_reporting.status_poll.interval_seconds <= 60 &&
      var.actuals_reporting.status_poll.max_interval_seconds >= 0 && var.actuals_reporting.status_poll.max_interval_seconds <= 300,
      false
    )
    error_message = "actuals_reporting: http.connect_timeout_seconds must be between 0.1 and 60, http.read_timeout_seconds between 0.1 and 900, http.max_retries a whole number from 0 to 20, http.backoff_base_seconds from 0 to 60, http.backoff_max_seconds from 0 to 300, status_poll.interval_seconds from 0 to 60 and status_poll.max_interval_seconds from 0 to 300."
  }

  # A presigned URL signed with temporary credentials (the function role's) stops working when they
  # expire, and a Lambda execution role's session need not follow the role's session duration:
  # https://repost.aws/knowledge-center/presigned-url-s3-bucket-expiration; so one hour at most.
  # 5 TiB is S3's largest object.
  validation {
    condition = var.actuals_reporting == null || try(
      var.actuals_reporting.dataset_path.min_bytes >= 1 && var.actuals_reporting.dataset_path.min_bytes <= 5497558138880 && floor(var.actuals_reporting.dataset_path.min_bytes) == var.actuals_reporting.dataset_path.min_bytes &&
      contains(["url", "upload"], var.actuals_reporting.dataset_path.fetch) &&
      var.actuals_reporting.dataset_path.url_expiry_seconds >= 60 && var.actuals_reporting.dataset_path.url_expiry_seconds <= 3600 && floor(var.actuals_reporting.dataset_path.url_expiry_seconds) == var.actuals_reporting.dataset_path.url_expiry_seconds,
      false
    )
    error_message = "actuals_reporting.dataset_path: min_bytes must be a whole number of bytes from 1 to 5497558138880 (S3's largest object), fetch must be url or upload, and url_expiry_seconds a whole number from 60 to 3600 (a URL signed with the function role's temporary credentials cannot be trusted to last longer)."
  }

  validation {
    condition     = var.actuals_reporting == null || try(var.actuals_reporting.time_margin_seconds >= 0 && var.actuals_reporting.time_margin_seconds <= 600 && var.actuals_reporting.time_margin_seconds < var.actuals_reporting.timeout, false)
    error_message = "actuals_reporting.time_margin_seconds must be between 0 and 600 seconds and below timeout."
  }

  validation {
    condition = var.actuals_reporting == null || try(
      var.actuals_reporting.pacing.actuals_per_hour >= 1 && var.actuals_reporting.pacing.actuals_per_hour <= 10000000 && floor(var.actuals_reporting.pacing.actuals_per_hour) == var.actuals_reporting.pacing.actuals_per_hour &&
      var.actuals_reporting.pacing.window_seconds >= 60 && var.actuals_reporting.pacing.window_seconds <= 3600 && 3600 % var.actuals_reporting.pacing.window_seconds == 0 &&
      var.actuals_reporting.max_idle_handoffs >= 1 && var.actuals_reporting.max_idle_handoffs <= 100 && floor(var.actuals_reporting.max_idle_handoffs) == var.actuals_reporting.max_idle_handoffs,
      false
    )
    error_message = "actuals_reporting: pacing.actuals_per_hour must be a whole number from 1 to 10000000 (the platform's hourly limit per deployment), pacing.window_seconds from 60 to 3600 and a divisor of 3600, max_idle_handoffs a whole number from 1 to 100."
  }

  validation {
    condition     = var.actuals_reporting == null || try(var.actuals_reporting.timeout >= 60 && var.actuals_reporting.timeout <= 900, false)
    error_message = "actuals_reporting.timeout must be between 60 and 900 seconds."
  }

  # The provider accepts 0 (ForceDeleteWithoutRecovery) or 7 to 30 days (RecoveryWindowInDays):
  # https://github.com/hashicorp/terraform-provider-aws/blob/v6.47.0/internal/service/secretsmanager/secret.go
  # and https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_DeleteSecret.html.
  validation {
    condition = var.actuals_reporting == null || try(
      var.actuals_reporting.secret_recovery_window_in_days == 0 || (
        var.actuals_reporting.secret_recovery_window_in_days >= 7 && var.actuals_reporting.secret_recovery_window_in_days <= 30 &&
        floor(var.actuals_reporting.secret_recovery_window_in_days) == var.actuals_reporting.secret_recovery_window_in_days
      ), false
    )
    error_message = "actuals_reporting.secret_recovery_window_in_days must be 0 (delete the created token secret at once on destroy) or a whole number of days from 7 to 30 (Secrets Manager's recovery window)."
  }
}

variable "api" {
  description = <<-EOT
    The REST API (null = no API). When models is not empty it creates the prediction
    function and its Lambda-proxy routes: POST and GET /predict for the "default" model and
    POST and GET /predict/{model} for the others (GET takes ?data=1.2,3.4). routes adds
    more, such as direct SageMaker routes (type = "sagemaker"), which use the primary
    endpoint unless they name one. Every input of modules/rest-api is a field of api, with
    the module's type and default, and is passed to it as it is: its README documents each
    (account_cloudwatch_role, the region's API Gateway CloudWatch role: "none", the default,
    means no stage logging; "existing" or "create" turn logging on by default, and "create"
    changes an account-wide setting). The root sets the module's name, tags,
    default_endpoint_name (the primary endpoint), iam_role (from iam_roles) and
    lambda_function (the prediction function) itself. predict sets the function's memory and
    timeout (under API Gateway's 29 s) and whether its routes need an API key; model_call each
    model call's timeouts and attempts (their worst case, with backoff, must stay under the
    timeout and 28 s); retry_after_seconds the Retry-After of a 503 when the model throttles;
    log_request_bodies = true logs request and response bodies (debugging only: they may hold
    personal data). models_parameter reads the routing table from an SSM parameter (JSON in
    the models format, re-read every cache_ttl_seconds; kms_key_arn: the key of a SecureString)
    instead of models, so a model switch needs no deploy; the function may still invoke only
    the endpoints of models, so list every route the parameter may use there.
  EOT
  type = object({
    # BEGIN_MODULE_INPUTS modules/rest-api: generated from its variables by `make docs`, do not edit
    account_cloudwatch_role = optional(string, "none")
    api_keys = optional(map(object({
      description = optional(string)
      enabled     = optional(bool, true)
      usage_plan  = string
      value       = optional(string)
    })), {})
    authorizers = optional(map(object({
      function_invoke_arn            = optional(string)
      function_name                  = optional(string)
      identity_source                = optional(string, "method.request.header.Authorization")
      identity_validation_expression = optional(string)
      provider_arns                  = optional(list(string), [])
      result_ttl_in_seconds          = optional(number, 300)
      type                           = string
    })), {})
    binary_media_types = optional(list(string), [])
    cors = optional(object({
      allow_headers = optional(list(string), ["Authorization", "Content-Type", "X-Amz-Date", "X-Amz-Security-Token", "X-Api-Key"])
      allow_origin  = string
      max_age       = optional(number, 600)
    }))
    custom_domain = optional(object({
      base_paths           = optional(map(string))
      certificate_arn      = optional(string)
      domain_name          = string
      endpoint_access_mode = optional(string)
      endpoint_type        = optional(string, "REGIONAL")
      ip_address_type      = optional(string, "dualstack")
      route53_zone_id      = optional(string)
      security_policy      = optional(string, "TLS_1_2")
    }))
    description                  = optional(string)
    disable_execute_api_endpoint = optional(bool, false)
    endpoint_configuration = optional(object({
      type             = optional(string, "REGIONAL")
      vpc_endpoint_ids = optional(list(string), [])
    }), {})
    minimum_compression_size = optional(number)
    resource_policy          = optional(string)
    routes = optional(map(object({
      accept                    = optional(string, "application/json")
      api_key_required          = optional(bool, true)
      authorization             = optional(string, "NONE")
      authorization_scopes      = optional(list(string), [])
      authorizer                = optional(string)
      cache_key_parameters      = optional(list(string), [])
      content_types             = optional(list(string), ["application/json"])
      endpoint_name             = optional(string)
      forward_custom_attributes = optional(bool, false)
      header_parameters         = optional(map(bool), {})
      inference_component       = optional(string)
      mapping                   = optional(string, "passthrough")
      method                    = optional(string, "POST")
      path                      = string
      query_parameters          = optional(map(bool), {})
      request_schema            = optional(string)
      request_template          = optional(string)
      response_template         = optional(string)
      target_model              = optional(string)
      target_variant            = optional(string)
      timeout_milliseconds      = optional(number, 29000)
      type                      = string
    })), {})
    stages = optional(map(object({
      access_log_format = optional(string)
      access_logs       = optional(bool)
      cache = optional(object({
        size           = optional(string, "0.5")
        ttl_in_seconds = optional(number, 300)
      }))
      data_trace            = optional(bool, false)
      description           = optional(string)
      external_usage_plans  = optional(bool, false)
      log_kms_key_arn       = optional(string)
      log_retention_in_days = optional(number, 30)
      logging_level         = optional(string)
      method_throttles = optional(map(object({
        burst = number
        rate  = number
      })), {})
      metrics_enabled = optional(bool, true)
      throttle = optional(object({
        burst = number
        rate  = number
      }))
      variables    = optional(map(string), {})
      web_acl_arn  = optional(string)
      xray_tracing = optional(bool, false)
    })), { prod = {} })
    usage_plans = optional(map(object({
      description   = optional(string)
      external_keys = optional(bool, false)
      method_throttles = optional(map(object({
        burst = number
        rate  = number
      })), {})
      quota = optional(object({
        limit  = number
        offset = optional(number, 0)
        period = string
      }))
      stages = list(string)
      throttle = optional(object({
        burst = number
        rate  = number
      }))
    })), {})
    # END_MODULE_INPUTS modules/rest-api
    create_account_cloudwatch_role = optional(bool)
    predict = optional(object({
      api_key_required   = optional(bool, true)
      log_request_bodies = optional(bool, false)
      memory_size        = optional(number, 512)
      model_call = optional(object({
        connect_timeout_seconds = optional(number, 2)
        read_timeout_seconds    = optional(number, 8)
        max_attempts            = optional(number, 2)
      }), {})
      models_parameter = optional(object({
        name              = string
        cache_ttl_seconds = optional(number, 60)
        kms_key_arn       = optional(string)
      }))
      retry_after_seconds = optional(number, 1)
      timeout             = optional(number, 25)
    }), {})
  })
  default = null

  validation {
    # create_account_cloudwatch_role was renamed account_cloudwatch_role. It stays in the type
    # only to fail here: an object type drops attributes it does not declare, so a former
    # create_account_cloudwatch_role = true would silently become "none" and destroy the
    # region's setting (https://github.com/hashicorp/terraform/issues/29204).
    condition     = var.api == null || try(var.api.create_account_cloudwatch_role == null, true)
    error_message = "api.create_account_cloudwatch_role was renamed: set api.account_cloudwatch_role = \"create\" to keep owning the region's API Gateway CloudWatch role (true), or \"existing\" / \"none\" (false; \"none\" turns stage logging off)."
  }

  validation {
    condition     = var.api == null || try(var.api.predict.timeout >= 22 && var.api.predict.timeout <= 28, false)
    error_message = "api.predict.timeout must be between 22 and 28 seconds: the function's model calls may take 21 s in the worst case (connect, read and retry budgets), and API Gateway gives up on an integration after 29 s."
  }

  validation {
    condition = var.api == null || try(
      var.api.predict.model_call.connect_timeout_seconds >= 0.1 && var.api.predict.model_call.connect_timeout_seconds <= 10 &&
      var.api.predict.model_call.read_timeout_seconds >= 0.1 && var.api.predict.model_call.read_timeout_seconds <= 27 &&
      var.api.predict.model_call.max_attempts >= 1 && var.api.predict.model_call.max_attempts <= 5 &&
      floor(var.api.predict.model_call.max_attempts) == var.api.predict.model_call.max_attempts,
      false
    )
    error_message = "api.predict.model_call: connect_timeout_seconds must be between 0.1 and 10, read_timeout_seconds between 0.1 and 27, max_attempts a whole number between 1 and 5."
  }

  # The worst case of the function's calls: every model call attempt times out in full, with
  # botocore's standard-mode backoff of at most min(2^i, 20) s before retry i + 1
  # (botocore/retries/standard.py: https://github.com/boto/botocore/blob/develop/botocore/retries/standard.py),
  # plus, with models_parameter, the routing-table read (2 attempts of 1 s + 1 s, 1 s backoff).
  validation {
    condition = var.api == null || try(
      var.api.predict.model_call.max_attempts * (var.api.predict.model_call.connect_timeout_seconds + var.api.predict.model_call.read_timeout_seconds)
      + sum(concat([0], [for i in range(var.api.predict.model_call.max_attempts - 1) : min(pow(2, i), 20)]))
      + (var.api.predict.models_parameter == null ? 0 : 5) <= min(28, var.api.predict.timeout - 1),
      false
    )
    error_message = "api.predict.model_call allows more time than the function has: max_attempts x (connect_timeout_seconds + read_timeout_seconds) plus min(2^i, 20) s of backoff before each retry i + 1 (and 5 s to read models_parameter) must stay within 28 s and one second under api.predict.timeout, so a failing request still gets the function's JSON error before API Gateway's 29 s. Lower the model_call timeouts or attempts."
  }

  validation {
    condition     = var.api == null || try(var.api.predict.retry_after_seconds >= 1 && var.api.predict.retry_after_seconds <= 300 && floor(var.api.predict.retry_after_seconds) == var.api.predict.retry_after_seconds, false)
    error_message = "api.predict.retry_after_seconds must be a whole number of seconds between 1 and 300."
  }

  # SSM parameter names: a-zA-Z0-9_.- and "/" between hierarchy levels, at most 1011 characters
  # (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html).
  validation {
    condition = var.api == null || try(var.api.predict.models_parameter == null, true) || try(
      can(regex("^[a-zA-Z0-9_./-]+$", var.api.predict.models_parameter.name)) && length(var.api.predict.models_parameter.name) <= 1011 &&
      var.api.predict.models_parameter.cache_ttl_seconds >= 1 && var.api.predict.models_parameter.cache_ttl_seconds <= 3600 &&
      floor(var.api.predict.models_parameter.cache_ttl_seconds) == var.api.predict.models_parameter.cache_ttl_seconds,
      false
    )
    error_message = "api.predict.models_parameter: name must be an SSM parameter name (letters, digits, _ . - and /, e.g. /churn/models), cache_ttl_seconds a whole number between 1 and 3600."
  }

  validation {
    condition     = var.api == null || try(var.api.predict.memory_size >= 128 && var.api.predict.memory_size <= 10240, false)
    error_message = "api.predict.memory_size must be between 128 and 10240 MB."
  }

  validation {
    condition     = var.api == null || length(var.models) > 0 || length(try(var.api.routes, {})) > 0
    error_message = "api needs something to serve: models (Lambda-proxy prediction routes) or routes (e.g. a direct SageMaker route)."
  }

  validation {
    condition     = var.api == null || length(setintersection(keys(try(var.api.routes, {})), ["predict", "predict-get", "predict-model", "predict-model-get"])) == 0
    error_message = "api.routes keys predict, predict-get, predict-model and predict-model-get are reserved for the prediction routes the module creates from models."
  }
}

variable "batch_prediction" {
  description = <<-EOT
    S3-triggered batch prediction (null = off). Files dropped under input_prefix (suffixes)
    are scored in batches through the models route model_route; results go under
    output_prefix mirroring the input key, rejected rows and a report under error_prefix.
    Output and error prefixes must be siblings of the input prefix. create_bucket = true
    creates a hardened bucket (modules/data-bucket). transform turns on SageMaker Batch
    Transform for very large files: model_name defaults to the model of a created endpoint;
    the rows are staged under staging_prefix (header-free copies, job records, raw job
    outputs), and an EventBridge rule hands the finished job back to the function, which
    writes the output under output_prefix. CSV files then need a route that reads and
    answers text/csv. The job splits a file at every line break, so files whose quoted
    fields hold line breaks must be streamed (below transform.min_bytes, and small enough for
    one invocation); the function does not read the file to check, and the transform path
    reports no row count. model_call sets each model call's timeouts and attempts;
    time_margin_seconds (null = the worst case of one model call + 30 s) is the time kept
    back before the function's timeout, and must cover one model call. max_record_bytes: the
    largest row; batch_retry: how often and how long a batch whose model call failed is
    retried; isolation_calls: extra calls a file may spend splitting rejected batches to find
    the bad rows; part_size_mb: the output's multipart part size (S3's smallest is 5);
    stream_bytes_per_second: the expected streaming rate, which decides when a file goes to
    Batch Transform. batch_size: rows per model call at most; a call also closes at half the
    route's payload limit of row text (SageMaker real-time takes 6 MiB a request).
    transform.kms_key_id (a KMS key ARN) encrypts the job's output: the
    function is granted kms:Decrypt on it, and the created model's role kms:Encrypt,
    GenerateDataKey and Decrypt (a role you bring needs them too); transform.max_payload_mb
    is the job's largest request.
    reserved_concurrency caps the function's concurrent invocations, so a burst of files makes
    at most reserved_concurrency x concurrency model calls at once; null derives it from that
    budget: the max_concurrency of a created serverless endpoint the route uses, else 20 calls.
    -1 reserves none (the function shares the account's pool): Lambda refuses a reservation
    that leaves fewer than 100 unreserved concurrent executions in the account, so an account
    whose concurrency quota is at most 100 (new accounts often have 10 or 50) needs -1.
  EOT
  type = object({
    bucket               = string
    create_bucket        = optional(bool, false)
    bucket_kms_key_arn   = optional(string)
    input_prefix         = optional(string, "batch/in/")
    output_prefix        = optional(string, "batch/out/")
    error_prefix         = optional(string, "batch/errors/")
    staging_prefix       = optional(string, "batch/staging/")
    suffixes             = optional(list(string), [".csv", ".jsonl", ".ndjson"])
    model_route          = optional(string, "default")
    csv_header           = optional(bool, true)
    feature_columns      = optional(list(string), [])
    id_column            = optional(string)
    prediction_columns   = optional(list(string), ["prediction"])
    batch_size           = optional(number, 5000)
    concurrency          = optional(number, 4)
    reserved_concurrency = optional(number)
    max_record_bytes     = optional(number, 1048576)
    isolation_calls      = optional(number, 100)
    part_size_mb         = optional(number, 5)
    batch_retry = optional(object({
      attempts             = optional(number, 6)
      backoff_base_seconds = optional(number, 0.5)
      backoff_max_seconds  = optional(number, 20)
    }), {})
    stream_bytes_per_second = optional(number, 1000000)
    memory_size             = optional(number, 1024)
    timeout                 = optional(number, 900)
    model_call = optional(object({
      connect_timeout_seconds = optional(number, 2)
      read_timeout_seconds    = optional(number, 70)
      max_attempts            = optional(number, 3)
    }), {})
    time_margin_seconds    = optional(number)
    output_expiration_days = optional(number)
    transform = optional(object({
      model_name     = optional(string)
      min_bytes      = optional(number, 536870912)
      instance_type  = optional(string, "ml.m5.xlarge")
      instance_count = optional(number, 1)
      kms_key_id     = optional(string)
      max_payload_mb = optional(number, 6)
      # Staging objects left by a failed job are removed by a lifecycle rule (created bucket only).
      staging_expiration_days = optional(number, 7)
    }))
  })
  default = null

  validation {
    condition = var.batch_prediction == null || alltrue([
      for p in [try(var.batch_prediction.input_prefix, ""), try(var.batch_prediction.output_prefix, ""), try(var.batch_prediction.error_prefix, ""), try(var.batch_prediction.staging_prefix, "")] :
      length(p) > 1 && endswith(p, "/") && !startswith(p, "/")
    ])
    error_message = "batch_prediction prefixes must be key prefixes ending with \"/\" and not starting with one, e.g. \"batch/in/\"."
  }

  validation {
    condition = var.batch_prediction == null || alltrue([
      for pair in [
        [try(var.batch_prediction.input_prefix, ""), try(var.batch_prediction.output_prefix, "")],
        [try(var.batch_prediction.input_prefix, ""), try(var.batch_prediction.error_prefix, "")],
        [try(var.batch_prediction.output_prefix, ""), try(var.batch_prediction.error_prefix, "")],
        [try(var.batch_prediction.input_prefix, ""), try(var.batch_prediction.staging_prefix, "")],
        [try(var.batch_prediction.output_prefix, ""), try(var.batch_prediction.staging_prefix, "")],
        [try(var.batch_prediction.error_prefix, ""), try(var.batch_prediction.staging_prefix, "")],
      ] : !startswith(pair[0], pair[1]) && !startswith(pair[1], pair[0])
    ])
    error_message = "batch_prediction input_prefix, output_prefix, error_prefix and staging_prefix must not be nested in one another: results written inside the input prefix would be scored again, in a loop. Use siblings such as batch/in/, batch/out/, batch/errors/ and batch/staging/."
  }

  validation {
    condition     = var.batch_prediction == null || contains(keys(var.models), try(var.batch_prediction.model_route, ""))
    error_message = "batch_prediction.model_route must name a route of models (the \"default\" route unless set)."
  }

  validation {
    condition     = var.batch_prediction == null || try(var.models[var.batch_prediction.model_route].backend != "amazon-ml", true)
    error_message = "batch_prediction.model_route must use the sagemaker or http backend: Amazon ML predicts one record per call."
  }

  validation {
    condition     = var.batch_prediction == null || try(var.batch_prediction.transform == null, true) || try(var.batch_prediction.transform.model_name != null, false) || try(var.endpoint.create != null, false)
    error_message = "batch_prediction.transform needs model_name (the SageMaker model Batch Transform runs) unless endpoint.create makes the model here."
  }

  validation {
    condition     = var.batch_prediction == null || try(var.batch_prediction.csv_header, true) || try(var.batch_prediction.transform == null, true) || try(var.batch_prediction.id_column == null, true) || length(try(var.batch_prediction.feature_columns, [])) > 0
    error_message = "batch_prediction: headerless CSV with an id_column and Batch Transform needs feature_columns, so the job can leave the id column out of what the model reads."
  }

  # IAM grants a KMS key by its key ARN; an alias in a policy's Resource does not grant the key
  # (https://docs.aws.amazon.com/kms/latest/developerguide/cmks-in-iam-policies.html).
  validation {
    condition     = var.batch_prediction == null || try(var.batch_prediction.transform.kms_key_id == null, true) || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+$", try(var.batch_prediction.transform.kms_key_id, "")))
    error_message = "batch_prediction.transform.kms_key_id must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>), not an alias or a bare key id: the module grants the function and the model's role that key."
  }

  validation {
    condition     = var.batch_prediction == null || try(var.batch_prediction.transform == null, true) || try(var.batch_prediction.transform.staging_expiration_days >= 1 && floor(var.batch_prediction.transform.staging_expiration_days) == var.batch_prediction.transform.staging_expiration_days, false)
    error_message = "batch_prediction.transform.staging_expiration_days must be a whole number of days, at least 1."
  }

  # batch_size defaults to 5000 rows a call: few calls per file (the SDK's per-call CPU dominates
  # small calls), while a model spending up to 12 ms a row still answers within the 60 s
  # InvokeEndpoint gives a container
  # (https://docs.aws.amazon.com/sagemaker/latest/APIReference/API_runtime_InvokeEndpoint.html).
  validation {
    condition     = var.batch_prediction == null || try(var.batch_prediction.batch_size >= 1 && var.batch_prediction.batch_size <= 100000 && floor(var.batch_prediction.batch_size) == var.batch_prediction.batch_size, false)
    error_message = "batch_prediction.batch_size must be between 1 and 100000 rows per model call, a whole number (a call also stops at half the route's payload limit of row text)."
  }

  validation {
    condition     = var.batch_prediction == null || try(var.batch_prediction.concurrency >= 1 && var.batch_prediction.concurrency <= 64, false)
    error_message = "batch_prediction.concurrency must be between 1 and 64 model calls in flight."
  }

  validation {
    condition = var.batch_prediction == null || try(
      var.batch_prediction.max_record_bytes >= 1024 && floor(var.batch_prediction.max_record_bytes) == var.batch_prediction.max_record_bytes &&
      var.batch_prediction.isolation_calls >= 0 && var.batch_prediction.isolation_calls <= 100000 && floor(var.batch_prediction.isolation_calls) == var.batch_prediction.isolation_calls &&
      var.batch_prediction.part_size_mb >= 5 && var.batch_prediction.part_size_mb <= 512 && floor(var.batch_prediction.part_size_mb) == var.batch_prediction.part_size_mb &&
      var.batch_prediction.batch_retry.attempts >= 1 && var.batch_prediction.batch_retry.attempts <= 20 && floor(var.batch_prediction.batch_retry.attempts) == var.batch_prediction.batch_retry.attempts &&
      var.batch_prediction.batch_retry.backoff_base_seconds >= 0 && var.batch_prediction.batch_retry.backoff_base_seconds <= 60 &&
      var.batch_prediction.batch_retry.backoff_max_seconds >= 0 && var.batch_prediction.batch_retry.backoff_max_seconds <= 300 &&
      var.batch_prediction.stream_bytes_per_second >= 1,
      false
    )
    error_message = "batch_prediction: max_record_bytes must be a whole number of at least 1024 (and at most the route's payload limit), isolation_calls from 0 to 100000, part_size_mb from 5 (S3's smallest part) to 512, batch_retry.attempts from 1 to 20, batch_retry.backoff_base_seconds from 0 to 60, batch_retry.backoff_max_seconds from 0 to 300, stream_bytes_per_second at least 1."
  }

  validation {
    condition     = var.batch_prediction == null || try(var.batch_prediction.transform == null, true) || try(var.batch_prediction.transform.max_payload_mb >= 1 && var.batch_prediction.transform.max_payload_mb <= 100 && floor(var.batch_prediction.transform.max_payload_mb) == var.batch_prediction.transform.max_payload_mb, false)
    error_message = "batch_prediction.transform.max_payload_mb must be a whole number from 1 to 100 (SageMaker's MaxPayloadInMB)."
  }

  # -1 is the provider's "no reservation" (aws_lambda_function reserved_concurrent_executions);
  # Lambda refuses a reservation that leaves fewer than 100 unreserved executions
  # (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html).
  validation {
    condition     = var.batch_prediction == null || try(var.batch_prediction.reserved_concurrency == null, true) || try(var.batch_prediction.reserved_concurrency == -1 || (var.batch_prediction.reserved_concurrency >= 1 && floor(var.batch_prediction.reserved_concurrency) == var.batch_prediction.reserved_concurrency), false)
    error_message = "batch_prediction.reserved_concurrency must be a whole number of at least 1 (0 would stop the function), -1 to reserve none, or null to derive it."
  }

  validation {
    condition     = var.batch_prediction == null || try(var.batch_prediction.timeout >= 60 && var.batch_prediction.timeout <= 900, false)
    error_message = "batch_prediction.timeout must be between 60 and 900 seconds."
  }

  validation {
    condition = var.batch_prediction == null || try(
      var.batch_prediction.model_call.connect_timeout_seconds >= 0.1 && var.batch_prediction.model_call.connect_timeout_seconds <= 60 &&
      var.batch_prediction.model_call.read_timeout_seconds >= 0.1 && var.batch_prediction.model_call.read_timeout_seconds <= 600 &&
      var.batch_prediction.model_call.max_attempts >= 1 && var.batch_prediction.model_call.max_attempts <= 10 &&
      floor(var.batch_prediction.model_call.max_attempts) == var.batch_prediction.model_call.max_attempts,
      false
    )
    error_message = "batch_prediction.model_call: connect_timeout_seconds must be between 0.1 and 60, read_timeout_seconds between 0.1 and 600, max_attempts a whole number between 1 and 10."
  }

  # The worst case of one model call: every attempt times out in full, and botocore's standard
  # retry mode sleeps at most min(2^i, 20) s before retry i + 1, raised by up to 5 s more when the
  # service sends x-amz-retry-after (botocore/retries/standard.py, ExponentialBackoff:
  # https://github.com/boto/botocore/blob/develop/botocore/retries/standard.py). No call starts
  # once the margin is reached, so the margin must cover one call started just before it.
  validation {
    condition = var.batch_prediction == null || try(
      var.batch_prediction.time_margin_seconds == null || var.batch_prediction.time_margin_seconds >= (var.batch_prediction.model_call.max_attempts * (var.batch_prediction.model_call.connect_timeout_seconds + var.batch_prediction.model_call.read_timeout_seconds) + sum(concat([0], [for i in range(var.batch_prediction.model_call.max_attempts - 1) : min(pow(2, i), 20) + 5]))),
      false
    )
    error_message = "batch_prediction.time_margin_seconds must be at least the worst case of one model call, model_call.max_attempts x (connect_timeout_seconds + read_timeout_seconds) plus up to min(2^i, 20) + 5 s of backoff before each retry i + 1 (229 s with the default model_call): raise it, leave it null (that worst case + 30 s), or lower the model_call timeouts or attempts."
  }

  validation {
    condition = var.batch_prediction == null || try(
      var.batch_prediction.timeout >= coalesce(var.batch_prediction.time_margin_seconds, (var.batch_prediction.model_call.max_attempts * (var.batch_prediction.model_call.connect_timeout_seconds + var.batch_prediction.model_call.read_timeout_seconds) + sum(concat([0], [for i in range(var.batch_prediction.model_call.max_attempts - 1) : min(pow(2, i), 20) + 5]))) + 30) + 60,
      false
    )
    error_message = "batch_prediction.timeout must leave at least 60 s of scoring after the time margin (time_margin_seconds, by default the worst case of one model call + 30 s: 259 s with the default model_call): raise timeout, or lower the model_call timeouts or attempts."
  }

  validation {
    condition     = var.batch_prediction == null || alltrue([for s in try(var.batch_prediction.suffixes, []) : startswith(s, ".")])
    error_message = "batch_prediction.suffixes must be file extensions starting with a dot, e.g. \".csv\"."
  }
}

variable "endpoint" {
  description = <<-EOT
    The primary SageMaker endpoint. Direct routes, batch prediction, Batch Transform and the
    ground-truth sink use it unless they name another, and so does every sagemaker model
    route whose endpoint_name is null. Null: no primary endpoint (every sagemaker route then
    names its own). { name = "<existing>" } brings an endpoint you already run; add create
    to have Terraform own it through modules/sagemaker-endpoint (model, endpoint
    configuration named by a content hash, blue/green updates, autoscaling). Every input of
    that module is a field of create, with the module's type and default (its README
    documents each), except name (endpoint.name), tags and iam_role: the model's role comes
    from create.execution_role_arn (an existing role) or is created, with
    create.permissions_boundary_arn or else iam_roles.permissions_boundary_arn.
  EOT
  type = object({
    name = string
    create = optional(object({
      # BEGIN_MODULE_INPUTS modules/sagemaker-endpoint: generated from its variables by `make docs`, do not edit
      async_inference = optional(object({
        error_topic_arn                         = optional(string)
        failure_s3_uri                          = optional(string)
        include_inference_response_in           = optional(list(string), [])
        kms_key_arn                             = optional(string)
        max_concurrent_invocations_per_instance = optional(number)
        output_s3_uri                           = string
        success_topic_arn                       = optional(string)
      }))
      data_capture = optional(object({
        capture_modes       = optional(list(string), ["Input", "Output"])
        csv_content_types   = optional(list(string), [])
        destination_s3_uri  = string
        enabled             = optional(bool, true)
        json_content_types  = optional(list(string), [])
        kms_key_arn         = optional(string)
        sampling_percentage = optional(number, 100)
      }))
      deployment = optional(object({
        canary_size = optional(object({
          type  = optional(string, "CAPACITY_PERCENT")
          value = number
        }))
        linear_step_size = optional(object({
          type  = optional(string, "CAPACITY_PERCENT")
          value = number
        }))
        maximum_execution_timeout_in_seconds = optional(number)
        rollback_alarm_names                 = optional(list(string), [])
        termination_wait_in_seconds          = optional(number, 0)
        traffic_shifting                     = optional(string, "ALL_AT_ONCE")
        wait_interval_in_seconds             = optional(number, 300)
      }), {})
      kms_key_arn = optional(string)
      logging = optional(object({
        kms_key_arn       = optional(string)
        retention_in_days = optional(number, 30)
      }), {})
      model = object({
        enable_network_isolation = optional(bool, false)
        environment              = optional(map(string), {})
        image                    = string
        kms_key_arn              = optional(string)
        mode                     = optional(string, "SingleModel")
        model_data_url           = optional(string)
        vpc_config = optional(object({
          security_group_ids = list(string)
          subnet_ids         = list(string)
        }))
      })
      s3_access = optional(object({
        kms_key_arns   = optional(list(string), [])
        read_prefixes  = optional(list(string), [])
        write_prefixes = optional(list(string), [])
      }), {})
      shadow_variant = optional(object({
        initial_instance_count = optional(number)
        initial_weight         = optional(number, 1)
        instance_type          = optional(string)
        model_name             = optional(string)
        name                   = string
        serverless = optional(object({
          max_concurrency         = number
          memory_size_in_mb       = number
          provisioned_concurrency = optional(number)
        }))
      }))
      variants = map(object({
        autoscaling = optional(object({
          max_capacity                    = number
          min_capacity                    = optional(number, 1)
          scale_in_cooldown               = optional(number, 300)
          scale_out_cooldown              = optional(number, 60)
          target_invocations_per_instance = number
        }))
        container_startup_health_check_timeout_in_seconds = optional(number)
        initial_instance_count                            = optional(number)
        initial_weight                                    = optional(number, 1)
        instance_type                                     = optional(string)
        model_data_download_timeout_in_seconds            = optional(number)
        serverless = optional(object({
          max_concurrency         = number
          memory_size_in_mb       = number
          provisioned_concurrency = optional(number)
        }))
        volume_size_in_gb = optional(number)
      }))
      # END_MODULE_INPUTS modules/sagemaker-endpoint
      execution_role_arn       = optional(string)
      permissions_boundary_arn = optional(string)
    }))
  })
  default = null

  validation {
    condition     = var.endpoint == null || can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint.name))
    error_message = "endpoint.name must be a SageMaker endpoint name: 1 to 63 letters, digits or hyphens, starting and ending with a letter or digit."
  }
}

variable "iam_roles" {
  description = <<-EOT
    The IAM roles the module creates: the functions' execution roles, the endpoint model's
    role (endpoint.create) and the role API Gateway assumes for direct SageMaker routes. Each
    is named <name>-<purpose>-<region> (IAM names are global to the account, so the region
    keeps two deployments of one name apart). path and permissions_boundary_arn apply to
    every created role (endpoint.create.permissions_boundary_arn, when set, wins for the
    model's role). use_name_prefix = true lets IAM complete each name with a unique suffix
    (names and ARNs are then known only after apply). arns brings existing roles, keyed
    predict, batch_predict, report_actuals or api_sagemaker (the model's role is
    endpoint.create.execution_role_arn): no role is created for those, and each must allow
    what its module's role_policy_json output lists.
  EOT
  type = object({
    arns                     = optional(map(string), {})
    path                     = optional(string, "/")
    permissions_boundary_arn = optional(string)
    use_name_prefix          = optional(bool, false)
  })
  default  = {}
  nullable = false

  validation {
    condition     = length(setsubtract(keys(var.iam_roles.arns), ["predict", "batch_predict", "report_actuals", "api_sagemaker"])) == 0
    error_message = "iam_roles.arns keys must be predict, batch_predict, report_actuals or api_sagemaker."
  }

  validation {
    condition     = alltrue([for arn in values(var.iam_roles.arns) : can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", arn))])
    error_message = "iam_roles.arns values must be IAM role ARNs, e.g. arn:aws:iam::123456789012:role/ml-predict."
  }

  # Path: "/" or /segment(s)/ of printable ASCII, at most 512 characters
  # (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html).
  validation {
    condition     = length(var.iam_roles.path) <= 512 && can(regex("^/([\\x21-\\x7E]+/)?$", var.iam_roles.path))
    error_message = "iam_roles.path must be \"/\" or begin and end with \"/\" (printable ASCII, at most 512 characters), e.g. \"/ml-gateway/\"."
  }

  validation {
    condition     = var.iam_roles.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", coalesce(var.iam_roles.permissions_boundary_arn, "-")))
    error_message = "iam_roles.permissions_boundary_arn must be the ARN of a managed policy, e.g. arn:aws:iam::123456789012:policy/boundary."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the metrics every function publishes (its POWERTOOLS_METRICS_NAMESPACE)."
  type        = string
  default     = "MlGateway"
  nullable    = false

  # CloudWatch namespaces: 1 to 255 characters, no leading colon
  # (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricData.html).
  validation {
    condition     = length(var.metrics_namespace) >= 1 && length(var.metrics_namespace) <= 255 && !startswith(var.metrics_namespace, ":")
    error_message = "metrics_namespace must be 1 to 255 characters and not start with a colon."
  }
}

variable "models" {
  description = <<-EOT
    Routing table of the prediction function: route name -> backend. "default" serves
    POST /predict and any other key serves POST /predict/{key}. Backends: sagemaker
    (InvokeEndpoint; endpoint_name null = the primary endpoint), amazon-ml (legacy realtime
    Predict with model_id and predict_endpoint) and http (a model server url speaking the
    sagemaker, kserve-v1 or mlflow protocol). Rendered to JSON for the function.
  EOT
  type = map(object({
    backend             = optional(string, "sagemaker")
    endpoint_name       = optional(string)
    content_type        = optional(string, "application/json")
    accept              = optional(string, "application/json")
    target_variant      = optional(string)
    target_model        = optional(string)
    inference_component = optional(string)
    custom_attributes   = optional(string)
    serverless          = optional(bool, false)
    model_id            = optional(string)
    predict_endpoint    = optional(string)
    url                 = optional(string)
    protocol            = optional(string, "sagemaker")
    feature_names       = optional(list(string))
    max_payload_bytes   = optional(number)
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for key in keys(var.models) : can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", key))])
    error_message = "models keys become URL path segments (/predict/{key}): use 1 to 63 lower-case letters, digits, hyphens or underscores."
  }

  validation {
    condition     = alltrue([for m in values(var.models) : contains(["sagemaker", "amazon-ml", "http"], m.backend)])
    error_message = "models backend must be sagemaker, amazon-ml or http."
  }

  validation {
    condition = alltrue([
      for m in values(var.models) :
      m.backend != "sagemaker" || length(compact([m.target_variant, m.target_model, m.inference_component])) <= 1
    ])
    error_message = "models: a sagemaker route sets at most one of target_variant, target_model and inference_component."
  }

  validation {
    condition     = alltrue([for m in values(var.models) : m.backend != "sagemaker" || var.endpoint != null || m.endpoint_name != null])
    error_message = "models: a sagemaker route with no endpoint_name uses the primary endpoint, so set var.endpoint or the route's endpoint_name."
  }

  validation {
    condition = alltrue([
      for m in values(var.models) :
      m.backend != "amazon-ml" || (m.model_id != null && can(regex("^https://realtime\\.machinelearning\\.[a-z0-9-]+\\.amazonaws\\.com$", coalesce(m.predict_endpoint, "-"))))
    ])
    error_message = "models: an amazon-ml route needs model_id and a predict_endpoint like https://realtime.machinelearning.us-east-1.amazonaws.com."
  }

  validation {
    condition     = alltrue([for m in values(var.models) : m.backend != "http" || can(regex("^https?://[^\\s/]+", coalesce(m.url, "-")))])
    error_message = "models: an http route needs a url starting with http:// or https://."
  }

  validation {
    condition     = alltrue([for m in values(var.models) : m.max_payload_bytes == null || try(m.max_payload_bytes >= 1024 && m.max_payload_bytes <= 6291456, false)])
    error_message = "models max_payload_bytes must be between 1024 and 6291456 (SageMaker's 6 MB real-time limit)."
  }

  validation {
    condition     = alltrue([for m in values(var.models) : m.feature_names == null || length(coalesce(m.feature_names, [])) > 0])
    error_message = "models feature_names, when set, must list the model's columns in order (a CSV model reads JSON records in this order)."
  }

  validation {
    condition     = alltrue([for m in values(var.models) : contains(["sagemaker", "kserve-v1", "mlflow"], m.protocol)])
    error_message = "models protocol must be sagemaker, kserve-v1 or mlflow."
  }
}

variable "monitoring" {
  description = <<-EOT
    CloudWatch alarms, a dashboard and blue/green rollback alarms for every part that is on
    (null = off). Alarms notify alarm_topic: an existing SNS topic of this region (arn), or a
    topic created and encrypted with kms_key_arn, a customer managed key whose policy lets
    cloudwatch.amazonaws.com use it, or with a key created for it when null. The AWS managed
    key alias/aws/sns cannot be used: CloudWatch cannot decrypt with it. Thresholds of a part
    that is off are ignored, so one monitoring block can serve roots with different parts.
    Rates are fractions (0.05 = 5 %) of the requests, invocations or rows of a period. Alarms
    on conditions (rates, latency,
    utilization) fire when datapoints_to_alarm of evaluation_periods periods breach; alarms
    on events (failed files, dropped events, queued failures) fire on one period.
    endpoint.rollback (default true) puts the created endpoint's 5XX-rate and model-latency
    alarms in its deployment's rollback_alarm_names when endpoint.create.deployment names
    none (at most 10, SageMaker's limit: every 5XX-rate alarm first, then latency alarms
    while room is left); endpoint.variant_names names the variants of an endpoint the module does not create.
  EOT
  type = object({
    alarm_topic = optional(object({
      arn         = optional(string)
      kms_key_arn = optional(string)
    }), {})
    dashboard           = optional(bool, true)
    period_seconds      = optional(number, 60)
    evaluation_periods  = optional(number, 5)
    datapoints_to_alarm = optional(number, 3)
    api = optional(object({
      error_4xx_rate     = optional(number, 0.25)
      error_5xx_rate     = optional(number, 0.05)
      latency_p99_ms     = optional(number, 10000)
      throttled_requests = optional(number, 10)
    }), {})
    functions = optional(object({
      duration_ratio            = optional(number, 0.8)
      error_rate                = optional(number, 0.05)
      failure_queue_age_seconds = optional(number, 3600)
      throttles                 = optional(number, 10)
    }), {})
    endpoint = optional(object({
      cpu_utilization_percent    = optional(number)
      error_5xx_rate             = optional(number, 0.01)
      memory_utilization_percent = optional(number, 90)
      model_error_rate           = optional(number, 0.05)
      model_latency_p99_ms       = optional(number, 2000)
      model_setup_time_ms        = optional(number, 60000)
      rollback                   = optional(bool, true)
      variant_names              = optional(list(string), ["AllTraffic"])
    }), {})
    batch = optional(object({
      files_rejected = optional(number, 1)
      row_error_rate = optional(number, 0.05)
    }), {})
    actuals = optional(object({
      files_failed  = optional(number, 1)
      rows_rejected = optional(number, 1)
    }), {})
  })
  default = null

  validation {
    condition = var.monitoring == null || alltrue([
      for rate in try([
        var.monitoring.api.error_4xx_rate, var.monitoring.api.error_5xx_rate, var.monitoring.functions.error_rate,
        var.monitoring.endpoint.error_5xx_rate, var.monitoring.endpoint.model_error_rate, var.monitoring.batch.row_error_rate,
        var.monitoring.functions.duration_ratio,
      ], [-1]) : rate > 0 && rate <= 1
    ])
    error_message = "monitoring: every rate (api.error_4xx_rate, api.error_5xx_rate, functions.error_rate, endpoint.error_5xx_rate, endpoint.model_error_rate, batch.row_error_rate) and functions.duration_ratio is a fraction above 0 and at most 1: write 5 % as 0.05."
  }

  validation {
    condition = var.monitoring == null || alltrue([
      for count in try([
        var.monitoring.api.throttled_requests, var.monitoring.functions.throttles, var.monitoring.batch.files_rejected, var.monitoring.actuals.files_failed,
        var.monitoring.actuals.rows_rejected,
      ], [-1]) : count >= 1 && floor(count) == count
    ])
    error_message = "monitoring: api.throttled_requests, functions.throttles, batch.files_rejected, actuals.files_failed and actuals.rows_rejected are counts: whole numbers of at least 1."
  }

  validation {
    condition = var.monitoring == null || try(
      var.monitoring.api.latency_p99_ms > 0 && var.monitoring.endpoint.model_latency_p99_ms > 0 && var.monitoring.endpoint.model_setup_time_ms > 0,
      false,
    )
    error_message = "monitoring: api.latency_p99_ms, endpoint.model_latency_p99_ms and endpoint.model_setup_time_ms are durations in milliseconds above 0."
  }

  validation {
    condition = var.monitoring == null || try(
      var.monitoring.endpoint.memory_utilization_percent > 0 && var.monitoring.endpoint.memory_utilization_percent <= 100 && (var.monitoring.endpoint.cpu_utilization_percent == null || var.monitoring.endpoint.cpu_utilization_percent > 0),
      false,
    )
    error_message = "monitoring: endpoint.memory_utilization_percent must be above 0 and at most 100, and endpoint.cpu_utilization_percent above 0 (it sums the instance's cores: up to 100 x vCPUs)."
  }

  # PutMetricAlarm: Period is 10, 20, 30 or a multiple of 60 (under 60 only for high-resolution
  # metrics, and every metric here is standard resolution); Period x EvaluationPeriods is at most
  # 7 days, and at most one day for a period under an hour; DatapointsToAlarm is at most
  # EvaluationPeriods (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html).
  validation {
    condition = var.monitoring == null || try(
      var.monitoring.period_seconds >= 60 && var.monitoring.period_seconds % 60 == 0 && var.monitoring.evaluation_periods >= 1 && floor(var.monitoring.evaluation_periods) == var.monitoring.evaluation_periods && var.monitoring.period_seconds * var.monitoring.evaluation_periods <= (var.monitoring.period_seconds < 3600 ? 86400 : 604800) && var.monitoring.datapoints_to_alarm >= 1 && floor(var.monitoring.datapoints_to_alarm) == var.monitoring.datapoints_to_alarm && var.monitoring.datapoints_to_alarm <= var.monitoring.evaluation_periods,
      false,
    )
    error_message = "monitoring: period_seconds must be a multiple of 60, evaluation_periods a whole number with period_seconds x evaluation_periods at most 86400 (one day) for periods under an hour and 604800 (7 days) otherwise, as CloudWatch allows, and datapoints_to_alarm a whole number from 1 to evaluation_periods."
  }

  # SQS publishes ApproximateAgeOfOldestMessage in seconds and keeps a message at most 14 days.
  validation {
    condition     = var.monitoring == null || try(var.monitoring.functions.failure_queue_age_seconds >= 60 && var.monitoring.functions.failure_queue_age_seconds <= 1209600, false)
    error_message = "monitoring.functions.failure_queue_age_seconds must be between 60 and 1209600 (14 days, the longest SQS keeps a message)."
  }

  validation {
    condition     = var.monitoring == null || try(length(var.monitoring.endpoint.variant_names) > 0 && alltrue([for v in var.monitoring.endpoint.variant_names : can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", v))]), false)
    error_message = "monitoring.endpoint.variant_names must name at least one production variant: 1 to 63 letters, digits or hyphens each."
  }

  validation {
    condition     = var.monitoring == null || try(var.monitoring.alarm_topic.arn == null, true) || can(regex("^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}(\\.fifo)?$", try(var.monitoring.alarm_topic.arn, "")))
    error_message = "monitoring.alarm_topic.arn must be an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)."
  }

  validation {
    condition     = var.monitoring == null || try(var.monitoring.alarm_topic.arn == null || var.monitoring.alarm_topic.kms_key_arn == null, true)
    error_message = "monitoring.alarm_topic: give arn (an existing topic, encrypted as you set it up) or kms_key_arn (for the topic created here), not both."
  }

  # CloudWatch alarms cannot publish to a topic encrypted with the AWS managed key: its policy
  # cannot be changed to let CloudWatch use it
  # (https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns).
  validation {
    condition     = var.monitoring == null || try(var.monitoring.alarm_topic.kms_key_arn == null, true) || can(regex("^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:(key/[a-zA-Z0-9-]+|alias/[a-zA-Z0-9/_-]+)$", try(var.monitoring.alarm_topic.kms_key_arn, ""))) && !can(regex(":alias/aws/", try(var.monitoring.alarm_topic.kms_key_arn, "")))
    error_message = "monitoring.alarm_topic.kms_key_arn must be the ARN of a customer managed KMS key (key/... or alias/...) whose policy allows cloudwatch.amazonaws.com kms:Decrypt and kms:GenerateDataKey*. The AWS managed key alias/aws/sns cannot be used: CloudWatch alarms cannot publish to a topic encrypted with it. Leave it null to have a key created."
  }
}

variable "name" {
  description = "Prefix of every resource name: lower-case letters, digits and hyphens, starting with a letter, at most 32 characters."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 32 lower-case letters, digits or hyphens, start with a letter and not end with a hyphen: it prefixes every resource name."
  }
}

variable "s3_trigger_mode" {
  description = "How S3 events reach the pipeline functions: \"notification\" (the module owns each bucket's one notification configuration), \"eventbridge\" (the module turns EventBridge delivery on, which replaces the bucket's notification configuration, and matches events with rules) or \"eventbridge-existing\" (EventBridge delivery is already on: only rules, targets and permissions are created)."
  type        = string
  default     = "notification"
  nullable    = false

  validation {
    condition     = contains(["notification", "eventbridge", "eventbridge-existing"], var.s3_trigger_mode)
    error_message = "s3_trigger_mode must be notification, eventbridge or eventbridge-existing."
  }
}

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
  nullable    = false
}
