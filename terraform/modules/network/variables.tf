variable "name" {
  description = "Name prefix of the network's resources."
  type        = string
}

variable "create_vpc" {
  description = "Create the VPC (true), or use vpc_id and subnet_ids (false)."
  type        = bool
}

variable "vpc_id" {
  description = "The existing VPC when create_vpc is false."
  type        = string
  default     = null
}

variable "subnet_ids" {
  description = "Private subnets of the existing VPC, in at least three Availability Zones, when create_vpc is false."
  type        = list(string)
  default     = []
}

variable "cidr_block" {
  description = "CIDR block of a created VPC."
  type        = string
  default     = "10.42.0.0/16"
  validation {
    condition     = can(cidrsubnet(var.cidr_block, 4, 0)) && tonumber(split("/", var.cidr_block)[1]) <= 24
    error_message = "cidr_block must be an IPv4 CIDR block of /24 or larger, e.g. 10.42.0.0/16."
  }
}

variable "subnet_count" {
  description = "Private subnets of a created VPC, one per Availability Zone where the region has enough (Redshift Serverless needs three)."
  type        = number
  default     = 3
  validation {
    condition     = var.subnet_count >= 3 && var.subnet_count <= 6
    error_message = "subnet_count must be between 3 and 6."
  }
}

variable "availability_zone_ids" {
  description = "AZ IDs (as in modules/zones/redshift_serverless_az_ids.json, not zone names) for a created VPC's subnets; empty takes them from modules/zones' table of zones Redshift Serverless supports."
  type        = list(string)
  default     = []
  validation {
    condition     = length(var.availability_zone_ids) == 0 || length(var.availability_zone_ids) >= 2
    error_message = "availability_zone_ids must be empty or name at least two AZ IDs (three, except where AWS allows two)."
  }
}

variable "nat_gateway" {
  description = "Give a created VPC a NAT gateway: Glue installs the jobs' Python modules from PyPI at every start, which has no VPC endpoint."
  type        = bool
  default     = true
}

variable "interface_endpoints" {
  description = "Interface endpoints to create (service names after com.amazonaws.REGION.); kinesis-streams is required for a streaming job with a network connection."
  type        = list(string)
  default     = ["kinesis-streams"]
  validation {
    condition     = alltrue([for s in var.interface_endpoints : can(regex("^[a-z0-9.-]+$", s))])
    error_message = "interface_endpoints must be service names such as kinesis-streams or secretsmanager."
  }
}

variable "tags" {
  description = "Tags for every resource of the module."
  type        = map(string)
  default     = {}
}
