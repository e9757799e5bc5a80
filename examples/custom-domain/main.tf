provider "aws" {
  region = var.region
}

# An existing endpoint behind POST /predict, served on your own domain: the prod stage at the
# domain's root, the test stage under /test.
module "ml_gateway" {
  source = "../.."

  name     = var.name
  endpoint = { name = var.endpoint_name }
  models   = { default = {} }

  api = {
    stages = {
      prod = {}
      test = { log_retention_in_days = 7 }
    }
    usage_plans = { standard = { stages = ["prod", "test"], throttle = { rate = 10, burst = 20 }, quota = { limit = 10000, period = "DAY" } } }
    api_keys    = { client = { usage_plan = "standard" } }

    custom_domain = {
      domain_name     = var.domain_name
      certificate_arn = var.certificate_arn
      endpoint_type   = var.endpoint_type
      base_paths      = { prod = "", test = "test" }
      route53_zone_id = var.route53_zone_id
    }
  }
}
