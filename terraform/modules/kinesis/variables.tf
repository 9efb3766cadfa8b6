variable "name" {
  description = "Name of the Kinesis data stream (the producer and the streaming job use it)."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z0-9_.-]{1,128}$", var.name))
    error_message = "name must be 1 to 128 letters, digits, '_', '.' or '-' (Kinesis stream name rules)."
  }
}

variable "stream_mode" {
  description = "ON_DEMAND (capacity follows traffic) or PROVISIONED (shard_count shards)."
  type        = string
  default     = "ON_DEMAND"
  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.stream_mode)
    error_message = "stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "shard_count" {
  description = "Shards when stream_mode is PROVISIONED (ignored on demand)."
  type        = number
  default     = 2
  validation {
    condition     = var.shard_count >= 1 && floor(var.shard_count) == var.shard_count
    error_message = "shard_count must be a whole number of at least 1."
  }
}

variable "retention_hours" {
  description = "How long records stay readable: the window in which a stopped job can catch up."
  type        = number
  default     = 24
  validation {
    condition     = var.retention_hours >= 24 && var.retention_hours <= 8760
    error_message = "retention_hours must be between 24 and 8760 (Kinesis limits)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the customer managed KMS key that encrypts the stream at rest."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "alarm_topic_arn" {
  description = "SNS topic the alarms notify; null for alarms without notification."
  type        = string
  default     = null
}

variable "iterator_age_alarm_ms" {
  description = "Alarm when the oldest unread record is older than this (the streaming job is falling behind or stopped)."
  type        = number
  default     = 300000
  validation {
    condition     = var.iterator_age_alarm_ms >= 1000
    error_message = "iterator_age_alarm_ms must be at least 1000 (one second)."
  }
}

variable "missing_data" {
  description = "How the iterator-age alarm treats no data (no GetRecords: the streaming job is not running): breaching where it should always run, notBreaching where it is stopped to save money."
  type        = string
  default     = "breaching"
  validation {
    condition     = contains(["breaching", "notBreaching"], var.missing_data)
    error_message = "missing_data must be breaching or notBreaching."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
