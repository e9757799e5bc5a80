provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}

locals {
  bucket = "${var.name}-${data.aws_caller_identity.current.account_id}-${var.region}"
}

# The whole gateway around two existing endpoints: a classifier behind Lambda-proxy predictions
# and batch files, a recommender behind the direct ratings route, and actuals reporting.
# `make local` serves exactly this plan on localhost with bundled models standing in for the
# two endpoints.
module "ml_gateway" {
  source = "../.."

  name     = var.name
  tags     = { project = "ml-gateway", environment = "local" }
  endpoint = { name = var.endpoint_name }

  models = {
    default = {}
    csv     = { content_type = "text/csv", accept = "text/csv" }
  }

  api = {
    stages = {
      prod = { throttle = { rate = 100, burst = 200 } }
    }
    usage_plans = {
      developer = { stages = ["prod"], throttle = { rate = 5, burst = 10 }, quota = { limit = 10000, period = "DAY" } }
    }
    api_keys = {
      developer = { usage_plan = "developer" }
    }
    routes = {
      ratings = {
        type          = "sagemaker"
        path          = "predicted-ratings/{user_id}"
        method        = "GET"
        mapping       = "ratings"
        endpoint_name = var.ratings_endpoint_name
      }
    }
  }

  # CSV files under batch/in/ with a header: id,sepal_length,sepal_width,petal_length,petal_width.
  # The data bucket is created here, named per account and region (bucket names are global).
  batch_prediction = {
    bucket        = local.bucket
    create_bucket = true
    id_column     = "id"
    suffixes      = [".csv"]
    model_route   = "csv"
  }

  # CSVs of associationId,actualValue under upload_actuals/<deployment id>/.
  actuals_reporting = {
    bucket  = local.bucket
    api_url = var.actuals_api_url
  }

  # Alarms for every part above, a dashboard and an SNS topic (with a key created for it).
  # Local mode evaluates the alarms whose metrics it produces (pipelines, functions, the
  # REST API) and prints ALARM and OK as they would change.
  monitoring = {}
}
