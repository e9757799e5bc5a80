variable "account_cloudwatch_role" {
  description = <<-EOT
    The region's API Gateway CloudWatch Logs role, which execution logging and access logging
    both need (AWS refuses a stage that logs without it: "CloudWatch Logs role ARN must be set in
    account settings to enable logging"). One of:
    - "none" (default): the region has none. Stages log nothing unless they ask, and asking fails
      validation. A fresh account applies.
    - "existing": the account already has the role set in this region. Stages default to ERROR
      execution logs and JSON access logs.
    - "create": this module creates the role (AmazonAPIGatewayPushToCloudWatchLogs) and sets it as
      the account setting (aws_api_gateway_account); same stage defaults as "existing".
    The setting is one per account and region and applies to every REST API there: "create"
    replaces the role that any other API in the region logs with. Destroying it (terraform destroy,
    or leaving "create") deletes the role and, with hashicorp/aws 6.x, resets the account setting,
    so the region's other APIs can no longer write logs and enabling logging on any stage fails
    until a role is set again. Use "create" in exactly one stack per region, "existing" everywhere
    else. To give up ownership without the reset, first forget the setting, the role and its
    policy attachment with terraform state rm (a removed block cannot, as the module still declares
    them; the module README lists the addresses), and switch to "existing" before the next apply.
  EOT
  type        = string
  default     = "none"
  nullable    = false

  validation {
    condition     = contains(["none", "existing", "create"], var.account_cloudwatch_role)
    error_message = "account_cloudwatch_role must be \"none\" (the region has no API Gateway CloudWatch role: no logging), \"existing\" (the account already has it) or \"create\" (this module creates and sets it)."
  }
}

variable "api_keys" {
  description = <<-EOT
    API keys, keyed by key name, each attached to one usage plan (a key of usage_plans).
    enabled = false keeps the key but refuses its requests. value supplies the key itself (at
    least 20 characters); null lets API Gateway generate one. The whole map is sensitive
    because of the values.
  EOT
  type = map(object({
    description = optional(string)
    enabled     = optional(bool, true)
    usage_plan  = string
    value       = optional(string)
  }))
  default   = {}
  nullable  = false
  sensitive = true

  validation {
    condition     = alltrue([for k in keys(var.api_keys) : can(regex("^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$", k))])
    error_message = "api_keys keys become key names: 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit."
  }

  validation {
    condition     = alltrue([for k in values(var.api_keys) : contains(keys(var.usage_plans), k.usage_plan)])
    error_message = "api_keys: usage_plan must name a key of usage_plans; unknown plan(s): ${join(", ", nonsensitive(sort(distinct([for k in values(var.api_keys) : k.usage_plan if !contains(keys(var.usage_plans), k.usage_plan)]))))}."
  }

  validation {
    condition     = alltrue([for k in values(var.api_keys) : k.value == null || length(coalesce(k.value, "x")) >= 20])
    error_message = "api_keys: a supplied value must be at least 20 characters long (API Gateway's minimum); leave value null to have one generated."
  }
}

variable "authorizers" {
  description = <<-EOT
    Authorizers that routes name in their authorizer field. COGNITO_USER_POOLS takes the user
    pool ARNs; TOKEN and REQUEST are Lambda authorizers and take the function's name and invoke
    ARN (the module grants API Gateway permission to invoke it). identity_source is where the
    token is read from; result_ttl_in_seconds caches the decision (0 to 3600).
  EOT
  type = map(object({
    function_invoke_arn            = optional(string)
    function_name                  = optional(string)
    identity_source                = optional(string, "method.request.header.Authorization")
    identity_validation_expression = optional(string)
    provider_arns                  = optional(list(string), [])
    result_ttl_in_seconds          = optional(number, 300)
    type                           = string
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for k in keys(var.authorizers) : can(regex("^[a-z][a-z0-9_-]{0,47}$", k))])
    error_message = "authorizers keys must be 1 to 48 lower-case letters, digits, '_' or '-', starting with a letter."
  }

  validation {
    condition     = alltrue([for a in values(var.authorizers) : contains(["COGNITO_USER_POOLS", "TOKEN", "REQUEST"], a.type)])
    error_message = "authorizers: type must be COGNITO_USER_POOLS, TOKEN or REQUEST (the last two are Lambda authorizers)."
  }

  validation {
    condition     = alltrue([for a in values(var.authorizers) : a.type != "COGNITO_USER_POOLS" || length(a.provider_arns) > 0])
    error_message = "authorizers: a COGNITO_USER_POOLS authorizer needs provider_arns, the ARNs of its user pools."
  }

  validation {
    condition     = alltrue([for a in values(var.authorizers) : a.type == "COGNITO_USER_POOLS" || (a.function_name != null && a.function_invoke_arn != null)])
    error_message = "authorizers: a TOKEN or REQUEST (Lambda) authorizer needs function_name and function_invoke_arn."
  }

  validation {
    condition     = alltrue([for a in values(var.authorizers) : a.result_ttl_in_seconds >= 0 && a.result_ttl_in_seconds <= 3600])
    error_message = "authorizers: result_ttl_in_seconds must be between 0 and 3600."
  }
}

variable "binary_media_types" {
  description = <<-EOT
    Media types API Gateway treats as binary (x-amazon-apigateway-binary-media-types), for example
    ["image/png", "application/octet-stream"] or ["*/*"]. A request or answer in one of them is
    passed to a Lambda-proxy function base64-encoded (isBase64Encoded) and decoded on the way back;
    any other is text. Empty (default): every payload is text.
  EOT
  type        = list(string)
  default     = []
  nullable    = false

  validation {
    condition     = alltrue([for t in var.binary_media_types : can(regex("^[A-Za-z0-9*][A-Za-z0-9!#$&^_.+*-]*/[A-Za-z0-9*][A-Za-z0-9!#$&^_.+*-]*$", t))])
    error_message = "binary_media_types: each entry must be a media type such as image/png, application/octet-stream or */*."
  }
}

variable "cors" {
  description = <<-EOT
    Cross-origin requests from browsers. Null: no CORS. Otherwise every route path answers
    OPTIONS preflight requests itself (no API key, no authorization), and gateway responses and
    direct SageMaker responses carry Access-Control-Allow-Origin. Lambda-proxy responses are the
    function's own: it must add the header.
  EOT
  type = object({
    allow_headers = optional(list(string), ["Authorization", "Content-Type", "X-Amz-Date", "X-Amz-Security-Token", "X-Api-Key"])
    allow_origin  = string
    max_age       = optional(number, 600)
  })
  default = null

  validation {
    condition     = var.cors == null || try(length(var.cors.allow_origin) > 0 && !strcontains(var.cors.allow_origin, "'"), false)
    error_message = "cors.allow_origin must be one origin (for example https://app.example.com) or \"*\", without quotes."
  }
}

variable "default_endpoint_name" {
  description = "SageMaker endpoint invoked by every sagemaker route whose endpoint_name is null."
  type        = string
  default     = null

  validation {
    condition     = var.default_endpoint_name == null || can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.default_endpoint_name))
    error_message = "default_endpoint_name must be a SageMaker endpoint name: up to 63 letters, digits and hyphens."
  }
}

