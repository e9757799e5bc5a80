output "api_key" {
  description = "The client's API key, for the x-api-key header: terraform output -raw api_key."
  value       = module.ml_gateway.api_key_values["client"]
  sensitive   = true
}

output "dns_target" {
  description = "Where the domain's DNS record must point when route53_zone_id is null: an alias to domain_name in hosted zone zone_id, or a CNAME to domain_name."
  value       = module.ml_gateway.api_custom_domain_target
}

output "invoke_url" {
  description = "The prod stage's execute-api URL, which answers until the default endpoint is switched off."
  value       = module.ml_gateway.invoke_url
}

output "url" {
  description = "The prod stage on the custom domain: https://<domain_name>."
  value       = module.ml_gateway.api_custom_domain_urls["prod"]
}

output "urls" {
  description = "Every stage on the custom domain, keyed by stage name."
  value       = module.ml_gateway.api_custom_domain_urls
}
