# Which Availability Zones the pipeline's subnets go in, by AZ ID (the same physical zone in
# every account; zone names are mapped per account). Pure: no provider, so Terraform can
# evaluate it anywhere (tests/unit/test_terraform.py does, with `terraform console`).
#
# The candidates are the region's row of redshift_serverless_az_ids.json (AWS's list of zones a
# Redshift Serverless workgroup may use), or the operator's override, kept to the zones this
# account has available, in the table's order. Three subnets need three zones; where AWS allows
# fewer (one region: three subnets over two zones), the zones repeat.

locals {
  table     = jsondecode(file("${path.module}/redshift_serverless_az_ids.json"))
  listed    = lookup(local.table.regions, var.region, [])
  requested = length(var.override_zone_ids) > 0 ? var.override_zone_ids : local.listed
  usable    = [for id in local.requested : id if contains(var.available_zone_ids, id)]
  # Two zones are enough only where AWS says so (the one row of the table with two IDs).
  minimum_zones = length(local.listed) == 2 ? 2 : 3
  distinct_ids  = slice(local.usable, 0, min(length(local.usable), var.subnet_count))
  subnet_zone_ids = length(local.distinct_ids) == 0 ? [] : [
    for i in range(var.subnet_count) : local.distinct_ids[i % length(local.distinct_ids)]
  ]
}