variable "description" {
  description = "Description of the REST API shown in the API Gateway console."
  type        = string
  default     = null
}

variable "disable_execute_api_endpoint" {
  description = "Turn off the API's default https://<id>.execute-api.<region>.amazonaws.com endpoint, so that clients reach it only through a custom domain (x-amazon-apigateway-endpoint-configuration disableExecuteApiEndpoint)."
  type        = bool
  default     = false
  nullable    = false
}

variable "endpoint_configuration" {
  description = <<-EOT
    Endpoint type of the API: REGIONAL (default), EDGE (through CloudFront) or PRIVATE
    (reachable only through the interface VPC endpoints listed in vpc_endpoint_ids; the module
    then attaches a resource policy that admits only those endpoints unless resource_policy is set).
  EOT
  type = object({
    type             = optional(string, "REGIONAL")
    vpc_endpoint_ids = optional(list(string), [])
  })
  default  = {}
  nullable = false

  validation {
    condition     = contains(["REGIONAL", "EDGE", "PRIVATE"], var.endpoint_configuration.type)
    error_message = "endpoint_configuration.type must be REGIONAL, EDGE or PRIVATE."
  }

  validation {
    condition     = (var.endpoint_configuration.type == "PRIVATE") == (length(var.endpoint_configuration.vpc_endpoint_ids) > 0)
    error_message = "endpoint_configuration: a PRIVATE API needs vpc_endpoint_ids, and only a PRIVATE API takes them."
  }
}

variable "iam_role" {
  description = <<-EOT
    The roles the module creates: the one API Gateway assumes for direct SageMaker routes,
    named <name>-apigateway-sagemaker-<region>, and the account-level CloudWatch role
    (account_cloudwatch_role = "create"), <name>-apigateway-cloudwatch-<region>. IAM names are
    global to the account, so the region keeps two deployments apart. name sets the SageMaker
    role's exact name; name_prefix lets IAM complete both names with a unique suffix (known
    only after apply); path and permissions_boundary_arn apply to both. arn brings an
    existing role for the SageMaker routes: none is created, and that role must trust
    apigateway.amazonaws.com and allow sagemaker:InvokeEndpoint on the routes' endpoints. A
    new name or path replaces the SageMaker role, the new one first: change the name along
    with the path of a role named explicitly.
  EOT
  type = object({
    arn                      = optional(string)
    name                     = optional(string)
    name_prefix              = optional(string)
    path                     = optional(string, "/")
    permissions_boundary_arn = optional(string)
  })
  default  = {}
  nullable = false

  # Validated where every module's role is named: modules/iam-role-name.
}

variable "lambda_function" {
  description = "The function that lambda_proxy routes invoke: its name or ARN (the document's invoke URI is built from it, so it is known at plan time; the invoke permissions name it) and its invoke ARN, which must name the same function (modules/lambda-function outputs function_name and invoke_arn). Required when any route is lambda_proxy."
  type = object({
    function_name = string
    invoke_arn    = string
  })
  default = null
}

