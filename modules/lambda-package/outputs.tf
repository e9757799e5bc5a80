output "filename" {
  description = "Path of the zip."
  value       = data.archive_file.this.output_path
}

output "size" {
  description = "Size of the zip in bytes."
  value       = data.archive_file.this.output_size
}

output "source_code_hash" {
  description = "Base64 SHA-256 of the zip, for aws_lambda_function.source_code_hash."
  value       = data.archive_file.this.output_base64sha256
}
