variable "bases" {
  description = "The role names to complete, keyed by any stable key: each base becomes <base>-<region>[-<path hash>], at most 64 characters."
  type        = map(string)
  nullable    = false

  validation {
    condition     = alltrue([for base in values(var.bases) : can(regex("^[\\w+=,.@-]{1,64}$", base))])
    error_message = "bases must be 1 to 64 letters, digits or the characters _+=,.@- (IAM's role name characters)."
  }
}

variable "region" {
  description = "The region the roles serve, added to every name."
  type        = string
  nullable    = false
}

variable "role" {
  description = "The calling module's iam_role input, validated here for every module alike: its path goes into the names."
  type = object({
    arn                      = optional(string)
    name                     = optional(string)
    name_prefix              = optional(string)
    path                     = optional(string, "/")
    permissions_boundary_arn = optional(string)
  })
  default  = {}
  nullable = false

  validation {
    condition     = length(compact([var.role.arn, var.role.name, var.role.name_prefix])) <= 1
    error_message = "iam_role: set at most one of arn (an existing role), name and name_prefix (for the created role)."
  }

  # RoleName: 1-64 characters of [\w+=,.@-] (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html).
  validation {
    condition     = var.role.name == null || can(regex("^[\\w+=,.@-]{1,64}$", coalesce(var.role.name, "-")))
    error_message = "iam_role.name must be 1 to 64 letters, digits or the characters _+=,.@- (IAM's role name rule)."
  }

  # The provider leaves 26 characters of the 64 for the unique suffix it appends, so a prefix
  # is at most 38 (roleNamePrefixMaxLen in
  # https://github.com/hashicorp/terraform-provider-aws/blob/v6.47.0/internal/service/iam/role.go).
  validation {
    condition     = var.role.name_prefix == null || can(regex("^[\\w+=,.@-]{1,38}$", coalesce(var.role.name_prefix, "-")))
    error_message = "iam_role.name_prefix must be 1 to 38 letters, digits or the characters _+=,.@-: the provider appends a 26-character unique suffix within IAM's 64."
  }

  # Path: "/" or /segment(s)/ of printable ASCII, at most 512 characters (CreateRole, as above).
  validation {
    condition     = length(var.role.path) <= 512 && can(regex("^/([\\x21-\\x7E]+/)?$", var.role.path))
    error_message = "iam_role.path must be \"/\" or begin and end with \"/\" (printable ASCII, at most 512 characters), e.g. \"/ml-gateway/\"."
  }

  validation {
    condition     = var.role.arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", coalesce(var.role.arn, "-")))
    error_message = "iam_role.arn must be an IAM role ARN, e.g. arn:aws:iam::123456789012:role/ml-platform."
  }

  validation {
    condition     = var.role.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::([0-9]{12}|aws):policy/.+$", coalesce(var.role.permissions_boundary_arn, "-")))
    error_message = "iam_role.permissions_boundary_arn must be the ARN of a managed policy, e.g. arn:aws:iam::123456789012:policy/boundary."
  }
}
