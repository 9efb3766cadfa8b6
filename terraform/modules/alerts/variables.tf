variable "name_prefix" {
  description = "Prefix of the rule, state machine and log group names (the project's name)."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 1 to 40 letters, digits, '_' or '-'."
  }
}

variable "topic_name" {
  description = "Name of the alert topic (SNS)."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,256}$", var.topic_name))
    error_message = "topic_name must be 1 to 256 letters, digits, '_' or '-' (SNS topic name rules)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the pipeline's KMS key (topic and log group encryption)."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "pattern_values" {
  description = "Values for the placeholders of moviestream/core/eventbridge/*.json (keys of moviestream/core/resources.json)."
  type        = map(string)
}

variable "backfill_job_name" {
  description = "Glue job the backfill state machine runs."
  type        = string
}

variable "state_machine_name" {
  description = "Name of the backfill state machine."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,80}$", var.state_machine_name))
    error_message = "state_machine_name must be 1 to 80 letters, digits, '_' or '-'."
  }
}

variable "state_machine_role_arn" {
  description = "Role of the backfill state machine (modules/iam)."
  type        = string
}

variable "trigger_role_arn" {
  description = "Role EventBridge assumes to start the state machine (modules/iam)."
  type        = string
}

variable "alert_email" {
  description = "An email address subscribed to the alert topic; null for none (the address must confirm the subscription)."
  type        = string
  default     = null
  validation {
    condition     = var.alert_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alert_email))
    error_message = "alert_email must be an email address such as team@example.com, or null."
  }
}

variable "log_retention_days" {
  description = "Days the state machine's execution logs are kept."
  type        = number
  default     = 365
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' retention values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
