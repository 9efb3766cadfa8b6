variable "bucket_name" {
  description = "Name of the data bucket (raw/, bad_records/, rule_outcomes/, the Glue code and checkpoints)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.bucket_name))
    error_message = "bucket_name must be 3 to 63 lowercase letters, digits, '.' or '-', starting and ending with a letter or digit (S3 bucket naming rules)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer managed KMS key for the bucket's default encryption."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "bad_records_prefix" {
  description = "Prefix of the bad records (no slashes at either end)."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z0-9_=-]+$", var.bad_records_prefix))
    error_message = "bad_records_prefix must be one path segment: letters, digits, '_', '=' or '-'."
  }
}

variable "rule_outcomes_prefix" {
  description = "Prefix of the per-batch rule outcomes (no slashes at either end)."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z0-9_=-]+$", var.rule_outcomes_prefix))
    error_message = "rule_outcomes_prefix must be one path segment: letters, digits, '_', '=' or '-'."
  }
}

variable "bad_records_expiration_days" {
  description = "Days a bad-records object is kept."
  type        = number
  default     = 90
  validation {
    condition     = var.bad_records_expiration_days >= 1
    error_message = "bad_records_expiration_days must be at least 1."
  }
}

variable "rule_outcomes_expiration_days" {
  description = "Days a rule-outcomes object is kept (the warehouse keeps them as rows too)."
  type        = number
  default     = 365
  validation {
    condition     = var.rule_outcomes_expiration_days >= 1
    error_message = "rule_outcomes_expiration_days must be at least 1."
  }
}

variable "noncurrent_version_expiration_days" {
  description = "Days an overwritten or deleted object version is kept (versioning is on)."
  type        = number
  default     = 30
  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "force_destroy" {
  description = "Let terraform destroy delete a bucket that still holds objects (keep false outside throwaway environments)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}

variable "staging_prefix" {
  description = "Prefix the jobs stage batches under for Redshift's COPY."
  type        = string
  default     = "staging"
}

variable "staging_expiration_days" {
  description = "Days staged batches are kept (they are needed only until their batch commits)."
  type        = number
  default     = 7
  validation {
    condition     = var.staging_expiration_days >= 1
    error_message = "staging_expiration_days must be at least 1 day."
  }
}
