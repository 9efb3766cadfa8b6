variable "name_prefix" {
  description = "The dashboard's name and the alarms' prefix (the project's name with its environment suffix)."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_-]{1,200}$", var.name_prefix))
    error_message = "name_prefix must be 1 to 200 letters, digits, hyphens or underscores (a dashboard name)."
  }
}

variable "region" {
  description = "Region of the deployment (the dashboard's widgets read it)."
  type        = string
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the jobs' per-batch metrics (their --metrics_namespace)."
  type        = string
}

variable "streaming_job_name" {
  description = "The streaming Glue job (the JobName dimension of its metrics)."
  type        = string
}

variable "backfill_job_name" {
  description = "The backfill Glue job (the JobName dimension of its metrics)."
  type        = string
}

variable "stream_name" {
  description = "The Kinesis stream (the StreamName dimension of AWS/Kinesis)."
  type        = string
}

variable "workgroup_name" {
  description = "The Redshift Serverless workgroup (the Workgroup dimension of AWS/Redshift-Serverless)."
  type        = string
}

variable "alarm_topic_arn" {
  description = "SNS topic the alarms notify (alarm and OK); null for none."
  type        = string
  default     = null
}

variable "bad_record_ratio_threshold" {
  description = "Alarm when a job's bad records / (good + bad) averages above this over 5 minutes."
  type        = number
  default     = 0.05
  validation {
    condition     = var.bad_record_ratio_threshold > 0 && var.bad_record_ratio_threshold < 1
    error_message = "bad_record_ratio_threshold must be between 0 and 1."
  }
}

variable "quality_score_threshold" {
  description = "Alarm when a job's data-quality score (rules passed / evaluated) averages below this over 5 minutes."
  type        = number
  default     = 0.8
  validation {
    condition     = var.quality_score_threshold > 0 && var.quality_score_threshold <= 1
    error_message = "quality_score_threshold must be above 0 and at most 1."
  }
}

variable "lag_threshold_seconds" {
  description = "Alarm when records take longer than this from produced to committed, for 5 minutes."
  type        = number
  default     = 300
  validation {
    condition     = var.lag_threshold_seconds > 0
    error_message = "lag_threshold_seconds must be positive."
  }
}

variable "freshness_minutes" {
  description = "Alarm when records arrive on the stream but no batch commits for this many minutes."
  type        = number
  default     = 15
  validation {
    condition     = var.freshness_minutes >= 1 && var.freshness_minutes <= 1440
    error_message = "freshness_minutes must be between 1 and 1440."
  }
}

variable "window_seconds" {
  description = "The streaming job's micro-batch window: alarm when batches take longer than this."
  type        = number
  validation {
    condition     = var.window_seconds > 0
    error_message = "window_seconds must be positive."
  }
}

variable "daily_rpu_hours_limit" {
  description = "The warehouse's daily usage limit in RPU-hours (modules/redshift): the warehouse-usage alarm fires at it."
  type        = number
  validation {
    condition     = var.daily_rpu_hours_limit >= 1
    error_message = "daily_rpu_hours_limit must be at least 1."
  }
}

variable "staleness_alarm_seconds" {
  description = "Alarm when the views lag the newest committed batch by more than this, for 5 minutes."
  type        = number
  validation {
    condition     = var.staleness_alarm_seconds >= 60
    error_message = "staleness_alarm_seconds must be at least 60."
  }
}

variable "missing_data" {
  description = "How the views-staleness alarm treats no data (the streaming job not running): the same setting as the iterator-age alarm."
  type        = string
  default     = "breaching"
  validation {
    condition     = contains(["breaching", "notBreaching"], var.missing_data)
    error_message = "missing_data must be breaching or notBreaching."
  }
}

variable "tags" {
  description = "Tags for the alarms."
  type        = map(string)
  default     = {}
}

variable "quarantine_open_alarm_threshold" {
  description = "Alarm when more than this many bad records wait open in quarantine (the streaming job's QuarantineOpen); null: no such alarm."
  type        = number
  default     = null
  validation {
    condition     = var.quarantine_open_alarm_threshold == null || try(var.quarantine_open_alarm_threshold >= 0, false)
    error_message = "quarantine_open_alarm_threshold must be null or at least 0."
  }
}