variable "minimum_compression_size" {
  description = <<-EOT
    Smallest answer, in bytes, that API Gateway compresses for clients that accept it
    (x-amazon-apigateway-minimum-compression-size): 0 compresses every answer, null (default)
    turns compression off.
  EOT
  type        = number
  default     = null

  # RestApi.minimumCompressionSize: "non-negative between 0 and 10485760 (10M) bytes, inclusive"
  # (https://docs.aws.amazon.com/apigateway/latest/api/API_RestApi.html); null disables compression.
  validation {
    condition     = var.minimum_compression_size == null || try(var.minimum_compression_size >= 0 && var.minimum_compression_size <= 10485760 && floor(var.minimum_compression_size) == var.minimum_compression_size, false)
    error_message = "minimum_compression_size must be a whole number of bytes from 0 to 10485760 (10 MB), API Gateway's range, or null to turn compression off."
  }
}

variable "name" {
  description = "Name of the REST API and prefix of its roles, validators and log groups: lower-case letters, digits and hyphens, at most 40 characters."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 40 lower-case letters, digits or hyphens, starting with a letter and not ending with a hyphen (it prefixes role names, which AWS limits to 64 characters)."
  }
}

variable "resource_policy" {
  description = "Resource policy of the API as a JSON document (use \"execute-api:/*\" as the resource). Null: none, except for a PRIVATE API, which gets a policy admitting only its VPC endpoints."
  type        = string
  default     = null

  validation {
    condition     = var.resource_policy == null || can(jsondecode(var.resource_policy).Statement)
    error_message = "resource_policy must be a JSON policy document with a Statement."
  }
}

