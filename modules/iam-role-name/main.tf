locals {
  # IAM role names are unique within the account whatever their path or case
  # (https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html), so a name that
  # only carried the base would collide when the same stack is deployed in two regions. The
  # region goes into every name, and a short hash of the path into names outside "/": a path
  # change replaces the role (path forces a new resource in the provider), and with a new
  # name the replacement can be created before the old role is deleted.
  suffix = var.role.path == "/" ? "-${var.region}" : "-${var.region}-${substr(sha256(var.role.path), 0, 6)}"

  # RoleName is at most 64 characters (same page): a longer base is cut and followed by a hash
  # of the whole base, so the name stays unique and deterministic.
  names = {
    for key, base in var.bases : key => (
      length("${base}${local.suffix}") <= 64 ? "${base}${local.suffix}" :
      "${substr(base, 0, 64 - 9 - length(local.suffix))}-${substr(sha256(base), 0, 8)}${local.suffix}"
    )
  }
}
