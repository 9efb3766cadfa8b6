# Redshift Serverless for the warehouse: private (no public endpoint, enhanced VPC routing, TLS
# required), encrypted with the pipeline's key, the admin password generated and rotated by
# Redshift in Secrets Manager, and the role COPY uses to read the staged batches. The Glue jobs
# reach it through a network connection in the same VPC and authenticate with IAM
# (redshift-serverless:GetCredentials), so the DSN they read holds no password.
#
# The VPC must let the jobs reach S3, Kinesis, SNS, EventBridge, Secrets Manager, KMS and
# CloudWatch Logs: a NAT gateway or interface endpoints, and an S3 gateway endpoint (COPY with
# enhanced VPC routing reads S3 through it).

data "aws_region" "current" {}

data "aws_ec2_managed_prefix_list" "s3" {
  name = "com.amazonaws.${data.aws_region.current.region}.s3"
}

data "aws_subnet" "glue" {
  id = var.subnet_ids[0]
}

# --- the role COPY uses --------------------------------------------------------------------

data "aws_iam_policy_document" "copy_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["redshift.amazonaws.com", "redshift-serverless.amazonaws.com"]
    }
    # Whether Redshift sends aws:SourceAccount when COPY assumes the role is for AWS to answer
    # (terraform/README.md, "First five minutes"): trust_source_account = false drops it.
    dynamic "condition" {
      for_each = var.trust_source_account ? [var.account_id] : []
      content {
        test     = "StringEquals"
        variable = "aws:SourceAccount"
        values   = [condition.value]
      }
    }
  }
}