variable "routes" {
  description = <<-EOT
    The API's routes, keyed by a stable route name. type lambda_proxy sends the request to
    lambda_function (method ANY allowed); type sagemaker is a direct AWS integration with the
    SageMaker runtime (InvokeEndpoint on endpoint_name, or default_endpoint_name when null).
    path is relative to the API root, with {name} path parameters ({name+} greedy, last segment
    only). api_key_required is true unless switched off. authorization: NONE, AWS_IAM,
    COGNITO_USER_POOLS or CUSTOM (the last two name an authorizer). query_parameters and
    header_parameters map a name to whether it is required; path parameters are always required;
    a request validator checks them, and the body against request_schema (a JSON schema, draft 4)
    when set. cache_key_parameters lists method.request.* parameters that key the stage cache.
    Direct SageMaker routes: mapping "passthrough" sends the body as it is (in each of
    content_types), "ratings" is the bundled GET /predicted-ratings/{user_id}?items=... mapping
    (items becomes a required query parameter); request_template and response_template replace
    the bundled templates with your own VTL; accept, target_variant, target_model and
    inference_component become InvokeEndpoint headers, and forward_custom_attributes passes the
    client's X-Amzn-SageMaker-Custom-Attributes header through.
  EOT
  type = map(object({
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
  }))
  nullable = false

  validation {
    condition     = length(var.routes) > 0
    error_message = "routes must hold at least one route."
  }

  validation {
    condition     = alltrue([for k in keys(var.routes) : can(regex("^[a-z][a-z0-9_-]{0,47}$", k))])
    error_message = "routes keys must be 1 to 48 lower-case letters, digits, '_' or '-', starting with a letter (they name permissions and models)."
  }

  validation {
    condition     = alltrue([for r in values(var.routes) : contains(["lambda_proxy", "sagemaker"], r.type)])
    error_message = "routes: type must be lambda_proxy or sagemaker; unknown type(s): ${join(", ", sort(distinct([for r in values(var.routes) : r.type if !contains(["lambda_proxy", "sagemaker"], r.type)])))}."
  }

  validation {
    condition     = alltrue([for r in values(var.routes) : contains(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"], upper(r.method))])
    error_message = "routes: method must be GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS or ANY."
  }

  validation {
    condition     = alltrue([for r in values(var.routes) : upper(r.method) != "ANY" || r.type == "lambda_proxy"])
    error_message = "routes: method ANY is allowed only on lambda_proxy routes; a sagemaker route serves one method."
  }

  # API Gateway refuses any other resource path part with BadRequestException "Resource's path
  # part only allow a-zA-Z0-9._- and curly braces at the beginning and the end and an optional
  # plus sign before the closing brace" (https://github.com/claudiajs/claudia/issues/11,
  # https://github.com/getmoto/moto/blob/master/moto/apigateway/exceptions.py). A ':' is reported
  # to pass the console (https://github.com/aws/aws-cdk/issues/22477), but the module keeps to the
  # documented characters: a path also becomes part of execute-api ARNs in Lambda permissions.
  # Parameter names are further limited to letters, digits and '_' (they become
  # method.request.path.<name>).
  validation {
    condition = alltrue([for r in values(var.routes) : trim(r.path, "/") != "" && alltrue([
      for i, s in split("/", trim(r.path, "/")) : can(regex("^([A-Za-z0-9._-]+|\\{[A-Za-z0-9_]+\\}|\\{[A-Za-z0-9_]+\\+\\})$", s)) && (!endswith(s, "+}") || i == length(split("/", trim(r.path, "/"))) - 1)
    ])])
    error_message = "routes: invalid path(s) ${join(", ", [for k, r in var.routes : "${k} (\"${r.path}\")" if !(trim(r.path, "/") != "" && alltrue([for i, s in split("/", trim(r.path, "/")) : can(regex("^([A-Za-z0-9._-]+|\\{[A-Za-z0-9_]+\\}|\\{[A-Za-z0-9_]+\\+\\})$", s)) && (!endswith(s, "+}") || i == length(split("/", trim(r.path, "/"))) - 1)]))])}: a path is one or more segments separated by '/', each letters, digits, '.', '_' or '-' (API Gateway refuses other characters in a path part), or a {parameter} of letters, digits and '_'; a greedy {parameter+} only as the last segment. The API root itself cannot be a route."
  }

  validation {
    condition     = length(distinct([for r in values(var.routes) : "${upper(r.method)} /${trim(r.path, "/")}"])) == length(var.routes)
    error_message = "routes: two routes serve the same method and path: ${join("; ", [for route in distinct([for r in values(var.routes) : "${upper(r.method)} /${trim(r.path, "/")}"]) : "${join(" and ", sort([for k, r in var.routes : k if "${upper(r.method)} /${trim(r.path, "/")}" == route]))} both serve ${route}" if length([for r in values(var.routes) : r if "${upper(r.method)} /${trim(r.path, "/")}" == route]) > 1])}. Give each method and path one route."
  }

  # API Gateway allows one {parameter} child per resource: /users/{id} and /users/{user_id}/items
  # cannot both exist.
  validation {
    condition = length(flatten([
      for a, ra in var.routes : [
        for b, rb in var.routes : [
          for i, s in split("/", trim(ra.path, "/")) : true
          if a != b && length(split("/", trim(rb.path, "/"))) > i && startswith(s, "{") && startswith(try(split("/", trim(rb.path, "/"))[i], ""), "{") && s != try(split("/", trim(rb.path, "/"))[i], "") && join("/", slice(split("/", trim(ra.path, "/")), 0, i)) == join("/", slice(split("/", trim(rb.path, "/")), 0, i))
        ]
      ]
    ])) == 0
    error_message = "routes: paths that share a prefix must use the same parameter name at the same position (API Gateway allows one {parameter} child per resource): ${join("; ", distinct(flatten([
      for a, ra in var.routes : [
        for b, rb in var.routes : [
          for i, s in split("/", trim(ra.path, "/")) : "route ${a} has ${s} where route ${b} has ${split("/", trim(rb.path, "/"))[i]}, after /${join("/", slice(split("/", trim(ra.path, "/")), 0, i))}"
          if sort([a, b])[0] == a && a != b && length(split("/", trim(rb.path, "/"))) > i && startswith(s, "{") && startswith(try(split("/", trim(rb.path, "/"))[i], ""), "{") && s != try(split("/", trim(rb.path, "/"))[i], "") && join("/", slice(split("/", trim(ra.path, "/")), 0, i)) == join("/", slice(split("/", trim(rb.path, "/")), 0, i))
        ]
      ]
    ])))}."
  }

  validation {
    condition     = alltrue([for r in values(var.routes) : contains(["NONE", "AWS_IAM", "COGNITO_USER_POOLS", "CUSTOM"], r.authorization)])
    error_message = "routes: authorization must be NONE, AWS_IAM, COGNITO_USER_POOLS or CUSTOM (a Lambda authorizer)."
  }

  validation {
    condition = alltrue([for r in values(var.routes) : contains(["NONE", "AWS_IAM"], r.authorization) ? r.authorizer == null : (
      r.authorizer != null && contains(r.authorization == "COGNITO_USER_POOLS" ? ["COGNITO_USER_POOLS"] : ["TOKEN", "REQUEST"], try(var.authorizers[r.authorizer].type, ""))
    )])
    error_message = "routes: authorization COGNITO_USER_POOLS needs authorizer = the key of a COGNITO_USER_POOLS authorizer, CUSTOM the key of a TOKEN or REQUEST authorizer; NONE and AWS_IAM take no authorizer."
  }

  validation {
    condition     = alltrue([for r in values(var.routes) : r.type != "sagemaker" || r.endpoint_name != null || var.default_endpoint_name != null])
    error_message = "routes: a sagemaker route needs endpoint_name, or set default_endpoint_name."
  }

  validation {
    condition     = alltrue([for r in values(var.routes) : r.endpoint_name == null || can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", r.endpoint_name))])
    error_message = "routes: endpoint_name must be a SageMaker endpoint name: up to 63 letters, digits and hyphens."
  }

  validation {
    condition     = var.lambda_function != null || alltrue([for r in values(var.routes) : r.type != "lambda_proxy"])
    error_message = "routes: lambda_proxy routes need lambda_function (the function's name and invoke ARN)."
  }

  validation {
    condition     = alltrue([for r in values(var.routes) : contains(["passthrough", "ratings"], r.mapping)])
    error_message = "routes: mapping must be passthrough or ratings."
  }

  validation {
    condition     = alltrue([for r in values(var.routes) : r.mapping != "ratings" || (r.type == "sagemaker" && upper(r.method) == "GET" && strcontains(r.path, "{user_id}"))])
    error_message = "routes: mapping ratings is a GET sagemaker route whose path holds {user_id}, e.g. predicted-ratings/{user_id}."
  }

  validation {
    condition     = alltrue([for r in values(var.routes) : r.type == "sagemaker" || (r.mapping == "passthrough" && r.request_template == null && r.response_template == null)])
    error_message = "routes: mapping, request_template and response_template apply to sagemaker routes only; a lambda_proxy route receives the request as it is."
  }

  validation {
    condition     = alltrue([for r in values(var.routes) : length(r.content_types) > 0 && alltrue([for c in r.content_types : can(regex("^[a-z]+/[a-z0-9.+-]+$", c))])])
    error_message = "routes: content_types must list at least one media type such as application/json or text/csv."
  }

  validation {
    condition     = alltrue([for r in values(var.routes) : length(compact([r.target_variant, r.target_model, r.inference_component])) <= 1])
    error_message = "routes: set at most one of target_variant, target_model and inference_component."
  }

  validation {
    condition     = alltrue([for r in values(var.routes) : r.request_schema == null || can(jsondecode(r.request_schema))])
    error_message = "routes: request_schema must be a JSON schema document (draft 4), e.g. jsonencode({ type = \"object\", required = [\"instances\"] })."
  }

  validation {
    condition     = alltrue([for r in values(var.routes) : r.timeout_milliseconds >= 50 && r.timeout_milliseconds <= 29000])
    error_message = "routes: timeout_milliseconds must be between 50 and 29000, API Gateway's integration timeout."
  }

  validation {
    condition = alltrue([for r in values(var.routes) : alltrue([for p in r.cache_key_parameters : contains(concat(
      [for s in split("/", trim(r.path, "/")) : "method.request.path.${trimsuffix(trim(s, "{}"), "+")}" if startswith(s, "{")],
      [for q in keys(r.query_parameters) : "method.request.querystring.${q}"],
      [for h in keys(r.header_parameters) : "method.request.header.${h}"],
      r.mapping == "ratings" ? ["method.request.querystring.items"] : [],
    ), p)])])
    error_message = "routes: cache_key_parameters must name the route's own parameters as method.request.path.<name>, method.request.querystring.<name> or method.request.header.<name>."
  }

  validation {
    condition     = var.cors == null || alltrue([for r in values(var.routes) : upper(r.method) != "OPTIONS"])
    error_message = "routes: with cors set the module answers OPTIONS itself; remove the OPTIONS routes or set cors = null."
  }
}

variable "stages" {
  description = <<-EOT
    Stages, keyed by stage name (it appears in the invoke URL). Each has stage variables,
    default throttling (throttle) and per-route throttling (method_throttles, keyed by route
    name), execution logging (logging_level OFF, ERROR or INFO; data_trace logs full requests),
    CloudWatch metrics, JSON access logs (access_log_format overrides the module's format) in a
    log group with retention, X-Ray, an optional cache cluster (GET routes are cached, keyed by
    their cache_key_parameters) and an optional WAF web ACL association. Execution and access
    logging need the region's API Gateway CloudWatch role (account_cloudwatch_role): left null,
    logging_level is ERROR and access_logs true where the role is "existing" or "create", OFF
    and false where it is "none". A stage serving routes that need an API key must be in one of
    usage_plans, or set external_usage_plans = true when a usage plan managed elsewhere (for
    example one shared by several APIs) covers it.
  EOT
  type = map(object({
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
  }))
  default  = { prod = {} }
  nullable = false

  validation {
    condition     = length(var.stages) > 0
    error_message = "stages must hold at least one stage: a REST API is only reachable through a stage."
  }

  validation {
    condition     = alltrue([for k in keys(var.stages) : can(regex("^[A-Za-z0-9_-]{1,128}$", k))])
    error_message = "stages: invalid stage name(s) ${join(", ", [for k in keys(var.stages) : "\"${k}\"" if !can(regex("^[A-Za-z0-9_-]{1,128}$", k))])}: a stage name is 1 to 128 letters, digits, hyphens or underscores."
  }

  validation {
    condition     = alltrue([for s in values(var.stages) : s.logging_level == null || contains(["OFF", "ERROR", "INFO"], coalesce(s.logging_level, "OFF"))])
    error_message = "stages: logging_level must be OFF, ERROR or INFO."
  }

  validation {
    condition     = var.account_cloudwatch_role != "none" || alltrue([for s in values(var.stages) : coalesce(s.logging_level, "OFF") == "OFF" && !s.data_trace && !coalesce(s.access_logs, false)])
    error_message = "stages: execution logging (logging_level ERROR or INFO, data_trace) and access logs need the region's API Gateway CloudWatch role, and account_cloudwatch_role = \"none\" says there is none: AWS would refuse the stage with \"CloudWatch Logs role ARN must be set in account settings to enable logging\". Set account_cloudwatch_role = \"create\" (this module sets the role) or \"existing\" (the account already has it), or turn the stage's logging off."
  }

  validation {
    condition     = alltrue([for s in values(var.stages) : contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], s.log_retention_in_days)])
    error_message = "stages: log_retention_in_days must be one of the values CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653."
  }

  validation {
    condition     = alltrue([for s in values(var.stages) : s.cache == null || contains(["0.5", "1.6", "6.1", "13.5", "28.4", "58.2", "118", "237"], try(s.cache.size, ""))])
    error_message = "stages: cache.size must be one of 0.5, 1.6, 6.1, 13.5, 28.4, 58.2, 118 or 237 (GB)."
  }

  validation {
    condition     = alltrue([for s in values(var.stages) : s.cache == null || (try(s.cache.ttl_in_seconds, -1) >= 0 && try(s.cache.ttl_in_seconds, -1) <= 3600)])
    error_message = "stages: cache.ttl_in_seconds must be between 0 and 3600."
  }

  validation {
    condition     = alltrue([for s in values(var.stages) : alltrue([for t in concat(s.throttle == null ? [] : [s.throttle], values(s.method_throttles)) : t.rate >= 0 && t.burst >= 0 && floor(t.burst) == t.burst])])
    error_message = "stages: throttle and method_throttles need a non-negative rate (requests per second) and a whole, non-negative burst."
  }

  validation {
    condition     = alltrue([for s in values(var.stages) : alltrue([for r in keys(s.method_throttles) : contains(keys(var.routes), r) && upper(try(var.routes[r].method, "ANY")) != "ANY"])])
    error_message = "stages: method_throttles keys must be route names (keys of routes) of routes with a single method, not ANY."
  }

  validation {
    condition     = alltrue([for s in values(var.stages) : s.access_log_format == null || can(jsondecode(coalesce(s.access_log_format, "{}")))])
    error_message = "stages: access_log_format must be a JSON object of $context variables, so that each access log line is JSON."
  }

  validation {
    condition     = alltrue([for s in values(var.stages) : alltrue([for k in keys(s.variables) : can(regex("^[A-Za-z0-9_]+$", k))])])
    error_message = "stages: variables names may hold only letters, digits and underscores."
  }
}

