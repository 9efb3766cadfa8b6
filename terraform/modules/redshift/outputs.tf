output "workgroup_endpoint" {
  description = "Host of the workgroup (private)."
  value       = aws_redshiftserverless_workgroup.warehouse.endpoint[0].address
}

output "copy_role_arn" {
  description = "Role COPY uses (the DSN's iam_role)."
  value       = aws_iam_role.copy.arn
}

output "glue_connection_name" {
  description = "Network connection the Glue jobs use to reach the warehouse."
  value       = aws_glue_connection.vpc.name
}

output "admin_secret_arn" {
  description = "Secret with the admin password Redshift generates and rotates (for `moviestream warehouse apply`)."
  value       = aws_redshiftserverless_namespace.warehouse.admin_password_secret_arn
}

output "workgroup_name" {
  description = "Name of the workgroup (the Data API's WorkgroupName)."
  value       = aws_redshiftserverless_workgroup.warehouse.workgroup_name
}

output "database_name" {
  description = "The database the pipeline loads."
  value       = aws_redshiftserverless_namespace.warehouse.db_name
}

output "workgroup_arn" {
  description = "ARN of the workgroup (the Data API's resource)."
  value       = aws_redshiftserverless_workgroup.warehouse.arn
}
