terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.25" # the release line make tf-check validates against (tools/terraform-schema)
    }
  }
}

# No region here: the provider's chain (AWS_REGION, or the profile's region) chooses it, and
# without one the plan stops at once (terraform/README.md, step 2).
provider "aws" {
  default_tags {
    tags = local.tags
  }
}
