# No region variable: the AWS provider takes the region from its own chain (AWS_REGION, or the
# profile's region), the same one the project's CLIs use, and everything reads it back from
# data.aws_region.
#
# Names default to null and then come from moviestream/core/resources.json, the file the local
# bootstrap reads too, so an applied stack and the local one have the same names.

variable "environment" {
  description = "Deployment environment, used in tags (dev, staging or prod)."
  type        = string
  default     = "dev"
  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "name_suffix" {
  description = "Appended to every name (moviestream-<suffix>-movies, ...), so two environments can live in one account; empty keeps resources.json's names. Use one Terraform state per environment."
  type        = string
  default     = ""
}

variable "stream_name" {
  description = "Kinesis stream name; null takes stream_name from moviestream/core/resources.json."
  type        = string
  default     = null
}

variable "bucket_name" {
  description = "Data bucket name (globally unique in S3); null takes bucket_name from moviestream/core/resources.json."
  type        = string
  default     = null
}

variable "stream_mode" {
  description = "ON_DEMAND or PROVISIONED."
  type        = string
  default     = "ON_DEMAND"
  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.stream_mode)
    error_message = "stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "shard_count" {
  description = "Shards when stream_mode is PROVISIONED; null takes stream_shards from moviestream/core/resources.json."
  type        = number
  default     = null
}

variable "stream_retention_hours" {
  description = "Hours records stay in the stream (24 to 8760)."
  type        = number
  default     = 24
}

variable "bad_records_expiration_days" {
  description = "Days bad records are kept in S3."
  type        = number
  default     = 90
}

variable "rule_outcomes_expiration_days" {
  description = "Days rule-outcome files are kept in S3."
  type        = number
  default     = 365
}

variable "force_destroy_bucket" {
  description = "Allow terraform destroy to delete the data bucket with its objects (throwaway environments only)."
  type        = bool
  default     = false
}

variable "kms_deletion_window_days" {
  description = "Days a scheduled deletion of the pipeline's KMS key waits (7 to 30)."
  type        = number
  default     = 30
  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}

variable "alert_email" {
  description = "Email address subscribed to the alert topic; null for none."
  type        = string
  default     = null
}

variable "artifacts_dir" {
  description = "Where `make package` wrote the Glue artifacts; null for the checkout's dist/glue."
  type        = string
  default     = null
}

variable "ruleset_file" {
  description = "The DQDL ruleset the jobs run; null for moviestream/rules/movies.dqdl."
  type        = string
  default     = null
}

variable "quality_reference_files" {
  description = "Reference datasets for the rules that compare with one (ReferentialIntegrity, DatasetMatch, ...): alias => a CSV or Parquet file, uploaded beside the ruleset; null for the shipped certificates list (data/references/certificates.csv)."
  type        = map(string)
  default     = null
}

variable "quality_reference_tables" {
  description = "Reference datasets read from the warehouse: alias => \"schema.table\"."
  type        = map(string)
  default     = {}
  validation {
    condition     = alltrue([for t in values(var.quality_reference_tables) : can(regex("^[A-Za-z_][A-Za-z0-9_]*[.][A-Za-z_][A-Za-z0-9_]*$", t))])
    error_message = "quality_reference_tables' values must be schema.table."
  }
}

variable "quality_reference_schemas" {
  description = "The warehouse schemas quality_reference_tables may name (the jobs' --reference_schemas): the pipeline's own by default, so a ruleset cannot read other schemas the jobs' user can see."
  type        = list(string)
  default     = ["movies"]
  validation {
    condition     = alltrue([for s in var.quality_reference_schemas : can(regex("^[A-Za-z_][A-Za-z0-9_]*$", s))])
    error_message = "quality_reference_schemas must be schema names."
  }
}

variable "window_size" {
  description = "Micro-batch trigger of the streaming job, e.g. \"10 seconds\"."
  type        = string
  default     = "10 seconds"
  validation {
    condition     = can(regex("^[1-9][0-9]* seconds?$", var.window_size))
    error_message = "window_size must be a whole number of seconds, such as \"10 seconds\"."
  }
}

variable "streaming_maintenance_window" {
  description = "Weekly window (GMT, \"Day:Hour\") in which Glue restarts the 7-day streaming run (it resumes from its checkpoint)."
  type        = string
  default     = "Sun:3"
}

variable "backfill_schedule" {
  description = "Schedule that backfills all of raw/ (e.g. \"cron(0 3 * * ? *)\"); null for none."
  type        = string
  default     = null
}

variable "vpc_id" {
  description = "An existing VPC for Redshift Serverless and the Glue jobs (it needs an S3 gateway endpoint and a way to PyPI); null creates one (modules/network)."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Private subnets of vpc_id in at least three Availability Zones (only with vpc_id)."
  type        = list(string)
  default     = []
}

variable "availability_zone_ids" {
  description = "AZ IDs (as in modules/zones/redshift_serverless_az_ids.json, not zone names) for the created VPC's subnets; empty takes them from the table of zones Redshift Serverless supports (modules/zones/redshift_serverless_az_ids.json)."
  type        = list(string)
  default     = []
}

