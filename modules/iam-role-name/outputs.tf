output "names" {
  description = "The completed role names, keyed as bases."
  value       = local.names
}
