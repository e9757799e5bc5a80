# The API's custom domain name (var.custom_domain): the domain, one base path mapping per served
# stage, and optional Route 53 alias records.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-custom-domains.html

locals {
  custom_domain = var.custom_domain
  edge_domain   = try(var.custom_domain.endpoint_type, null) == "EDGE"

  # Stage name -> base path; "" is the domain's root. Left null, every stage is served under its
  # own name.
  custom_domain_base_paths = local.custom_domain == null ? {} : {
    for stage, path in coalesce(local.custom_domain.base_paths, { for s in keys(var.stages) : s => s }) : stage => path == null ? "" : path
  }

  # Route 53 alias records: A always, AAAA when the domain answers IPv6 clients (dualstack).
  # https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-custom-domain-ip-address-type.html
  custom_domain_record_types = try(local.custom_domain.route53_zone_id, null) == null ? [] : (
    local.custom_domain.ip_address_type == "dualstack" ? ["A", "AAAA"] : ["A"]
  )
}

resource "aws_api_gateway_domain_name" "this" {
  #checkov:skip=CKV_AWS_206:security_policy comes from var.custom_domain, whose validation admits only TLS_1_2 (the default) and the enhanced SecurityPolicy_* policies; checkov cannot resolve the value through the module input.
  count = local.custom_domain == null ? 0 : 1

  domain_name = local.custom_domain.domain_name

  # An edge-optimized domain takes certificate_arn, a regional one regional_certificate_arn
  # (CreateDomainName's certificateArn and regionalCertificateArn:
  # https://docs.aws.amazon.com/apigateway/latest/api/API_CreateDomainName.html).
  certificate_arn          = local.edge_domain ? local.custom_domain.certificate_arn : null
  regional_certificate_arn = local.edge_domain ? null : local.custom_domain.certificate_arn

  security_policy      = local.custom_domain.security_policy
  endpoint_access_mode = local.custom_domain.endpoint_access_mode

  endpoint_configuration {
    types           = [local.custom_domain.endpoint_type]
    ip_address_type = local.custom_domain.ip_address_type
  }

  tags = var.tags

  lifecycle {
    # A regional domain name takes its certificate from the API's own region:
    # https://docs.aws.amazon.com/apigateway/latest/developerguide/how-to-custom-domains-prerequisites.html
    # (the EDGE rule, us-east-1, is a validation of var.custom_domain).
    precondition {
      condition     = local.edge_domain || split(":", local.custom_domain.certificate_arn)[3] == data.aws_region.current.region
      error_message = "custom_domain: a REGIONAL domain needs its ACM certificate in the API's region (${data.aws_region.current.region}), and ${local.custom_domain.certificate_arn} is in ${split(":", local.custom_domain.certificate_arn)[3]}. Request or import the certificate in ${data.aws_region.current.region}, or use endpoint_type = \"EDGE\" with a certificate in us-east-1."
    }
  }
}

# One mapping per served stage; a base path of "" maps the stage at the domain's root.
# https://docs.aws.amazon.com/apigateway/latest/developerguide/rest-api-mappings.html
resource "aws_api_gateway_base_path_mapping" "this" {
  for_each = local.custom_domain_base_paths

  domain_name = aws_api_gateway_domain_name.this[0].domain_name
  api_id      = aws_api_gateway_rest_api.this.id
  stage_name  = aws_api_gateway_stage.this[each.key].stage_name
  base_path   = each.value
}

# Alias records to the domain's target: the regional endpoint (regional_domain_name and
# regional_zone_id) for a REGIONAL domain, the CloudFront distribution API Gateway manages
# (cloudfront_domain_name and cloudfront_zone_id) for an EDGE one. Route 53's AliasTarget takes
# regionalDomainName for regional APIs and distributionDomainName for edge-optimized ones:
# https://docs.aws.amazon.com/Route53/latest/APIReference/API_AliasTarget.html; the provider sets
# those attributes from GetDomainName (internal/service/apigateway/domain_name.go). Target health is
# not evaluated, the same for both types: Route 53 refuses EvaluateTargetHealth on a CloudFront
# alias (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-api-route53configuration.html).
resource "aws_route53_record" "custom_domain" {
  for_each = toset(local.custom_domain_record_types)

  zone_id = local.custom_domain.route53_zone_id
  name    = aws_api_gateway_domain_name.this[0].domain_name
  type    = each.key

  alias {
    name                   = local.edge_domain ? aws_api_gateway_domain_name.this[0].cloudfront_domain_name : aws_api_gateway_domain_name.this[0].regional_domain_name
    zone_id                = local.edge_domain ? aws_api_gateway_domain_name.this[0].cloudfront_zone_id : aws_api_gateway_domain_name.this[0].regional_zone_id
    evaluate_target_health = false
  }
}
