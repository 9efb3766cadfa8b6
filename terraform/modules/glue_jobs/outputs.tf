output "streaming_job_name" {
  description = "The streaming job (start it with aws glue start-job-run --job-name ...)."
  value       = aws_glue_job.streaming.name
}

output "backfill_job_name" {
  description = "The backfill job."
  value       = aws_glue_job.backfill.name
}

output "ruleset_s3_uri" {
  description = "The DQDL ruleset the jobs run, as uploaded."
  value       = "${local.s3}/${aws_s3_object.ruleset.key}"
}

output "data_quality_ruleset_name" {
  description = "The same ruleset in AWS Glue Data Quality."
  value       = aws_glue_data_quality_ruleset.movies.name
}

output "log_group_names" {
  description = "The jobs' log groups (driver and executor logs in .../error, the scripts' output in .../output)."
  value       = [for group in aws_cloudwatch_log_group.jobs : group.name]
}

output "output_log_group" {
  description = "Where the jobs' own log lines go (the scripts' stdout and stderr): <log_group_prefix>/output."
  value       = aws_cloudwatch_log_group.jobs["output"].name
}
