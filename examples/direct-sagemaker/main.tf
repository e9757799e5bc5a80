provider "aws" {
  region = var.region

  default_tags {
    tags = { project = "ml-gateway-example" }
  }
}

# GET /predicted-ratings/{user_id}?items=101,131,162 goes straight from API Gateway to the
# recommender endpoint through the bundled ratings mapping templates: no Lambda at all.
module "api" {
  source = "../../modules/rest-api"

  name                  = var.name
  description           = "Predicted ratings from ${var.endpoint_name}"
  default_endpoint_name = var.endpoint_name

  routes = {
    ratings = {
      type    = "sagemaker"
      path    = "predicted-ratings/{user_id}"
      method  = "GET"
      mapping = "ratings" # user_id and items are required and validated before the endpoint is called
    }
  }

  stages = {
    test = {}
    prod = { throttle = { rate = 100, burst = 200 } }
  }

  usage_plans = {
    partners = {
      stages   = ["prod"]
      throttle = { rate = 20, burst = 40 }
      quota    = { limit = 100000, period = "MONTH" }
    }
    testers = {
      stages = ["test"]
      quota  = { limit = 1000, period = "DAY" }
    }
  }

  api_keys = {
    partner = { usage_plan = "partners" }
    tester  = { usage_plan = "testers" }
  }
}
