variable "database_name" {
  description = "Glue Data Catalog database for the pipeline's files (Athena queries them)."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9_]{1,255}$", var.database_name))
    error_message = "database_name must be lowercase letters, digits or '_' (Athena-friendly Glue database names)."
  }
}

variable "bucket_name" {
  description = "The data bucket."
  type        = string
}

variable "raw_prefix" {
  description = "Prefix of the historical CSV files (no slashes at either end)."
  type        = string
}

variable "bad_records_prefix" {
  description = "Prefix of the bad records (no slashes at either end)."
  type        = string
}

variable "csv_columns" {
  description = "The movies CSV's 16 columns, in file order (moviestream.core.record.CSV_COLUMNS)."
  type        = list(string)
  validation {
    condition     = length(var.csv_columns) == 16
    error_message = "csv_columns must list the 16 columns of the movies CSV."
  }
}

variable "bad_records_since" {
  description = "First ingest_date (yyyy-MM-dd) the bad-records table's partition projection covers."
  type        = string
  default     = "2025-01-01"
  validation {
    condition     = can(regex("^[0-9]{4}-[0-9]{2}-[0-9]{2}$", var.bad_records_since))
    error_message = "bad_records_since must be a date written yyyy-MM-dd."
  }
}

variable "backfill_schedule" {
  description = "EventBridge schedule (e.g. \"cron(0 3 * * ? *)\") that backfills the whole raw/ prefix (loaded files are skipped by checksum); null for none."
  type        = string
  default     = null
  validation {
    condition     = var.backfill_schedule == null || can(regex("^(cron|rate)\\(.+\\)$", var.backfill_schedule))
    error_message = "backfill_schedule must be a cron(...) or rate(...) expression, or null."
  }
}

variable "state_machine_arn" {
  description = "The backfill state machine the schedule starts."
  type        = string
}

variable "trigger_role_arn" {
  description = "Role EventBridge assumes to start the state machine (modules/iam)."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the schedule rule's name (the project's name)."
  type        = string
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
