variable "name" {
  description = "Name of the Redshift Serverless namespace and workgroup."
  type        = string
  validation {
    condition     = can(regex("^[a-z0-9-]{3,64}$", var.name))
    error_message = "name must be 3 to 64 lowercase letters, digits or '-' (Redshift Serverless naming rules)."
  }
}

variable "database_name" {
  description = "Database the pipeline loads (schema movies inside it)."
  type        = string
  default     = "moviestream"
  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,63}$", var.database_name))
    error_message = "database_name must start with a letter or '_' and hold only lowercase letters, digits and '_'."
  }
}

variable "admin_username" {
  description = "Admin user of the namespace; its password is generated and rotated by Redshift in Secrets Manager."
  type        = string
  default     = "moviestream_admin"
  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,127}$", var.admin_username)) && var.admin_username != "admin"
    error_message = "admin_username must be lowercase letters, digits or '_' and not the reserved name admin."
  }
}

variable "base_capacity" {
  description = "Base RPUs of the workgroup (8 to 512, in steps of 8)."
  type        = number
  default     = 8
  validation {
    condition     = var.base_capacity >= 8 && var.base_capacity <= 512 && var.base_capacity % 8 == 0
    error_message = "base_capacity must be a multiple of 8 between 8 and 512."
  }
}

variable "kms_key_arn" {
  description = "The pipeline's KMS key (the namespace's data and its admin secret)."
  type        = string
  validation {
    condition     = can(regex("^arn:aws[a-z-]*:kms:", var.kms_key_arn))
    error_message = "kms_key_arn must be a KMS key ARN (arn:aws:kms:...)."
  }
}

variable "vpc_id" {
  description = "VPC of the workgroup and of the Glue jobs' network connection."
  type        = string
  validation {
    condition     = can(regex("^vpc-[0-9a-f]+$", var.vpc_id))
    error_message = "vpc_id must be a VPC id (vpc-...)."
  }
}

variable "subnet_ids" {
  description = "Private subnets in at least three Availability Zones (Redshift Serverless needs three); the Glue connection uses the first."
  type        = list(string)
  validation {
    condition     = length(var.subnet_ids) >= 3 && alltrue([for s in var.subnet_ids : can(regex("^subnet-[0-9a-f]+$", s))])
    error_message = "subnet_ids must list at least three subnet ids (subnet-...)."
  }
}

variable "bucket_arn" {
  description = "The data bucket (COPY reads the staging prefix)."
  type        = string
}

variable "bucket_name" {
  description = "The data bucket's name (the DSN's staging_uri)."
  type        = string
}

variable "staging_prefix" {
  description = "Prefix the Glue jobs stage each batch under for COPY."
  type        = string
  default     = "staging"
}

variable "dsn_secret_id" {
  description = "Secret that receives the DSN the Glue jobs use (no password: IAM authentication)."
  type        = string
}

variable "glue_role_name" {
  description = "Name of the Glue jobs' role, granted temporary database credentials on the workgroup."
  type        = string
}

variable "account_id" {
  description = "This AWS account (trust policy condition)."
  type        = string
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}

variable "max_capacity" {
  description = "Most RPUs the workgroup may scale to (8 to 512, in steps of 8; at least base_capacity)."
  type        = number
  default     = 32
  validation {
    condition     = var.max_capacity >= 8 && var.max_capacity <= 512 && var.max_capacity % 8 == 0
    error_message = "max_capacity must be 8 to 512 in steps of 8."
  }
}

variable "log_retention_days" {
  description = "Days the warehouse's log groups keep their events."
  type        = number
  default     = 30
}

variable "daily_rpu_hours_limit" {
  description = "RPU-hours of compute a day before the usage limit's breach action (8 RPUs running all day use 192)."
  type        = number
  default     = 200
  validation {
    condition     = var.daily_rpu_hours_limit >= 1
    error_message = "daily_rpu_hours_limit must be at least 1 RPU-hour."
  }
}

variable "usage_limit_breach_action" {
  description = "What Redshift does past daily_rpu_hours_limit: log, emit-metric or deactivate (deactivate stops loading until the next day)."
  type        = string
  default     = "emit-metric"
  validation {
    condition     = contains(["log", "emit-metric", "deactivate"], var.usage_limit_breach_action)
    error_message = "usage_limit_breach_action must be log, emit-metric or deactivate."
  }
}

variable "trust_source_account" {
  description = "Require aws:SourceAccount in the COPY role's trust policy (false when Redshift does not send it: terraform/README.md, first five minutes)."
  type        = bool
  default     = true
}
