"""Lambda payloads of terraform-aws-ml-gateway: one package, several entry points."""
