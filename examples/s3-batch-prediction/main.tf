provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}

locals {
  bucket = "${var.name}-batch-${data.aws_caller_identity.current.account_id}-${var.region}"
}

# Files dropped under s3://<bucket>/batch/in/ are scored by an endpoint you already run, 500
# rows per call; results land under batch/out/ and rejected rows under batch/errors/. The
# gateway creates the bucket (hardened, outputs and error reports expiring after 30 days), so
# the notification configuration it writes replaces nobody's. Bucket names are global: the
# account id and region make this one unique without a random suffix.
module "ml_gateway" {
  source = "../.."

  name     = var.name
  endpoint = { name = var.endpoint_name }
  models   = { default = { content_type = "text/csv", accept = "text/csv" } }

  batch_prediction = {
    bucket                 = local.bucket
    create_bucket          = true
    id_column              = var.id_column
    output_expiration_days = 30
  }
}
