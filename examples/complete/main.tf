provider "aws" {
  region = var.region
}

# Everything at once: Terraform owns the endpoint (blue/green updates, autoscaling), an API
# serves Lambda-proxy predictions and a direct ratings route, and ground truth dropped in
# the data bucket is reported to the monitoring platform.
module "ml_gateway" {
  source = "../.."

  name = var.name
  tags = { project = "ml-gateway", environment = "prod" }

  endpoint = {
    name = "${var.name}-prod"
    create = {
      model = {
        image          = var.image
        model_data_url = var.model_data_url
      }
      variants = {
        primary = {
          instance_type          = "ml.m5.large"
          initial_instance_count = 2
          autoscaling = {
            min_capacity                    = 2
            max_capacity                    = 6
            target_invocations_per_instance = 500
          }
        }
      }
      data_capture = {
        destination_s3_uri  = "s3://${var.bucket}/data-capture/"
        sampling_percentage = 20
      }
      deployment = {
        traffic_shifting     = "CANARY"
        canary_size          = { value = 10 }
        rollback_alarm_names = var.rollback_alarm_names
      }
    }
  }

  models = {
    default = {}
    csv     = { content_type = "text/csv", accept = "text/csv" }
  }

  api = {
    stages = {
      test = { log_retention_in_days = 7 }
      prod = { throttle = { rate = 100, burst = 200 } }
    }
    usage_plans = {
      free = { stages = ["prod"], throttle = { rate = 5, burst = 10 }, quota = { limit = 1000, period = "DAY" } }
      pro  = { stages = ["test", "prod"], throttle = { rate = 50, burst = 100 }, quota = { limit = 1000000, period = "MONTH" } }
    }
    api_keys = {
      mobile-app = { usage_plan = "free" }
      partner    = { usage_plan = "pro" }
    }
    routes = {
      ratings = { type = "sagemaker", path = "predicted-ratings/{user_id}", method = "GET", mapping = "ratings" }
    }
  }

  # Files under batch/in/ are scored in batches; files above 512 MiB go to Batch Transform
  # with the endpoint's own model.
  batch_prediction = {
    bucket             = var.bucket
    id_column          = "customer_id"
    transform          = {}
    suffixes           = [".csv"]
    model_route        = "csv"
    prediction_columns = ["churn_probability"]
  }

  actuals_reporting = {
    bucket  = var.bucket
    sinks   = ["datarobot", "model-monitor"]
    api_url = var.actuals_api_url
  }
}
