# The one deployment package every function shares: fixed file mode, no tests, caches or
# docs, so the hash changes only when the code does.
data "archive_file" "this" {
  type             = "zip"
  source_dir       = coalesce(var.source_dir, "${path.module}/../../lambda_src")
  output_path      = var.output_path
  output_file_mode = "0644"
  excludes = [
    "**/__pycache__/**",
    "**/*.pyc",
    "**/.pytest_cache/**",
    "**/tests/**",
    "**/*.md",
  ]
}
