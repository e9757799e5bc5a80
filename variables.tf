variable "endpoint" {
  description = <<-EOT
    The primary SageMaker endpoint. Direct routes, batch prediction, Batch Transform and the
    ground-truth sink use it unless they name another, and so does every sagemaker model
    route whose endpoint_name is null. Null: no primary endpoint (every sagemaker route then
    names its own).
  EOT
  type = object({
    name = string
  })
  default = null

  validation {
    condition     = var.endpoint == null || can(regex("^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$", var.endpoint.name))
    error_message = "endpoint.name must be a SageMaker endpoint name: 1 to 63 letters, digits or hyphens, starting and ending with a letter or digit."
  }
}

variable "models" {
  description = <<-EOT
    Routing table of the prediction function: route name -> backend. "default" serves
    POST /predict and any other key serves POST /predict/{key}. Backends: sagemaker
    (InvokeEndpoint; endpoint_name null = the primary endpoint), amazon-ml (legacy realtime
    Predict with model_id and predict_endpoint) and http (a model server url speaking the
    sagemaker, kserve-v1 or mlflow protocol). Rendered to JSON for the function.
  EOT
  type = map(object({
    backend             = optional(string, "sagemaker")
    endpoint_name       = optional(string)
    content_type        = optional(string, "application/json")
    accept              = optional(string, "application/json")
    target_variant      = optional(string)
    target_model        = optional(string)
    inference_component = optional(string)
    custom_attributes   = optional(string)
    serverless          = optional(bool, false)
    model_id            = optional(string)
    predict_endpoint    = optional(string)
    url                 = optional(string)
    protocol            = optional(string, "sagemaker")
  }))
  default  = {}
  nullable = false

  validation {
    condition     = alltrue([for key in keys(var.models) : can(regex("^[a-z0-9][a-z0-9_-]{0,62}$", key))])
    error_message = "models keys become URL path segments (/predict/{key}): use 1 to 63 lower-case letters, digits, hyphens or underscores."
  }

  validation {
    condition     = alltrue([for m in values(var.models) : contains(["sagemaker", "amazon-ml", "http"], m.backend)])
    error_message = "models backend must be sagemaker, amazon-ml or http."
  }

  validation {
    condition = alltrue([
      for m in values(var.models) :
      m.backend != "sagemaker" || length(compact([m.target_variant, m.target_model, m.inference_component])) <= 1
    ])
    error_message = "models: a sagemaker route sets at most one of target_variant, target_model and inference_component."
  }

  validation {
    condition     = alltrue([for m in values(var.models) : m.backend != "sagemaker" || var.endpoint != null || m.endpoint_name != null])
    error_message = "models: a sagemaker route with no endpoint_name uses the primary endpoint, so set var.endpoint or the route's endpoint_name."
  }

  validation {
    condition = alltrue([
      for m in values(var.models) :
      m.backend != "amazon-ml" || (m.model_id != null && can(regex("^https://realtime\\.machinelearning\\.[a-z0-9-]+\\.amazonaws\\.com$", coalesce(m.predict_endpoint, "-"))))
    ])
    error_message = "models: an amazon-ml route needs model_id and a predict_endpoint like https://realtime.machinelearning.us-east-1.amazonaws.com."
  }

  validation {
    condition     = alltrue([for m in values(var.models) : m.backend != "http" || can(regex("^https?://[^\\s/]+", coalesce(m.url, "-")))])
    error_message = "models: an http route needs a url starting with http:// or https://."
  }

  validation {
    condition     = alltrue([for m in values(var.models) : contains(["sagemaker", "kserve-v1", "mlflow"], m.protocol)])
    error_message = "models protocol must be sagemaker, kserve-v1 or mlflow."
  }
}

variable "name" {
  description = "Prefix of every resource name: lower-case letters, digits and hyphens, starting with a letter, at most 32 characters."
  type        = string
  nullable    = false

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}[a-z0-9]$", var.name))
    error_message = "name must be 2 to 32 lower-case letters, digits or hyphens, start with a letter and not end with a hyphen: it prefixes every resource name."
  }
}

variable "tags" {
  description = "Tags for every resource the module creates."
  type        = map(string)
  default     = {}
  nullable    = false
}
