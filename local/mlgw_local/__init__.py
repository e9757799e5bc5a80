"""Local mode: the gateway an example's offline Terraform plan describes, served on localhost."""
