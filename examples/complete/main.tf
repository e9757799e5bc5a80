provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}

locals {
  tags = { project = "ml-gateway", environment = "prod" }
  # Bucket names are global: the account id and region make this one unique without a random
  # suffix, so a second deployment (another region, another account) never collides.
  bucket = "${var.name}-${data.aws_caller_identity.current.account_id}-${var.region}"
}

# The one data bucket: batch files, actuals uploads and captured requests. This example creates
# it, so the notification configuration the gateway writes on it replaces nobody's.
module "data_bucket" {
  source = "../../modules/data-bucket"

  name          = local.bucket
  force_destroy = var.force_destroy
  tags          = local.tags
  expirations = {
    batch-out    = { prefix = "batch/out/", days = 30 }
    batch-errors = { prefix = "batch/errors/", days = 30 }
  }
}

# A churn classifier end to end: Terraform owns the endpoint (SageMaker's built-in XGBoost
# container serving your model.tar.gz, canary updates, autoscaling), the API serves it through
# the prediction function and directly, batch files are scored through the same route, and the
# churn outcomes you upload later are reported to the monitoring platform.
module "ml_gateway" {
  source = "../.."

  name = var.name
  tags = local.tags

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
        destination_s3_uri  = "s3://${module.data_bucket.name}/data-capture/"
        sampling_percentage = 20
        csv_content_types   = ["text/csv"]
      }
      deployment = {
        traffic_shifting     = "CANARY"
        canary_size          = { value = 10 }
        rollback_alarm_names = var.rollback_alarm_names
      }
    }
  }

  # XGBoost reads CSV rows of features (no header, no label) and answers one churn probability
  # per row. JSON requests ({"tenure": 12, ...} or {"instances": [...]}) become CSV rows in
  # feature_names order.
  models = {
    default = { content_type = "text/csv", accept = "text/csv", feature_names = var.feature_names }
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
      # POST /score: CSV feature rows straight to the endpoint, probabilities straight back.
      score = { type = "sagemaker", path = "score", content_types = ["text/csv"], accept = "text/csv" }
    }
  }

  # CSV files under batch/in/ with a header of customer_id and every feature column are scored
  # through the default route; batch/out/ gets the same rows with a churn_probability column.
  # Files of 512 MiB and more (or too slow to stream in 15 minutes) go to Batch Transform with
  # the endpoint's model: their rows are staged under batch/staging/ without the header, and
  # the output is written to batch/out/ with it when the job ends.
  batch_prediction = {
    bucket             = module.data_bucket.name
    id_column          = "customer_id"
    feature_columns    = var.feature_names
    suffixes           = [".csv"]
    prediction_columns = ["churn_probability"]
    transform          = {}
  }

  # CSVs of associationId,actualValue (the customer's churn outcome, 0 or 1) under
  # upload_actuals/<deployment id>/ are reported to the DataRobot deployment.
  actuals_reporting = {
    bucket  = module.data_bucket.name
    api_url = var.actuals_api_url
  }

  # Alarms for every part above to a topic created for them (subscribe your pager to the
  # monitoring_topic_arn output), a dashboard, and the endpoint's own 5XX-rate and latency
  # alarms wired into its canary deployment's rollback unless rollback_alarm_names names others.
  monitoring = {
    api      = { latency_p99_ms = 5000 }
    endpoint = { model_latency_p99_ms = 500 }
  }
}
