# The two Glue jobs and what they run: the code `make package` builds and the DQDL ruleset, as S3
# objects whose source_hash follows the files (a code change is a new upload and a redeploy),
# a security configuration encrypting everything the jobs write, and the ruleset as a Glue Data
# Quality ruleset too (the same DQDL file, so AWS's own evaluator can be pointed at it).

locals {
  code_prefix = "glue"
  artifacts = {
    core      = "${var.artifacts_dir}/moviestream_core.zip"
    streaming = "${var.artifacts_dir}/streaming_job.py"
    backfill  = "${var.artifacts_dir}/backfill_job.py"
  }
  additional_python_modules = trimspace(file("${var.artifacts_dir}/additional_python_modules.txt"))
  s3                        = "s3://${var.bucket_name}"
  # --references: the uploaded files, then the warehouse tables (moviestream/quality/reference_sources.py).
  references = join(",", concat(
    [for alias, object in aws_s3_object.reference : "${alias}=${local.s3}/${object.key}"],
    [for alias, table in var.reference_tables : "${alias}=warehouse:${table}"],
  ))

  # Arguments both jobs take (moviestream/glue/streaming_job.py, moviestream/glue/backfill_job.py).
  common_arguments = {
    "--job-language"                     = "python"
    "--extra-py-files"                   = "${local.s3}/${aws_s3_object.code["core"].key}"
    "--additional-python-modules"        = local.additional_python_modules
    "--bucket"                           = var.bucket_name
    "--ruleset_s3_uri"                   = "${local.s3}/${aws_s3_object.ruleset.key}"
    "--warehouse_dsn_secret"             = var.warehouse_dsn_secret_arn
    "--metrics_namespace"                = var.metrics_namespace
    "--references"                       = local.references
    "--reference_schemas"                = join(",", var.reference_schemas)
    "--enable-metrics"                   = "true"
    "--enable-continuous-cloudwatch-log" = "true"
    "--enable-observability-metrics"     = "true"
    # Glue 5.0 and later write the driver's and executors' logs to <prefix>/error and the
    # scripts' output to <prefix>/output: the groups below, with their retention.
    "--custom-logGroup-prefix" = var.log_group_prefix
    # No --conf: AWS advises against undocumented Spark settings there, and the jobs set the
    # Spark SQL settings they need at start (SPARK_SQL_CONF in moviestream/glue/streaming_job.py).
  }
}

resource "aws_cloudwatch_log_group" "jobs" {
  for_each          = toset(["output", "error"])
  name              = "${var.log_group_prefix}/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_s3_object" "code" {
  for_each               = local.artifacts
  bucket                 = var.bucket_name
  key                    = "${local.code_prefix}/${basename(each.value)}"
  source                 = each.value
  source_hash            = filemd5(each.value)
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  tags                   = var.tags
}

resource "aws_s3_object" "ruleset" {
  bucket                 = var.bucket_name
  key                    = "${local.code_prefix}/rules/${basename(var.ruleset_file)}"
  source                 = var.ruleset_file
  source_hash            = filemd5(var.ruleset_file)
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  tags                   = var.tags
}

resource "aws_s3_object" "reference" {
  for_each               = var.reference_files
  bucket                 = var.bucket_name
  key                    = "${local.code_prefix}/references/${each.key}/${basename(each.value)}"
  source                 = each.value
  source_hash            = filemd5(each.value)
  server_side_encryption = "aws:kms"
  kms_key_id             = var.kms_key_arn
  tags                   = var.tags
}

resource "aws_glue_data_quality_ruleset" "movies" {
  name        = "${var.name_prefix}-movies"
  description = "moviestream's rules (${basename(var.ruleset_file)}), the same DQDL the jobs evaluate."
  ruleset     = file(var.ruleset_file)
  tags        = var.tags
}

resource "aws_glue_security_configuration" "jobs" {
  name = "${var.name_prefix}-jobs"
  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = var.kms_key_arn
    }
    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = var.kms_key_arn
    }
    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = var.kms_key_arn
    }
  }
}

resource "aws_glue_job" "streaming" {
  name              = var.streaming_job_name
  description       = "moviestream: Kinesis -> DQDL rules -> bad records to S3, good rows to Redshift exactly once."
  role_arn          = var.job_role_arn
  glue_version      = "6.0"
  worker_type       = var.streaming_worker_type
  number_of_workers = var.streaming_workers
  timeout           = var.streaming_timeout_minutes
  # With a timeout of 7 days (10080 minutes), Glue restarts a streaming run in this weekly window
  # (within 3 hours of its start, GMT) instead of at a random point 7 days after it started; the
  # restarted run resumes from the checkpoint. With a shorter timeout the run just ends.
  maintenance_window = var.maintenance_window
  # The job waits out S3 and warehouse outages itself (moviestream/core/failure.py); what still ends a
  # run is a permanent error, a crash, or Glue's own trouble. Restarting resumes from the
  # checkpoint and skips committed batches, so a few runs' retries are safe: they ride out
  # a lost worker or a bad node; a permanent error fails them again, and the job's FAILED event
  # alerts (glue_job_failed.json).
  max_retries            = var.streaming_max_retries
  security_configuration = aws_glue_security_configuration.jobs.name
  connections            = var.connections

  command {
    name            = "gluestreaming"
    script_location = "${local.s3}/${aws_s3_object.code["streaming"].key}"
    python_version  = "3"
  }

  default_arguments = merge(local.common_arguments, {
    "--stream_arn"              = var.stream_arn
    "--checkpoint_location"     = "${local.s3}/checkpoints/${var.streaming_job_name}/"
    "--window_size"             = var.window_size
    "--event_source"            = var.event_source
    "--failure_ratio_threshold" = tostring(var.failure_ratio_threshold)
  })

  execution_property {
    max_concurrent_runs = 1 # one reader per checkpoint
  }

  tags = var.tags
}

resource "aws_glue_job" "backfill" {
  name              = var.backfill_job_name
  description       = "moviestream: historical files (--input_uri) through the same pipeline, in resumable chunks."
  role_arn          = var.job_role_arn
  glue_version      = "6.0"
  worker_type       = var.backfill_worker_type
  number_of_workers = var.backfill_workers
  timeout           = var.backfill_timeout_minutes
  # A failed run resumes at its first uncommitted chunk when run again (the ledger skips the
  # rest), so one automatic retry costs little; more would repeat a permanent error for nothing.
  max_retries            = var.backfill_max_retries
  security_configuration = aws_glue_security_configuration.jobs.name
  connections            = var.connections

  command {
    name            = "glueetl"
    script_location = "${local.s3}/${aws_s3_object.code["backfill"].key}"
    python_version  = "3"
  }

  # --input_uri comes with each run (the state machine passes the new file).
  default_arguments = merge(local.common_arguments, {
    "--chunk_rows" = tostring(var.backfill_chunk_rows)
  })

  execution_property {
    max_concurrent_runs = 2 # files arriving together queue in the state machine beyond this
  }

  tags = var.tags
}
