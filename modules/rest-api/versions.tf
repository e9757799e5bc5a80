terraform {
  required_version = ">= 1.9"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # endpoint_access_mode of aws_api_gateway_domain_name (domain.tf) exists from 6.28.0
      # (https://github.com/hashicorp/terraform-provider-aws/pull/45741, CHANGELOG 6.28.0).
      version = ">= 6.28"
    }
  }
}
