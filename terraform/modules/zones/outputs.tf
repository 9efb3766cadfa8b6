output "subnet_zone_ids" {
  description = "One AZ ID per subnet, subnet_count of them."
  value       = local.subnet_zone_ids
  precondition {
    condition     = !var.place_subnets || length(local.distinct_ids) >= local.minimum_zones
    error_message = "Fewer than ${local.minimum_zones} Availability Zones for Redshift Serverless in ${var.region}: the table (modules/zones/redshift_serverless_az_ids.json) lists ${jsonencode(local.listed)}, the override ${jsonencode(var.override_zone_ids)}, and this account has ${jsonencode(var.available_zone_ids)}. Set availability_zone_ids to three supported AZ IDs (https://docs.aws.amazon.com/redshift/latest/mgmt/serverless-usage-considerations.html)."
  }
}

output "listed_zone_ids" {
  description = "The table's row for the region (empty when the region is not listed)."
  value       = local.listed
}
