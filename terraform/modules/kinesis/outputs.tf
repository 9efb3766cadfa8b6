output "stream_name" {
  description = "Name of the stream (the producer's --stream and the job's stream)."
  value       = aws_kinesis_stream.this.name
}

output "stream_arn" {
  description = "ARN of the stream (the Glue job's stream_arn argument, IAM policies)."
  value       = aws_kinesis_stream.this.arn
}

output "alarm_arns" {
  description = "ARNs of the iterator-age and write-throttling alarms."
  value       = [aws_cloudwatch_metric_alarm.iterator_age.arn, aws_cloudwatch_metric_alarm.write_throttled.arn]
}
