output "bucket_name" {
  description = "Name of the data bucket (the jobs' --bucket)."
  value       = aws_s3_bucket.data.id
}

output "bucket_arn" {
  description = "ARN of the data bucket (IAM policies)."
  value       = aws_s3_bucket.data.arn
}