variable "vpc_cidr_block" {
  description = "CIDR block of the VPC created when vpc_id is null."
  type        = string
  default     = "10.42.0.0/16"
}

variable "nat_gateway" {
  description = "Give the created VPC a NAT gateway (Glue installs the jobs' Python modules from PyPI, which has no VPC endpoint)."
  type        = bool
  default     = true
}

variable "interface_endpoints" {
  description = "Interface endpoints for the jobs' AWS calls (com.amazonaws.REGION.<name>); kinesis-streams is required for a streaming job with a network connection."
  type        = list(string)
  default     = ["kinesis-streams"]
}

variable "redshift_base_capacity" {
  description = "Base RPUs of the Redshift Serverless workgroup (8 to 512, steps of 8)."
  type        = number
  default     = 8
}

variable "redshift_max_capacity" {
  description = "Most RPUs the workgroup may scale to (8 to 512, steps of 8, at least redshift_base_capacity): the cap on how fast it can spend (docs/COSTS.md)."
  type        = number
  default     = 32
  validation {
    condition     = var.redshift_max_capacity >= 8 && var.redshift_max_capacity <= 512 && var.redshift_max_capacity % 8 == 0
    error_message = "redshift_max_capacity must be 8 to 512 in steps of 8."
  }
}

variable "redshift_daily_rpu_hours_limit" {
  description = "Daily RPU-hours of Redshift Serverless compute before the usage limit acts (docs/COSTS.md); an alarm fires at the same figure."
  type        = number
  default     = 200
}

variable "redshift_usage_limit_breach_action" {
  description = "log, emit-metric or deactivate (deactivate turns off queries, and so loading, until the next day starts at 00:00 UTC)."
  type        = string
  default     = "emit-metric"
}

variable "missing_data_alarms" {
  description = "How the alarms that expect the streaming job to be running treat no data (iterator age, views' staleness): breaching where it should always run (prod), notBreaching where it is stopped to save money (dev)."
  type        = string
  default     = "breaching"
  validation {
    condition     = contains(["breaching", "notBreaching"], var.missing_data_alarms)
    error_message = "missing_data_alarms must be breaching or notBreaching."
  }
}

variable "quarantine_open_alarm_threshold" {
  description = "Alarm when more than this many bad records wait open in quarantine (moviestream quarantine list); null (the default): no such alarm."
  type        = number
  default     = null
  validation {
    condition     = var.quarantine_open_alarm_threshold == null || try(var.quarantine_open_alarm_threshold >= 0, false)
    error_message = "quarantine_open_alarm_threshold must be null or at least 0."
  }
}

variable "views_staleness_alarm_seconds" {
  description = "Alarm when the aggregated views lag the newest committed batch by more than this, for 5 minutes (the jobs refresh them at most every --views_refresh_seconds, default 60)."
  type        = number
  default     = 600
  validation {
    condition     = var.views_staleness_alarm_seconds >= 60
    error_message = "views_staleness_alarm_seconds must be at least 60."
  }
}

variable "log_retention_days" {
  description = "Days every log group of the stack keeps its events (one of CloudWatch Logs' retention values)."
  type        = number
  default     = 30
  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of CloudWatch Logs' retention values (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288 or 3653)."
  }
}

variable "quality_score_alarm_threshold" {
  description = "Alarm when a job's data-quality score (rules passed / evaluated) averages below this over 5 minutes."
  type        = number
  default     = 0.8
  validation {
    condition     = var.quality_score_alarm_threshold > 0 && var.quality_score_alarm_threshold <= 1
    error_message = "quality_score_alarm_threshold must be above 0 and at most 1."
  }
}

variable "lag_alarm_seconds" {
  description = "Alarm when records take longer than this from produced to committed, for 5 minutes."
  type        = number
  default     = 300
  validation {
    condition     = var.lag_alarm_seconds > 0
    error_message = "lag_alarm_seconds must be positive."
  }
}

variable "freshness_alarm_minutes" {
  description = "Alarm when records arrive on the stream but the streaming job commits no batch for this many minutes."
  type        = number
  default     = 15
  validation {
    condition     = var.freshness_alarm_minutes >= 1 && var.freshness_alarm_minutes <= 1440
    error_message = "freshness_alarm_minutes must be between 1 and 1440."
  }
}

variable "bad_record_ratio_threshold" {
  description = "A batch whose bad records / (good + bad) exceeds this alerts (the streaming job's --failure_ratio_threshold); the 5-minute average above it raises an alarm."
  type        = number
  default     = 0.05
  validation {
    condition     = var.bad_record_ratio_threshold > 0 && var.bad_record_ratio_threshold < 1
    error_message = "bad_record_ratio_threshold must be between 0 and 1."
  }
}

variable "trust_source_account" {
  description = "Require aws:SourceAccount when Glue assumes the jobs' role and Redshift the COPY role (the confused-deputy guard). Set false only if the first-five-minutes check shows a service does not send it (terraform/README.md)."
  type        = bool
  default     = true
}
