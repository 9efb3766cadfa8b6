output "topic_arn" {
  description = "ARN of the alert topic (the streaming job's --alert_topic_arn; alarm actions)."
  value       = aws_sns_topic.alerts.arn
}

output "state_machine_arn" {
  description = "ARN of the backfill state machine."
  value       = aws_sfn_state_machine.backfill.arn
}

output "rule_names" {
  description = "EventBridge rules by pattern file name."
  value = merge(
    { for key, pattern in local.alert_patterns : pattern => aws_cloudwatch_event_rule.alert[key].name },
    { raw_object_created = aws_cloudwatch_event_rule.raw_object_created.name },
  )
}
