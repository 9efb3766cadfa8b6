variable "region" {
  description = "The region being deployed to."
  type        = string
}

variable "available_zone_ids" {
  description = "AZ IDs this account has available in the region."
  type        = list(string)
}

variable "override_zone_ids" {
  description = "AZ IDs to use instead of the table's row; empty uses the table."
  type        = list(string)
  default     = []
  validation {
    condition     = alltrue([for id in var.override_zone_ids : can(regex("^[a-z]+[0-9]+-az[0-9]+$", id))])
    error_message = "override_zone_ids must be AZ IDs (aws ec2 describe-availability-zones shows them as ZoneId), not zone names."
  }
}

variable "subnet_count" {
  description = "Subnets to place (Redshift Serverless needs three)."
  type        = number
  default     = 3
  validation {
    condition     = var.subnet_count >= 3 && var.subnet_count <= 6
    error_message = "subnet_count must be between 3 and 6."
  }
}

variable "place_subnets" {
  description = "Whether the caller creates subnets in the chosen zones (false: it only reads listed_zone_ids, and too few zones is not an error)."
  type        = bool
  default     = true
}
