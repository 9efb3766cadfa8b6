variable "name_prefix" {
  description = "Prefix of the role names (the project's name)."
  type        = string
  validation {
    condition     = can(regex("^[a-zA-Z0-9+=,.@_-]{1,40}$", var.name_prefix))
    error_message = "name_prefix must be 1 to 40 characters valid in IAM role names (letters, digits, +=,.@_-)."
  }
}

variable "backfill_job_arn" {
  description = "ARN of the backfill Glue job the state machine runs."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:glue:[a-z0-9-]+:[0-9]{12}:job/.+$", var.backfill_job_arn))
    error_message = "backfill_job_arn must be a Glue job ARN (arn:aws:glue:REGION:ACCOUNT:job/NAME)."
  }
}

variable "state_machine_arn" {
  description = "ARN of the backfill state machine EventBridge starts."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:states:[a-z0-9-]+:[0-9]{12}:stateMachine:.+$", var.state_machine_arn))
    error_message = "state_machine_arn must be a Step Functions state machine ARN."
  }
}

variable "alert_topic_arn" {
  description = "ARN of the alert topic the state machine publishes to."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:sns:", var.alert_topic_arn))
    error_message = "alert_topic_arn must be an SNS topic ARN (arn:aws:sns:...)."
  }
}

variable "kms_key_arn" {
  description = "ARN of the pipeline's KMS key (the alert topic is encrypted with it)."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "account_id" {
  description = "The AWS account the roles may be assumed from (aws:SourceAccount condition)."
  type        = string
  validation {
    condition     = can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account id."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}

variable "bucket_arn" {
  description = "ARN of the data bucket (the Glue jobs' code, inputs and outputs)."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9.-]+$", var.bucket_arn))
    error_message = "bucket_arn must be an S3 bucket ARN (arn:aws:s3:::NAME)."
  }
}

variable "prefixes" {
  description = "The bucket's prefixes by role: raw (read), outputs (read and write: bad records, rule outcomes, checkpoints, warehouse staging), code (read), fixes (read: corrections a quarantine replay applies)."
  type = object({
    raw     = string
    outputs = list(string)
    code    = string
    fixes   = string
  })
}

variable "stream_arn" {
  description = "ARN of the Kinesis stream the streaming job reads."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kinesis:", var.stream_arn))
    error_message = "stream_arn must be a Kinesis stream ARN (arn:aws:kinesis:...)."
  }
}

variable "warehouse_dsn_secret_arn" {
  description = "ARN of the secret holding the warehouse DSN."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:secretsmanager:", var.warehouse_dsn_secret_arn))
    error_message = "warehouse_dsn_secret_arn must be a Secrets Manager secret ARN."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of the jobs' own per-batch metrics: the jobs may put metrics there and in Glue's."
  type        = string
  default     = "moviestream"
}

variable "log_group_prefix" {
  description = "The Glue jobs' log groups are under this path (created by modules/glue_jobs)."
  type        = string
}

variable "trust_source_account" {
  description = "Require aws:SourceAccount in the Glue jobs' role trust policy (false when Glue does not send it: terraform/README.md, first five minutes)."
  type        = bool
  default     = true
}
