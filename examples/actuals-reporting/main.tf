provider "aws" {
  region = var.region
}

# Ground truth for a DataRobot deployment: drop CSVs of associationId,actualValue under
# s3://<bucket>/upload_actuals/<deployment_id>/ and they are reported, then deleted.
module "ml_gateway" {
  source = "../.."

  name = var.name
  tags = { project = "ml-gateway-example" }

  actuals_reporting = {
    bucket      = var.bucket
    api_url     = var.api_url
    report_rows = 10000
    # token_secret_arn left null: the module creates the secret; put the token into it with
    #   aws secretsmanager put-secret-value --secret-id <actuals_token_secret_arn> --secret-string "$TOKEN"
  }
}