resource "aws_iam_role" "copy" {
  name               = "${var.name}-redshift-copy"
  description        = "Redshift COPY of the batches the Glue jobs stage under ${var.staging_prefix}/."
  assume_role_policy = data.aws_iam_policy_document.copy_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "copy" {
  statement {
    sid       = "ReadStagedBatches"
    actions   = ["s3:GetObject"]
    resources = ["${var.bucket_arn}/${var.staging_prefix}/*"]
  }
  statement {
    sid       = "ListStagedBatches"
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${var.staging_prefix}/*"]
    }
  }
  statement {
    sid       = "DecryptStagedBatches"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "copy" {
  name   = "copy-staged-batches"
  role   = aws_iam_role.copy.id
  policy = data.aws_iam_policy_document.copy.json
}

# --- network -------------------------------------------------------------------------------

resource "aws_security_group" "glue" {
  #checkov:skip=CKV2_AWS_5:attached to the Glue jobs' network interfaces through aws_glue_connection.vpc, which checkov does not follow
  name        = "${var.name}-glue-jobs"
  description = "The Glue jobs' network interfaces (Glue needs them to reach each other)."
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_security_group" "warehouse" {
  name        = "${var.name}-warehouse"
  description = "Redshift Serverless: reachable from the Glue jobs only."
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "glue_self" {
  #checkov:skip=CKV_AWS_24:the source is this security group itself (Glue's required self-reference), not 0.0.0.0/0
  #checkov:skip=CKV_AWS_25:the source is this security group itself (Glue's required self-reference), not 0.0.0.0/0
  #checkov:skip=CKV_AWS_260:the source is this security group itself (Glue's required self-reference), not 0.0.0.0/0
  security_group_id            = aws_security_group.glue.id
  description                  = "Glue workers talk to each other (Glue requires a self-referencing rule)."
  referenced_security_group_id = aws_security_group.glue.id
  ip_protocol                  = "tcp"
  from_port                    = 0
  to_port                      = 65535
}

resource "aws_vpc_security_group_egress_rule" "glue_self" {
  security_group_id            = aws_security_group.glue.id
  description                  = "Glue workers talk to each other."
  referenced_security_group_id = aws_security_group.glue.id
  ip_protocol                  = "tcp"
  from_port                    = 0
  to_port                      = 65535
}

resource "aws_vpc_security_group_egress_rule" "glue_to_warehouse" {
  security_group_id            = aws_security_group.glue.id
  description                  = "The warehouse."
  referenced_security_group_id = aws_security_group.warehouse.id
  ip_protocol                  = "tcp"
  from_port                    = 5439
  to_port                      = 5439
}

resource "aws_vpc_security_group_egress_rule" "glue_to_aws_apis" {
  security_group_id = aws_security_group.glue.id
  description       = "AWS APIs over HTTPS (Kinesis, S3, SNS, EventBridge, Secrets Manager, KMS, logs) through the VPC's NAT or endpoints."
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_vpc_security_group_ingress_rule" "warehouse_from_glue" {
  security_group_id            = aws_security_group.warehouse.id
  description                  = "The Glue jobs load batches."
  referenced_security_group_id = aws_security_group.glue.id
  ip_protocol                  = "tcp"
  from_port                    = 5439
  to_port                      = 5439
}

resource "aws_vpc_security_group_egress_rule" "warehouse_to_s3" {
  security_group_id = aws_security_group.warehouse.id
  description       = "COPY reads the staged batches from S3 (enhanced VPC routing)."
  prefix_list_id    = data.aws_ec2_managed_prefix_list.s3.id
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}

resource "aws_glue_connection" "vpc" {
  name            = "${var.name}-vpc"
  description     = "Puts the Glue jobs in the warehouse's VPC."
  connection_type = "NETWORK"
  physical_connection_requirements {
    availability_zone      = data.aws_subnet.glue.availability_zone
    subnet_id              = data.aws_subnet.glue.id
    security_group_id_list = [aws_security_group.glue.id]
  }
  tags = var.tags
}

# What Glue does with the jobs' role to put them in the VPC through the connection: create and
# delete their network interfaces in the connection's subnet with its security group, tag them,
# and describe the network (the EC2 part of AWS's AWSGlueServiceRole policy, scoped down).
data "aws_partition" "current" {}

locals {
  log_exports = ["userlog", "connectionlog", "useractivitylog"]
  ec2_arn     = "arn:${data.aws_partition.current.partition}:ec2:${data.aws_region.current.region}:${var.account_id}"
}

data "aws_iam_policy_document" "glue_network" {
  statement {
    sid       = "CreateJobNetworkInterfaces"
    actions   = ["ec2:CreateNetworkInterface"]
    resources = ["${local.ec2_arn}:network-interface/*", "${local.ec2_arn}:subnet/${data.aws_subnet.glue.id}", aws_security_group.glue.arn]
  }
  statement {
    sid       = "DeleteJobNetworkInterfaces"
    actions   = ["ec2:DeleteNetworkInterface"]
    resources = ["${local.ec2_arn}:network-interface/*"]
  }
  statement {
    sid       = "TagJobNetworkInterfaces" # Glue tags what it creates with aws-glue-service-resource
    actions   = ["ec2:CreateTags", "ec2:DeleteTags"]
    resources = ["${local.ec2_arn}:network-interface/*"]
    condition {
      test     = "ForAllValues:StringEquals"
      variable = "aws:TagKeys"
      values   = ["aws-glue-service-resource"]
    }
  }
  statement {
    # Describe calls take no resource-level permissions: AWS documents "*" for them.
    sid = "DescribeTheNetwork"
    actions = [
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeSubnets",
      "ec2:DescribeVpcs",
      "ec2:DescribeVpcEndpoints",
      "ec2:DescribeRouteTables",
    ]
    resources = ["*"]
  }
  statement {
    sid       = "DescribeTheVpc"
    actions   = ["ec2:DescribeVpcAttribute"]
    resources = ["${local.ec2_arn}:vpc/${var.vpc_id}"]
  }
  statement {
    sid     = "ReadTheConnection"
    actions = ["glue:GetConnection"]
    resources = [
      "arn:${data.aws_partition.current.partition}:glue:${data.aws_region.current.region}:${var.account_id}:catalog",
      "arn:${data.aws_partition.current.partition}:glue:${data.aws_region.current.region}:${var.account_id}:connection/${aws_glue_connection.vpc.name}",
    ]
  }
}

resource "aws_iam_role_policy" "glue_network" {
  name   = "vpc-access"
  role   = var.glue_role_name
  policy = data.aws_iam_policy_document.glue_network.json
}

# --- the warehouse -------------------------------------------------------------------------

resource "aws_redshiftserverless_namespace" "warehouse" {
  namespace_name                   = var.name
  db_name                          = var.database_name
  admin_username                   = var.admin_username
  manage_admin_password            = true
  admin_password_secret_kms_key_id = var.kms_key_arn
  kms_key_id                       = var.kms_key_arn
  iam_roles                        = [aws_iam_role.copy.arn]
  default_iam_role_arn             = aws_iam_role.copy.arn
  log_exports                      = local.log_exports
  tags                             = var.tags
}

resource "aws_redshiftserverless_workgroup" "warehouse" {
  namespace_name       = aws_redshiftserverless_namespace.warehouse.namespace_name
  workgroup_name       = var.name
  base_capacity        = var.base_capacity
  max_capacity         = var.max_capacity
  publicly_accessible  = false
  enhanced_vpc_routing = true
  subnet_ids           = var.subnet_ids
  security_group_ids   = [aws_security_group.warehouse.id]

  config_parameter {
    parameter_key   = "require_ssl"
    parameter_value = "true"
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = var.max_capacity >= var.base_capacity
      error_message = "max_capacity (${var.max_capacity}) must be at least base_capacity (${var.base_capacity})."
    }
    # AWS now returns config parameters the pinned provider (~> 6.25) does not accept, such as
    # enable_large_strings_opt_in: every later plan shows a diff and every update of the
    # workgroup fails ("You didn't specify any changes to the configuration parameters"),
    # hashicorp/terraform-provider-aws#49939. Set at creation, then left alone; to change one,
    # drop this line for that apply, on a provider with the fix.
    ignore_changes = [config_parameter]
  }
}

# Redshift Serverless exports its logs to /aws/redshift/<namespace>/<log type>, and uses the
# group when it exists: created here, so the stack owns them and sets their retention.
resource "aws_cloudwatch_log_group" "warehouse" {
  for_each          = toset(local.log_exports)
  name              = "/aws/redshift/${var.name}/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

# Two caps on compute (docs/COSTS.md): max_capacity bounds how fast it spends, the usage limit
# how much a day. Redshift Serverless bills RPU-hours while it runs queries, and a streaming job
# that loads every few seconds keeps it running around the clock. Past the daily limit Redshift
# takes the breach action: "emit-metric" logs it and loading goes on; "deactivate" turns off
# queries until 00:00 UTC (the streaming job reports the warehouse degraded, waits, and resumes
# from its checkpoint). modules/monitoring alarms at the same figure either way.
resource "aws_redshiftserverless_usage_limit" "compute" {
  resource_arn  = aws_redshiftserverless_workgroup.warehouse.arn
  usage_type    = "serverless-compute"
  amount        = var.daily_rpu_hours_limit
  period        = "daily"
  breach_action = var.usage_limit_breach_action
}

# The Glue jobs' database credentials: temporary, for their own IAM identity.
data "aws_iam_policy_document" "glue_credentials" {
  statement {
    sid       = "TemporaryDatabaseCredentials"
    actions   = ["redshift-serverless:GetCredentials"]
    resources = [aws_redshiftserverless_workgroup.warehouse.arn]
  }
}

resource "aws_iam_role_policy" "glue_credentials" {
  name   = "warehouse-credentials"
  role   = var.glue_role_name
  policy = data.aws_iam_policy_document.glue_credentials.json
}

# What the jobs read (moviestream/warehouse/redshift.py): no password, IAM authentication.
resource "aws_secretsmanager_secret_version" "dsn" {
  secret_id = var.dsn_secret_id
  secret_string = format(
    "redshift://%s:%d/%s?workgroup=%s&iam_role=%s&staging_uri=s3://%s/%s",
    aws_redshiftserverless_workgroup.warehouse.endpoint[0].address,
    aws_redshiftserverless_workgroup.warehouse.endpoint[0].port,
    var.database_name,
    var.name,
    aws_iam_role.copy.arn,
    var.bucket_name,
    var.staging_prefix,
  )
}
