variable "bases" {
  description = "The role names to complete, keyed by any stable key: each base becomes <base>-<region>[-<path hash>], at most 64 characters."
  type        = map(string)
  nullable    = false

  validation {
    condition     = alltrue([for base in values(var.bases) : can(regex("^[\\w+=,.@-]{1,64}$", base))])
    error_message = "bases must be 1 to 64 letters, digits or the characters _+=,.@- (IAM's role name characters)."
  }
}

variable "path" {
  description = "The roles' IAM path: \"/\" adds nothing to the names, any other path a 6-character hash of itself."
  type        = string
  default     = "/"
  nullable    = false
}

variable "region" {
  description = "The region the roles serve, added to every name."
  type        = string
  nullable    = false
}
