# moviestream on AWS: the root module composing the pipeline's modules. Issue 8 builds it in
# steps; this step has the KMS key, the stream (modules/kinesis) and the bucket (modules/storage).

locals {
  # The single source of resource names, shared with the local stack (moviestream.config).
  names = jsondecode(file("${path.module}/../moviestream/resources.json"))

  stream_name = coalesce(var.stream_name, local.names.stream_name)
  bucket_name = coalesce(var.bucket_name, local.names.bucket_name)
  shard_count = coalesce(var.shard_count, local.names.stream_shards)

  tags = merge(
    {
      project     = local.names.project
      environment = var.environment
      managed_by  = "terraform"
    },
    var.tags,
  )
}

data "aws_caller_identity" "current" {}

# One customer managed key for the pipeline's data at rest (stream, bucket; later the topic and
# the warehouse secret). The account's administrators manage it through IAM; services get
# access through their roles' policies, scoped by kms:ViaService.
data "aws_iam_policy_document" "pipeline_key" {
  statement {
    sid       = "AccountAdministersTheKeyThroughIam"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy, "*" is this key
    principals {
      type        = "AWS"
      identifiers = ["arn:aws:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }
}

resource "aws_kms_key" "pipeline" {
  description             = "${local.names.project}: data at rest (Kinesis, S3)"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  policy                  = data.aws_iam_policy_document.pipeline_key.json
}

resource "aws_kms_alias" "pipeline" {
  name          = "alias/${local.names.project}-pipeline"
  target_key_id = aws_kms_key.pipeline.key_id
}

module "kinesis" {
  source = "./modules/kinesis"

  name            = local.stream_name
  stream_mode     = var.stream_mode
  shard_count     = local.shard_count
  retention_hours = var.stream_retention_hours
  kms_key_arn     = aws_kms_key.pipeline.arn
  tags            = local.tags
}

module "storage" {
  source = "./modules/storage"

  bucket_name                   = local.bucket_name
  kms_key_arn                   = aws_kms_key.pipeline.arn
  bad_records_prefix            = local.names.bad_records_prefix
  rule_outcomes_prefix          = local.names.rule_outcomes_prefix
  bad_records_expiration_days   = var.bad_records_expiration_days
  rule_outcomes_expiration_days = var.rule_outcomes_expiration_days
  force_destroy                 = var.force_destroy_bucket
  tags                          = local.tags
}
