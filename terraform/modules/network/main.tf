# The network the Glue jobs and the warehouse run in. With create_vpc (the root does this when no
# vpc_id is given: an empty account), a VPC of private subnets in three Availability Zones, an S3
# gateway endpoint on their route tables and, optionally, a NAT gateway in a public subnet. With an
# existing VPC, only the interface endpoints asked for are added to it.
#
# The zones are chosen by AZ ID from the zones Redshift Serverless supports (modules/zones).
#
# Why a NAT gateway by default: Glue installs --additional-python-modules from PyPI at every job
# start, and PyPI has no VPC endpoint. The jobs also call Kinesis, Secrets Manager, SNS,
# EventBridge, CloudWatch, KMS, STS and redshift-serverless (GetCredentials): through the NAT, or
# through interface endpoints (interface_endpoints). Glue requires a Kinesis interface endpoint
# when a streaming job that reads Kinesis has a network connection, so kinesis-streams is always
# in the default list.

data "aws_region" "current" {}

data "aws_availability_zones" "available" {
  #checkov:skip=CKV_AWS_394:zones are chosen by AZ ID from modules/zones' table of zones Redshift Serverless supports; availability_zone_ids overrides them
  state = "available"
  filter {
    name   = "opt-in-status"
    values = ["opt-in-not-required"]
  }
}

# Zones by AZ ID, from the table of zones Redshift Serverless supports (modules/zones).
module "zones" {
  source = "../zones"

  region             = data.aws_region.current.region
  available_zone_ids = data.aws_availability_zones.available.zone_ids
  override_zone_ids  = var.availability_zone_ids
  subnet_count       = var.subnet_count
  place_subnets      = var.create_vpc
}

locals {
  zone_ids = module.zones.subnet_zone_ids
  # /20 private subnets from the start of the block, the public one (NAT) after them.
  private_cidrs = [for i in range(var.subnet_count) : cidrsubnet(var.cidr_block, 4, i)]
  public_cidr   = cidrsubnet(var.cidr_block, 4, var.subnet_count)

  vpc_id     = var.create_vpc ? aws_vpc.this[0].id : var.vpc_id
  subnet_ids = var.create_vpc ? aws_subnet.private[*].id : var.subnet_ids
}

# An existing VPC's subnets: the workgroup fails to create outside the supported zones, so say
# which subnet is where before that (a warning: the table may lag AWS's page).
data "aws_subnet" "given" {
  for_each = var.create_vpc ? toset([]) : toset(var.subnet_ids)
  id       = each.value
}

check "given_subnets_are_in_supported_zones" {
  assert {
    condition = length(module.zones.listed_zone_ids) == 0 || alltrue([
      for subnet in data.aws_subnet.given : contains(module.zones.listed_zone_ids, subnet.availability_zone_id)
    ])
    error_message = "subnet_ids include subnets outside the Availability Zones Redshift Serverless supports here (${jsonencode(module.zones.listed_zone_ids)}): ${jsonencode({ for id, subnet in data.aws_subnet.given : id => subnet.availability_zone_id })}."
  }
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:flow logs are an account-level choice (cost); enable them with the account's logging standard
  count                = var.create_vpc ? 1 : 0
  cidr_block           = var.cidr_block
  enable_dns_support   = true # interface endpoints' private DNS names need both
  enable_dns_hostnames = true
  tags                 = merge(var.tags, { Name = var.name })
}

# Nothing may use the default security group of the new VPC.
resource "aws_default_security_group" "this" {
  count  = var.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = "${var.name}-default-unused" })
}

resource "aws_subnet" "private" {
  count                = var.create_vpc ? var.subnet_count : 0
  vpc_id               = aws_vpc.this[0].id
  cidr_block           = local.private_cidrs[count.index]
  availability_zone_id = local.zone_ids[count.index]
  tags                 = merge(var.tags, { Name = "${var.name}-private-${count.index}-${local.zone_ids[count.index]}" })
}

resource "aws_route_table" "private" {
  count  = var.create_vpc ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = "${var.name}-private" })
}

resource "aws_route_table_association" "private" {
  count          = var.create_vpc ? var.subnet_count : 0
  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[0].id
}

# S3 without the NAT (and required for COPY with enhanced VPC routing).
resource "aws_vpc_endpoint" "s3" {
  count             = var.create_vpc ? 1 : 0
  vpc_id            = aws_vpc.this[0].id
  service_name      = "com.amazonaws.${data.aws_region.current.region}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = [aws_route_table.private[0].id]
  tags              = merge(var.tags, { Name = "${var.name}-s3" })
}

# --- the way out to PyPI (and to AWS APIs without an endpoint) -----------------------------

resource "aws_subnet" "public" {
  count                = var.create_vpc && var.nat_gateway ? 1 : 0
  vpc_id               = aws_vpc.this[0].id
  cidr_block           = local.public_cidr
  availability_zone_id = local.zone_ids[0]
  tags                 = merge(var.tags, { Name = "${var.name}-public-nat" })
}

resource "aws_internet_gateway" "this" {
  count  = var.create_vpc && var.nat_gateway ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  tags   = merge(var.tags, { Name = var.name })
}

resource "aws_route_table" "public" {
  count  = var.create_vpc && var.nat_gateway ? 1 : 0
  vpc_id = aws_vpc.this[0].id
  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this[0].id
  }
  tags = merge(var.tags, { Name = "${var.name}-public" })
}

resource "aws_route_table_association" "public" {
  count          = var.create_vpc && var.nat_gateway ? 1 : 0
  subnet_id      = aws_subnet.public[0].id
  route_table_id = aws_route_table.public[0].id
}

resource "aws_eip" "nat" {
  count  = var.create_vpc && var.nat_gateway ? 1 : 0
  domain = "vpc"
  tags   = merge(var.tags, { Name = "${var.name}-nat" })
}

resource "aws_nat_gateway" "this" {
  count         = var.create_vpc && var.nat_gateway ? 1 : 0
  allocation_id = aws_eip.nat[0].id
  subnet_id     = aws_subnet.public[0].id
  tags          = merge(var.tags, { Name = var.name })
  depends_on    = [aws_internet_gateway.this]
}

resource "aws_route" "private_to_nat" {
  count                  = var.create_vpc && var.nat_gateway ? 1 : 0
  route_table_id         = aws_route_table.private[0].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[0].id
}

# --- interface endpoints ---------------------------------------------------------------------

data "aws_vpc" "existing" {
  count = var.create_vpc ? 0 : 1
  id    = var.vpc_id
}

resource "aws_security_group" "endpoints" {
  count       = length(var.interface_endpoints) > 0 ? 1 : 0
  name        = "${var.name}-endpoints"
  description = "Interface endpoints of the pipeline: HTTPS from inside the VPC."
  vpc_id      = local.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_https" {
  count             = length(var.interface_endpoints) > 0 ? 1 : 0
  security_group_id = aws_security_group.endpoints[0].id
  description       = "HTTPS from the VPC (the Glue jobs' network interfaces)."
  cidr_ipv4         = var.create_vpc ? var.cidr_block : data.aws_vpc.existing[0].cidr_block
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_endpoint" "interface" {
  for_each            = toset(var.interface_endpoints)
  vpc_id              = local.vpc_id
  service_name        = "com.amazonaws.${data.aws_region.current.region}.${each.value}"
  vpc_endpoint_type   = "Interface"
  subnet_ids          = local.subnet_ids
  security_group_ids  = [aws_security_group.endpoints[0].id]
  private_dns_enabled = true
  tags                = merge(var.tags, { Name = "${var.name}-${each.value}" })
}
