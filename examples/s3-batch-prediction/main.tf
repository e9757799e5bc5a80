provider "aws" {
  region = var.region
}

# Files dropped under s3://<bucket>/batch/in/ are scored by an existing endpoint, 500 rows
# per call; results land under batch/out/ and rejected rows under batch/errors/. The
# bucket is created hardened, with outputs and error reports expiring after 30 days.
module "ml_gateway" {
  source = "../.."

  name     = var.name
  endpoint = { name = var.endpoint_name }
  models   = { default = { content_type = "text/csv", accept = "text/csv" } }

  batch_prediction = {
    bucket                 = var.bucket
    create_bucket          = true
    id_column              = "id"
    output_expiration_days = 30
  }
}
