output "backfill_states_role_arn" {
  description = "Role of the backfill state machine."
  value       = aws_iam_role.backfill_states.arn
  # Step Functions checks the role's log delivery permissions when the state machine is created:
  # hand the role out only once its policy is attached.
  depends_on = [aws_iam_role_policy.backfill_states]
}

output "backfill_trigger_role_arn" {
  description = "Role EventBridge assumes to start the backfill state machine."
  value       = aws_iam_role.backfill_trigger.arn
  depends_on  = [aws_iam_role_policy.backfill_trigger]
}

output "glue_jobs_role_arn" {
  description = "Role of the streaming and backfill Glue jobs."
  value       = aws_iam_role.glue_jobs.arn
  depends_on  = [aws_iam_role_policy.glue_jobs]
}

output "glue_jobs_role_name" {
  description = "Name of the Glue jobs' role (other modules attach grants to it)."
  value       = aws_iam_role.glue_jobs.name
}