variable "tags" {
  description = "Tags for every resource of the module that takes tags."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "usage_plans" {
  description = <<-EOT
    Usage plans, keyed by plan name: the stages each applies to (keys of stages), default
    throttling of each key (rate in requests per second, burst), a quota (limit per DAY, WEEK or
    MONTH; offset 0 for DAY, 0 to 6 for WEEK, 0 to 27 for MONTH, which hashicorp/aws enforces) and
    per-route throttles (method_throttles, keyed by route name). A client over its throttle gets
    429 Throttled, over its quota 429 QuotaExceeded. external_keys = true says the plan's keys are
    attached outside this module (through the usage_plan_ids output), which silences the warning
    about a keyed stage whose plans have no key in api_keys.
  EOT
  type = map(object({
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
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for p in values(var.usage_plans) : length(p.stages) > 0])
    error_message = "usage_plans: each plan needs at least one stage in stages."
  }

  validation {
    condition     = alltrue([for p in values(var.usage_plans) : alltrue([for s in p.stages : contains(keys(var.stages), s)])])
    error_message = "usage_plans: stages must name keys of stages; unknown stage(s): ${join(", ", sort(distinct(flatten([for p in values(var.usage_plans) : [for s in p.stages : s if !contains(keys(var.stages), s)]]))))}."
  }

  validation {
    condition     = alltrue([for p in values(var.usage_plans) : p.quota == null || (contains(["DAY", "WEEK", "MONTH"], try(p.quota.period, "")) && try(p.quota.limit, 0) > 0)])
    error_message = "usage_plans: quota needs a positive limit and a period of DAY, WEEK or MONTH."
  }

  # hashicorp/aws refuses any other offset on create and update, before calling AWS
  # (validUsagePlanQuotaSettings in
  # https://github.com/hashicorp/terraform-provider-aws/blob/main/internal/service/apigateway/validate.go).
  # AWS's pages disagree on what the offset means: the current API reference and CloudFormation
  # call it the number of requests subtracted from the limit in the first period; the legacy API
  # reference calls it the day the period starts on (WEEK: 0 = Sunday).
  validation {
    condition = alltrue([for p in values(var.usage_plans) : p.quota == null || try(
      floor(p.quota.offset) == p.quota.offset && p.quota.offset >= 0 && p.quota.offset <= lookup({ DAY = 0, WEEK = 6, MONTH = 27 }, p.quota.period, 0),
      false
    )])
    error_message = "usage_plans: quota.offset must be 0 for a DAY quota, 0 to 6 for WEEK and 0 to 27 for MONTH: hashicorp/aws refuses any other value (\"Usage Plan quota offset must be ...\")."
  }

  # AWS refuses per-method throttles in a plan without a plan-wide throttle: "Can not define fine
  # grain throttling if usage plan throttle is not defined" (https://github.com/aws/aws-cdk/pull/6411).
  validation {
    condition     = alltrue([for p in values(var.usage_plans) : length(p.method_throttles) == 0 || p.throttle != null])
    error_message = "usage_plans: a plan with method_throttles needs throttle too: AWS refuses per-route throttling in a usage plan that has no plan-wide throttle."
  }

  validation {
    condition     = alltrue([for p in values(var.usage_plans) : alltrue([for t in concat(p.throttle == null ? [] : [p.throttle], values(p.method_throttles)) : t.rate >= 0 && t.burst >= 0 && floor(t.burst) == t.burst])])
    error_message = "usage_plans: throttle and method_throttles need a non-negative rate (requests per second) and a whole, non-negative burst."
  }

  validation {
    condition     = alltrue([for p in values(var.usage_plans) : alltrue([for r in keys(p.method_throttles) : contains(keys(var.routes), r) && upper(try(var.routes[r].method, "ANY")) != "ANY"])])
    error_message = "usage_plans: method_throttles keys must be route names (keys of routes) of routes with a single method, not ANY."
  }
}

variable "custom_domain" {
  description = <<-EOT
    A custom domain name for the API (null: none; clients use the execute-api invoke URLs).
    domain_name is the host name clients call (api.example.com) and certificate_arn the ACM
    certificate that covers it: in us-east-1 for an EDGE domain, in the API's region for a
    REGIONAL one. endpoint_type REGIONAL (default) serves the domain from the API's region, EDGE
    through a CloudFront distribution that API Gateway manages. security_policy is the TLS policy
    (TLS_1_2 by default; the enhanced SecurityPolicy_* policies need endpoint_access_mode BASIC
    or STRICT, and those ending in _EDGE are for EDGE domains). ip_address_type "dualstack"
    (default) answers IPv4 and IPv6 clients, "ipv4" IPv4 only. base_paths maps stage names to
    the base path each is served under ("" or null: the domain's root); left null, every stage
    is served under its own name (https://api.example.com/prod). route53_zone_id, when set,
    creates alias records for the domain in that public hosted zone: A, and AAAA for a
    dualstack domain. Otherwise point your DNS at the target_domain_name output. Set
    disable_execute_api_endpoint = true once clients use the domain, so that the execute-api
    URLs stop answering.
  EOT
  type = object({
    base_paths           = optional(map(string))
    certificate_arn      = optional(string)
    domain_name          = string
    endpoint_access_mode = optional(string)
    endpoint_type        = optional(string, "REGIONAL")
    ip_address_type      = optional(string, "dualstack")
    route53_zone_id      = optional(string)
    security_policy      = optional(string, "TLS_1_2")
  })
  default = null

  validation {
    condition     = var.custom_domain == null || can(regex("^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{2,63}$", var.custom_domain.domain_name))
    error_message = "custom_domain.domain_name must be a fully qualified host name such as api.example.com (labels of letters, digits and hyphens separated by dots; wildcard names are not supported by this module)."
  }

  # API Gateway serves a custom domain only over TLS with an ACM certificate covering it:
  # https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-custom-domains-prerequisites.html
  validation {
    condition     = var.custom_domain == null || try(var.custom_domain.certificate_arn != null, false)
    error_message = "custom_domain.certificate_arn is required: API Gateway serves a custom domain name only with an ACM certificate that covers it. Request or import one in ACM (in us-east-1 for an EDGE domain, in the API's region for a REGIONAL one) and pass its ARN."
  }

  validation {
    condition     = try(var.custom_domain.certificate_arn, null) == null || can(regex("^arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[A-Za-z0-9-]+$", var.custom_domain.certificate_arn))
    error_message = "custom_domain.certificate_arn must be an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>): ACM is the only certificate source API Gateway accepts for a domain name."
  }

  validation {
    condition     = var.custom_domain == null || contains(["REGIONAL", "EDGE"], try(var.custom_domain.endpoint_type, ""))
    error_message = "custom_domain.endpoint_type must be REGIONAL (served from the API's region) or EDGE (through CloudFront)."
  }

  # An edge-optimized domain name takes its certificate from us-east-1 whatever the API's region:
  # https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-custom-domains-prerequisites.html
  # and https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-edge-optimized-custom-domain-name.html
  # (the REGIONAL rule, the API's own region, is a precondition of the domain name: domain.tf).
  validation {
    condition     = try(var.custom_domain.endpoint_type, null) != "EDGE" || try(split(":", var.custom_domain.certificate_arn)[3] == "us-east-1", true)
    error_message = "custom_domain: an EDGE domain needs its ACM certificate in us-east-1 (US East, N. Virginia), whatever the API's region; request or import the certificate there, or use endpoint_type = \"REGIONAL\" with a certificate in the API's region."
  }

  # Security policies per endpoint type, and the endpoint access mode that the enhanced
  # (SecurityPolicy_*) policies require and the legacy ones do not take:
  # https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-security-policies-list.html
  # https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-security-policies.html
  # (botocore apigateway service-2.json SecurityPolicy and EndpointAccessMode list the same values).
  # The legacy TLS_1_0 policy, which AWS still accepts, is left out on purpose: it admits TLS 1.0.
  validation {
    condition = var.custom_domain == null || contains(concat(["TLS_1_2"], try(var.custom_domain.endpoint_type, "") == "EDGE" ? [
      "SecurityPolicy_TLS13_2025_EDGE", "SecurityPolicy_TLS12_PFS_2025_EDGE", "SecurityPolicy_TLS12_2018_EDGE",
      ] : [
      "SecurityPolicy_TLS13_1_3_2025_09", "SecurityPolicy_TLS13_1_3_FIPS_2025_09", "SecurityPolicy_TLS13_1_2_PFS_PQ_2025_09",
      "SecurityPolicy_TLS13_1_2_FIPS_PQ_2025_09", "SecurityPolicy_TLS13_1_2_FIPS_PFS_PQ_2025_09", "SecurityPolicy_TLS13_1_2_Ext2_PQ_2025_09",
      "SecurityPolicy_TLS13_1_2_Ext2_FIPS_PQ_2025_09", "SecurityPolicy_TLS13_1_2_PQ_2025_09", "SecurityPolicy_TLS13_1_2_2021_06",
    ]), try(var.custom_domain.security_policy, ""))
    error_message = "custom_domain.security_policy must be TLS_1_2 (default) or an enhanced policy for the domain's endpoint type: SecurityPolicy_*_EDGE ones for EDGE, the other SecurityPolicy_* ones for REGIONAL (see API Gateway's list of supported security policies). TLS_1_0, which still admits TLS 1.0 clients, is not offered."
  }

  validation {
    condition = var.custom_domain == null || (
      startswith(try(var.custom_domain.security_policy, ""), "SecurityPolicy_")
      ? contains(["BASIC", "STRICT"], coalesce(try(var.custom_domain.endpoint_access_mode, null), "unset"))
      : try(var.custom_domain.endpoint_access_mode, null) == null
    )
    error_message = "custom_domain.endpoint_access_mode: an enhanced security policy (SecurityPolicy_*) needs endpoint_access_mode BASIC or STRICT (AWS refuses it otherwise: \"Endpoint access mode is required for the specified security policy\"); TLS_1_2 takes none, leave it null."
  }

  validation {
    condition     = var.custom_domain == null || contains(["ipv4", "dualstack"], try(var.custom_domain.ip_address_type, ""))
    error_message = "custom_domain.ip_address_type must be dualstack (IPv4 and IPv6 clients) or ipv4."
  }

  validation {
    condition     = try(var.custom_domain.base_paths, null) == null || length(try(var.custom_domain.base_paths, {})) > 0
    error_message = "custom_domain.base_paths must map at least one stage, or be left null to serve every stage under its own name."
  }

  validation {
    condition     = alltrue([for s in keys(coalesce(try(var.custom_domain.base_paths, null), {})) : contains(keys(var.stages), s)])
    error_message = "custom_domain.base_paths keys must be stage names (keys of stages); unknown: ${join(", ", sort([for s in keys(coalesce(try(var.custom_domain.base_paths, null), {})) : s if !contains(keys(var.stages), s)]))}."
  }

  # A base path is one segment of letters, digits and $-_.+!*'() (AWS's characters for API
  # mappings, at most 300: https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-mappings.html
  # and https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-mappings.html).
  # Multi-level paths (a/b) are left out: AWS takes them only on REGIONAL TLS_1_2 domains, and
  # hashicorp/aws separates the parts of a mapping's ID with "/", so it would read the second
  # level as a domain name ID (base_path_mapping.go, basePathMappingParseResourceID).
  validation {
    condition     = alltrue([for p in values(coalesce(try(var.custom_domain.base_paths, null), {})) : p == null || can(regex("^[A-Za-z0-9$_.+!*'()-]{0,300}$", p))])
    error_message = "custom_domain.base_paths values must be \"\" or null (the domain's root) or one path segment of up to 300 letters, digits and $-_.+!*'() characters, without \"/\"."
  }

  # Each base path of a domain name leads to one mapping: API Gateway refuses a second one.
  validation {
    condition = try(var.custom_domain.base_paths, null) == null || (
      length(distinct([for p in values(coalesce(try(var.custom_domain.base_paths, null), {})) : p == null ? "" : p])) == length(coalesce(try(var.custom_domain.base_paths, null), {}))
    )
    error_message = "custom_domain.base_paths: two stages share a base path; give each stage its own (at most one may be the root, \"\")."
  }

  # Private APIs are reached through private custom domain names
  # (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-private-custom-domains.html),
  # which this module does not create; it builds public (REGIONAL or EDGE) ones only.
  validation {
    condition     = var.custom_domain == null || var.endpoint_configuration.type != "PRIVATE"
    error_message = "custom_domain cannot serve a PRIVATE API: a private API needs a private custom domain name, which this module does not create."
  }
}
