output "region" {
  description = "Region of the deployment (AWS_REGION for the producer and the CLIs)."
  value       = local.region
}

output "stream_name" {
  description = "Kinesis stream (the producer's --stream)."
  value       = module.kinesis.stream_name
}

output "stream_arn" {
  description = "Kinesis stream ARN (the streaming job's --stream_arn)."
  value       = module.kinesis.stream_arn
}

output "bucket_name" {
  description = "Data bucket (the jobs' --bucket; historical files go under raw/)."
  value       = module.storage.bucket_name
}

output "raw_prefix" {
  description = "Prefix under which a new file starts the backfill."
  value       = "s3://${module.storage.bucket_name}/${local.names.raw_prefix}/"
}

output "kms_key_arn" {
  description = "The pipeline's KMS key (data at rest)."
  value       = aws_kms_key.pipeline.arn
}

output "alert_topic_arn" {
  description = "Alert topic (the streaming job's --alert_topic_arn; subscribe here)."
  value       = module.alerts.topic_arn
}

output "backfill_state_machine_arn" {
  description = "The backfill state machine a file under raw/ starts."
  value       = module.alerts.state_machine_arn
}

output "streaming_job_name" {
  description = "Start the streaming job: aws glue start-job-run --job-name <this>."
  value       = module.glue_jobs.streaming_job_name
}

output "backfill_job_name" {
  description = "The backfill job (a file under raw/ starts it through the state machine)."
  value       = module.glue_jobs.backfill_job_name
}

output "warehouse_dsn_secret_arn" {
  description = "Secret holding the warehouse DSN the jobs read."
  value       = aws_secretsmanager_secret.warehouse_dsn.arn
}

output "athena_database" {
  description = "Glue database with the raw_movies and bad_records tables (query with Athena)."
  value       = module.catalog.database_name
}

output "warehouse_endpoint" {
  description = "Redshift Serverless workgroup host (private)."
  value       = module.redshift.workgroup_endpoint
}

output "warehouse_admin_secret_arn" {
  description = "Secret with the Redshift admin password (Redshift rotates it); for applying the schema."
  value       = module.redshift.admin_secret_arn
}

output "warehouse_copy_role_arn" {
  description = "Role Redshift's COPY uses (the iam_role of a redshift:// DSN)."
  value       = module.redshift.copy_role_arn
}

output "warehouse_workgroup" {
  description = "Redshift Serverless workgroup (moviestream warehouse apply --data-api --workgroup)."
  value       = module.redshift.workgroup_name
}

output "warehouse_database" {
  description = "The warehouse's database (schema movies inside it)."
  value       = module.redshift.database_name
}

output "glue_jobs_role_name" {
  description = "The Glue jobs' role; its database user is IAMR:<this> (moviestream warehouse apply --grant-role)."
  value       = module.iam.glue_jobs_role_name
}

output "vpc_id" {
  description = "The VPC of the jobs and the warehouse (created when vpc_id was not given)."
  value       = module.network.vpc_id
}

output "operator_policy_arn" {
  description = "Attach to the user or role that operates the pipeline (Data API, jobs, replay, raw/)."
  value       = aws_iam_policy.operator.arn
}

output "dashboard_name" {
  description = "The deployment's CloudWatch dashboard (the pipeline's health at a glance)."
  value       = module.monitoring.dashboard_name
}

output "job_log_group" {
  description = "CloudWatch log group of the jobs' own log lines (first_batch_schema, views_refreshed, ...)."
  value       = module.glue_jobs.output_log_group
}
