variable "name_prefix" {
  description = "Prefix of the security configuration's name (the project's name)."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z0-9_-]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 1 to 40 letters, digits, '_' or '-'."
  }
}

variable "streaming_job_name" {
  description = "Name of the streaming Glue job."
  type        = string
}

variable "backfill_job_name" {
  description = "Name of the backfill Glue job (the state machine runs it by this name)."
  type        = string
}

variable "job_role_arn" {
  description = "Role both jobs run as (modules/iam)."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:role/.+$", var.job_role_arn))
    error_message = "job_role_arn must be an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)."
  }
}

variable "bucket_name" {
  description = "Data bucket: the jobs' code and ruleset under glue/, their checkpoints, bad records and rule outcomes."
  type        = string
}

variable "kms_key_arn" {
  description = "The pipeline's KMS key (uploaded code, the jobs' S3 writes, logs and bookmarks)."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "artifacts_dir" {
  description = "Folder `make package` writes: moviestream_core.zip, streaming_job.py, backfill_job.py, additional_python_modules.txt."
  type        = string
}

variable "ruleset_file" {
  description = "The DQDL ruleset both jobs run; uploaded beside the code and also created as a Glue Data Quality ruleset."
  type        = string
}

variable "stream_arn" {
  description = "Kinesis stream the streaming job reads."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kinesis:", var.stream_arn))
    error_message = "stream_arn must be a Kinesis stream ARN (arn:aws:kinesis:...)."
  }
}

variable "warehouse_dsn_secret_arn" {
  description = "Secrets Manager secret whose value is the warehouse DSN (redshift://...)."
  type        = string
}

variable "log_group_prefix" {
  description = "The jobs' log groups are <this>/output and <this>/error (Glue's --custom-logGroup-prefix), created here with their retention."
  type        = string
  validation {
    condition     = can(regex("^/[A-Za-z0-9_/.-]+[^/]$", var.log_group_prefix)) && !startswith(var.log_group_prefix, "/aws-glue")
    error_message = "log_group_prefix must be a log group path such as /moviestream/glue, outside the account's shared /aws-glue groups."
  }
}

variable "log_retention_days" {
  description = "Days the jobs' log groups keep their events."
  type        = number
  default     = 30
}

variable "streaming_worker_type" {
  description = "Worker type of the streaming job."
  type        = string
  default     = "G.1X"
  validation {
    condition     = contains(["G.025X", "G.1X", "G.2X", "G.4X", "G.8X"], var.streaming_worker_type)
    error_message = "streaming_worker_type must be one of G.025X, G.1X, G.2X, G.4X or G.8X."
  }
}

variable "streaming_workers" {
  description = "Workers of the streaming job (at least 2: a driver and an executor)."
  type        = number
  default     = 2
  validation {
    condition     = var.streaming_workers >= 2
    error_message = "streaming_workers must be at least 2."
  }
}

variable "streaming_timeout_minutes" {
  description = "Minutes before Glue stops a streaming run (at most 10080, AWS's limit for streaming jobs); the next run resumes from the checkpoint."
  type        = number
  default     = 10080
  validation {
    condition     = var.streaming_timeout_minutes >= 60 && var.streaming_timeout_minutes <= 10080
    error_message = "streaming_timeout_minutes must be between 60 and 10080."
  }
}

variable "maintenance_window" {
  description = "Weekly window (GMT, \"Day:Hour\") in which Glue restarts the streaming run after 7 days; the run resumes from its checkpoint."
  type        = string
  default     = "Sun:3"
  validation {
    condition     = can(regex("^(Mon|Tue|Wed|Thu|Fri|Sat|Sun):([01]?[0-9]|2[0-3])$", var.maintenance_window))
    error_message = "maintenance_window must be a day and hour such as Sun:3 (GMT)."
  }
}

variable "window_size" {
  description = "Micro-batch trigger of the streaming job, e.g. \"10 seconds\"."
  type        = string
  default     = "10 seconds"
  validation {
    condition     = can(regex("^[0-9]+ (second|seconds|minute|minutes)$", var.window_size))
    error_message = "window_size must look like \"10 seconds\" or \"1 minute\"."
  }
}

variable "backfill_worker_type" {
  description = "Worker type of the backfill job."
  type        = string
  default     = "G.1X"
  validation {
    condition     = contains(["G.1X", "G.2X", "G.4X", "G.8X"], var.backfill_worker_type)
    error_message = "backfill_worker_type must be one of G.1X, G.2X, G.4X or G.8X."
  }
}

variable "backfill_workers" {
  description = "Workers of the backfill job."
  type        = number
  default     = 2
  validation {
    condition     = var.backfill_workers >= 2
    error_message = "backfill_workers must be at least 2."
  }
}

variable "backfill_timeout_minutes" {
  description = "Minutes before Glue stops a backfill run (a stopped run resumes at its first uncommitted chunk when run again)."
  type        = number
  default     = 120
  validation {
    condition     = var.backfill_timeout_minutes >= 5 && var.backfill_timeout_minutes <= 2880
    error_message = "backfill_timeout_minutes must be between 5 and 2880."
  }
}

variable "backfill_chunk_rows" {
  description = "Rows per ledger batch of the backfill."
  type        = number
  default     = 100000
  validation {
    condition     = var.backfill_chunk_rows >= 1000
    error_message = "backfill_chunk_rows must be at least 1000."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}

variable "connections" {
  description = "Glue connections the jobs use (the warehouse's VPC network connection)."
  type        = list(string)
  default     = []
}

variable "event_source" {
  description = "EventBridge source of the streaming job's breach events (this environment's, so its rules match only its own)."
  type        = string
  default     = "moviestream.pipeline"
}

variable "streaming_max_retries" {
  description = "Times Glue restarts a failed streaming run (it resumes from its checkpoint; outages are waited out inside the run)."
  type        = number
  default     = 3
  validation {
    condition     = var.streaming_max_retries >= 0 && var.streaming_max_retries <= 10
    error_message = "streaming_max_retries must be between 0 and 10."
  }
}

variable "backfill_max_retries" {
  description = "Times Glue reruns a failed backfill run (it resumes at its first uncommitted chunk)."
  type        = number
  default     = 1
  validation {
    condition     = var.backfill_max_retries >= 0 && var.backfill_max_retries <= 10
    error_message = "backfill_max_retries must be between 0 and 10."
  }
}

variable "reference_files" {
  description = "Reference datasets the rules compare with: alias => a local CSV or Parquet file, uploaded under the code prefix (which the job role reads)."
  type        = map(string)
  default     = {}
}

variable "reference_tables" {
  description = "Reference datasets in the warehouse: alias => \"schema.table\"."
  type        = map(string)
  default     = {}
}

variable "metrics_namespace" {
  description = "CloudWatch namespace the jobs publish their per-batch metrics in (moviestream/core/metrics.py); the dashboard and alarms read it."
  type        = string
  default     = "moviestream"
}

variable "failure_ratio_threshold" {
  description = "The streaming job alerts on a batch whose bad records / (good + bad) exceeds this."
  type        = number
  default     = 0.05
  validation {
    condition     = var.failure_ratio_threshold > 0 && var.failure_ratio_threshold < 1
    error_message = "failure_ratio_threshold must be between 0 and 1."
  }
}

variable "reference_schemas" {
  description = "The warehouse schemas the reference tables may name (--reference_schemas)."
  type        = list(string)
  default     = ["movies"]
}
