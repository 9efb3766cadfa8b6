output "dashboard_name" {
  description = "The CloudWatch dashboard of the deployment."
  value       = aws_cloudwatch_dashboard.pipeline.dashboard_name
}

output "alarm_names" {
  description = "The pipeline's alarms (they notify the alert topic), by their key in alarms.json.tftpl."
  value       = { for key, alarm in aws_cloudwatch_metric_alarm.pipeline : key => alarm.alarm_name }
}
