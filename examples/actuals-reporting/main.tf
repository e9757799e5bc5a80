provider "aws" {
  region = var.region
}

data "aws_caller_identity" "current" {}

locals {
  # Bucket names are global: the account id and region make this one unique without a random
  # suffix.
  bucket = "${var.name}-${data.aws_caller_identity.current.account_id}-${var.region}"
}

# The bucket that receives the actuals files, created here so the notification configuration
# the gateway writes on it replaces nobody's.
module "actuals_bucket" {
  source = "../../modules/data-bucket"

  name          = local.bucket
  force_destroy = var.force_destroy
  tags          = { project = "ml-gateway-example" }
}

# Ground truth for a DataRobot deployment: drop CSVs of associationId,actualValue under
# s3://<bucket>/upload_actuals/<deployment_id>/ and they are reported, then deleted.
module "ml_gateway" {
  source = "../.."

  name = var.name
  tags = { project = "ml-gateway-example" }

  actuals_reporting = {
    bucket      = module.actuals_bucket.name
    api_url     = var.api_url
    report_rows = 10000
    # token_secret_arn left null: the module creates the secret; put the token into it with
    #   aws secretsmanager put-secret-value --secret-id <token_secret_arn> --secret-string "$TOKEN"
  }
}
