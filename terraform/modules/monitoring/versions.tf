terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.25" # the release line make tf-check validates against (tools/terraform-schema)
    }
  }
}
