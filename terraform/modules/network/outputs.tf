output "vpc_id" {
  description = "The VPC the jobs and the warehouse use."
  value       = local.vpc_id
}

output "subnet_ids" {
  description = "Its private subnets."
  value       = local.subnet_ids
}

output "nat_gateway" {
  description = "Whether a NAT gateway was created (the way to PyPI)."
  value       = var.create_vpc && var.nat_gateway
}
