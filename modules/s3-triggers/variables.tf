variable "bucket" {
  description = "Name of the bucket whose object-created events invoke the functions."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket))
    error_message = "bucket must be an S3 bucket name: 3 to 63 lower-case letters, digits, dots or hyphens."
  }
}

variable "mode" {
  description = <<-EOT
    How events reach the functions. "notification": the bucket's notification configuration
    (S3 allows only one per bucket, so this module owns it for every trigger on the bucket).
    "eventbridge": the bucket sends events to EventBridge and one rule per trigger matches
    its prefix, so other consumers can subscribe to the same events (see manage_notification).
  EOT
  type        = string
  default     = "notification"
  nullable    = false

  validation {
    condition     = contains(["notification", "eventbridge"], var.mode)
    error_message = "mode must be notification or eventbridge."
  }

  validation {
    condition     = var.mode == "eventbridge" || var.manage_notification
    error_message = "mode = \"notification\" needs manage_notification = true: the notification configuration is how S3 invokes the functions."
  }
}

variable "manage_notification" {
  description = <<-EOT
    Whether this module writes the bucket's notification configuration. S3 replaces the whole
    configuration on every write, so in notification mode the module must own it, and in
    eventbridge mode writing it (to turn EventBridge delivery on) removes any other consumer's
    notifications. Set false in eventbridge mode when the bucket owner has already turned
    EventBridge delivery on: the module then creates only rules, targets and permissions.
  EOT
  type        = bool
  default     = true
  nullable    = false
}

variable "name" {
  description = "Prefix of the EventBridge rule names and permission statement ids."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,40}$", var.name))
    error_message = "name must be 1 to 41 lower-case letters, digits or hyphens, starting with a letter."
  }
}

variable "tags" {
  description = "Tags for the EventBridge rules."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "triggers" {
  description = <<-EOT
    Functions to invoke, keyed by a stable name. Each watches keys under prefix ending in one
    of suffixes (empty: any key), and declares write_prefixes, the prefixes it writes to in
    this bucket, so the module can refuse configurations where a function would trigger itself.
  EOT
  type = map(object({
    function_arn   = string
    function_name  = string
    prefix         = string
    suffixes       = optional(list(string), [])
    write_prefixes = optional(list(string), [])
  }))
  nullable = false

  validation {
    condition     = length(var.triggers) > 0
    error_message = "triggers must name at least one function."
  }

  validation {
    condition     = alltrue([for t in values(var.triggers) : length(trimspace(t.prefix)) > 0 && !startswith(t.prefix, "/") && endswith(t.prefix, "/")])
    error_message = "triggers prefix must be a non-empty key prefix ending with \"/\" and not starting with one, e.g. \"batch/in/\"."
  }

  validation {
    condition = alltrue(flatten([
      for t in values(var.triggers) : [for w in t.write_prefixes : endswith(w, "/") && !startswith(w, "/")]
    ]))
    error_message = "triggers write_prefixes must be key prefixes ending with \"/\", e.g. \"batch/out/\"."
  }

  # A function that writes under any watched prefix would invoke a function again for its
  # own output, the classic S3-to-Lambda loop, so refuse it before anything is created.
  validation {
    condition = alltrue(flatten([
      for writer in values(var.triggers) : [
        for w in writer.write_prefixes : [
          for watched in values(var.triggers) : !startswith(w, watched.prefix) && !startswith(watched.prefix, w)
        ]
      ]
    ]))
    error_message = "triggers: a write_prefixes entry overlaps a watched prefix, so a function would be triggered by what a function writes. Make output, error, state and archive prefixes siblings of the input prefix, e.g. \"batch/in/\" and \"batch/out/\"."
  }

  # Each suffix becomes a notification rule of its own under the same prefix: S3 refuses two
  # rules whose prefixes overlap while their suffixes overlap too ("Configuration is ambiguously
  # defined", https://repost.aws/knowledge-center/lambda-s3-event-configuration-error).
  validation {
    condition = alltrue(flatten([
      for t in values(var.triggers) : [
        for i, a in t.suffixes : [
          for j, b in t.suffixes : length(a) > 0 && (i == j || (!endswith(a, b) && !endswith(b, a)))
        ]
      ]
    ]))
    error_message = "triggers suffixes must be non-empty and none may end with another (\".csv\" and \"data.csv\", or the same suffix twice): S3 refuses overlapping suffixes under one prefix."
  }

  # S3 rejects two notification rules whose prefixes overlap for the same events
  # ("Configuration is ambiguously defined"), and with EventBridge both would fire.
  validation {
    condition = alltrue(flatten([
      for a_key, a in var.triggers : [
        for b_key, b in var.triggers : a_key == b_key || (!startswith(a.prefix, b.prefix) && !startswith(b.prefix, a.prefix))
      ]
    ]))
    error_message = "triggers: two triggers watch overlapping prefixes (one is a prefix of the other); every object must invoke at most one function."
  }
}
