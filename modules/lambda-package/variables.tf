variable "output_path" {
  description = "Where the zip is written, usually under the root module's .build directory."
  type        = string
  nullable    = false
}

variable "source_dir" {
  description = "Directory to package (default: the repository's lambda_src)."
  type        = string
  default     = null
}
