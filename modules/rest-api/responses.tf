# API Gateway's own errors, as x-amazon-apigateway-gateway-responses of the document (openapi.tf).
locals {
  # Without AWS_IAM routes, MISSING_AUTHENTICATION_TOKEN only ever means "no such method and
  # path", so it answers 404; with them it also means "request not signed" and stays 403.
  uses_iam = anytrue([for r in values(local.routes) : r.authorization == "AWS_IAM"])

  # API Gateway's own errors in the shared error shape {"message", "code", "requestId"}.
  gateway_responses = {
    INVALID_API_KEY = {
      status_code = "403", code = "InvalidApiKey", message = "Forbidden: send a valid API key in the x-api-key header."
    }
    MISSING_AUTHENTICATION_TOKEN = local.uses_iam ? {
      status_code = "403", code = "MissingAuthenticationToken", message = "No route matches this method and path, or the request is not signed."
      } : {
      status_code = "404", code = "NotFound", message = "No route matches this method and path."
    }
    THROTTLED = {
      status_code = "429", code = "Throttled", message = "Too many requests: slow down and retry."
    }
    QUOTA_EXCEEDED = {
      status_code = "429", code = "QuotaExceeded", message = "The usage quota of this API key is used up for the current period."
    }
    BAD_REQUEST_BODY = {
      status_code = "400", code = "BadRequest", message = "The request body does not match the route's schema."
    }
    BAD_REQUEST_PARAMETERS = {
      status_code = "400", code = "BadRequest", message = "A required request parameter is missing."
    }
    # Whether API Gateway answers a too-large request with this customised response is not
    # confirmed: two reports saw a customised 413 ignored
    # (https://github.com/koki-develop/lgtm-generator/issues/10,
    # https://github.com/reapit/foundations/issues/4338). The message names both limits in case it
    # does apply: a REST API takes bodies up to 10 MB, and a Lambda-proxy request event
    # (the body, base64-encoded when binary, plus headers and request context) at most 6 MB
    # (https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html).
    REQUEST_TOO_LARGE = {
      status_code = "413", code = "PayloadTooLarge", message = "The request is too large: API Gateway accepts bodies up to 10 MB, and on prediction routes the whole request event (body, base64-encoded when binary, plus headers) must stay under 6 MB, Lambda's invoke limit."
    }
    INTEGRATION_TIMEOUT = {
      status_code = "504", code = "ModelTimeout", message = "The model did not answer in time."
    }
    # The backend could not be called or its answer not returned. On Lambda-proxy routes an
    # answer above Lambda's 6 MB invoke limit ends here: API Gateway reports INTEGRATION_FAILURE
    # with 502 (https://github.com/DataBiosphere/azul/issues/8258). A request event above the
    # limit does not: API Gateway answers it with 413 "Request Too Long"
    # (https://github.com/koki-develop/lgtm-generator/issues/10). A fixed 502 here makes every
    # INTEGRATION_FAILURE answer the same, whatever status AWS would pick
    # (https://docs.aws.amazon.com/apigateway/latest/developerguide/supported-gateway-response-types.html
    # lists 504 as its default).
    INTEGRATION_FAILURE = {
      status_code = "502", code = "IntegrationFailure", message = "The backend could not be called or its answer could not be returned. On prediction routes, answers must stay under 6 MB (Lambda's invoke limit), including base64 encoding of binary bodies."
    }
  }

  # Headers every gateway response carries, and the Retry-After hint of THROTTLED.
  gateway_response_parameters = {
    for type in keys(local.gateway_response_templates) : type => merge(
      var.cors == null ? {} : { "gatewayresponse.header.Access-Control-Allow-Origin" = local.cors_origin },
      type == "THROTTLED" ? { "gatewayresponse.header.Retry-After" = "'1'" } : {},
    )
  }

  gateway_response_templates = merge(
    {
      for type, r in local.gateway_responses : type => jsonencode({
        message   = r.message
        code      = r.code
        requestId = "$context.requestId"
      })
    },
    {
      # $context.error.messageString is API Gateway's message already in JSON quotes.
      DEFAULT_4XX = "{\"message\": $context.error.messageString, \"code\": \"ClientError\", \"requestId\": \"$context.requestId\"}"
      DEFAULT_5XX = "{\"message\": $context.error.messageString, \"code\": \"GatewayError\", \"requestId\": \"$context.requestId\"}"
    },
  )
}
