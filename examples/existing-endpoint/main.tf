provider "aws" {
  region = var.region
}

# Bring your own endpoint: an API with one key, in front of an endpoint you already run.
module "ml_gateway" {
  source = "../.."

  name     = var.name
  endpoint = { name = var.endpoint_name }
  models   = { default = {} }

  api = {
    usage_plans = { standard = { stages = ["prod"], throttle = { rate = 10, burst = 20 }, quota = { limit = 10000, period = "DAY" } } }
    api_keys    = { client = { usage_plan = "standard" } }
  }
}
