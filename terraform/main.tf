# moviestream on AWS: the root module composing the pipeline's modules: the stream (kinesis), the bucket (storage), the Glue jobs (glue_jobs), the warehouse
# (redshift), alerts and the backfill trigger (alerts), roles (iam), Athena tables (catalog);
# here: the pipeline's KMS key and the secret holding the warehouse DSN.

locals {
  # resources.json's names (the local stack's), with this environment's suffix (modules/names).
  project = module.names.project
  names   = module.names.names

  stream_name = coalesce(var.stream_name, local.names.stream_name)
  bucket_name = coalesce(var.bucket_name, local.names.bucket_name)
  shard_count = coalesce(var.shard_count, tonumber(local.names.stream_shards))

  artifacts_dir = coalesce(var.artifacts_dir, "${path.module}/../dist/glue")
  ruleset_file  = coalesce(var.ruleset_file, "${path.module}/../moviestream/rules/movies.dqdl")
  reference_files = coalesce(
    var.quality_reference_files, { certificates = "${path.module}/../data/references/certificates.csv" }
  )

  account_id         = data.aws_caller_identity.current.account_id
  partition          = data.aws_partition.current.partition
  region             = data.aws_region.current.region
  state_machine_name = "${local.names.backfill_job_name}-trigger"
  # Built from names (not from the resources) so the roles and what they act on do not depend
  # on each other in a cycle.
  backfill_job_arn  = "arn:${local.partition}:glue:${local.region}:${local.account_id}:job/${local.names.backfill_job_name}"
  state_machine_arn = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.state_machine_name}"
  # The Glue jobs log to groups of this stack (<prefix>/output, <prefix>/error), not to the
  # account's shared /aws-glue/jobs/* groups, so the stack sets their retention and owns them.
  glue_log_group_prefix = "/${local.names.project}/glue"
  # The event pattern files' placeholders, with this deployment's bucket.
  pattern_values = merge(local.names, { bucket_name = local.bucket_name })

  tags = merge(
    {
      project     = local.project
      environment = var.environment
      managed_by  = "terraform"
    },
    var.tags,
  )
}

module "names" {
  source = "./modules/names"

  resource_names_json = file("${path.module}/../moviestream/core/resources.json")
  name_suffix         = var.name_suffix
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

# One customer managed key for the pipeline's data at rest (stream, bucket; later the topic and
# the warehouse secret). The account's administrators manage it through IAM; services get
# access through their roles' policies, scoped by kms:ViaService.
data "aws_iam_policy_document" "pipeline_key" {
  # A key policy's resource is always the key itself ("*" there means this key), and the
  # account-root statement is AWS's default that hands the key's administration to IAM.
  #checkov:skip=CKV_AWS_111:a key policy; "*" is this key, and writes are granted to this account's IAM only
  #checkov:skip=CKV_AWS_356:a key policy; "*" is this key, not every resource
  #checkov:skip=CKV_AWS_109:a key policy; the account root statement delegates the key's management to IAM (AWS's default)
  statement {
    sid       = "AccountAdministersTheKeyThroughIam"
    effect    = "Allow"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy, "*" is this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
  statement {
    # The alert topic is encrypted with this key: EventBridge and CloudWatch alarms publishing to
    # it need a data key.
    sid       = "EventBridgeAndAlarmsPublishToTheEncryptedTopic"
    effect    = "Allow"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
  statement {
    sid       = "CloudWatchLogsEncryptsThePipelinesLogGroups"
    effect    = "Allow"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
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
  missing_data    = var.missing_data_alarms
  kms_key_arn     = aws_kms_key.pipeline.arn
  alarm_topic_arn = module.alerts.topic_arn
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

# The warehouse DSN the jobs read (redshift://...; modules/redshift writes it, without a
# password: the jobs authenticate with IAM).
resource "aws_secretsmanager_secret" "warehouse_dsn" {
  #checkov:skip=CKV2_AWS_57:holds no credential: the DSN names the workgroup and the jobs authenticate with IAM; the admin password is Redshift's own, rotated by Redshift
  name        = "${local.names.project}/warehouse-dsn"
  description = "DSN of the warehouse the Glue jobs load (redshift://...)."
  kms_key_id  = aws_kms_key.pipeline.arn
  # Where the bucket may be force-destroyed (a throwaway environment), the secret goes at once,
  # so a destroy and a new apply can reuse its name; otherwise it can be restored for 7 days.
  recovery_window_in_days = var.force_destroy_bucket ? 0 : 7
}

module "iam" {
  source = "./modules/iam"

  name_prefix       = local.names.project
  backfill_job_arn  = local.backfill_job_arn
  state_machine_arn = local.state_machine_arn
  alert_topic_arn   = module.alerts.topic_arn
  kms_key_arn       = aws_kms_key.pipeline.arn
  account_id        = local.account_id
  bucket_arn        = module.storage.bucket_arn
  log_group_prefix  = local.glue_log_group_prefix
  prefixes = {
    raw     = local.names.raw_prefix
    code    = "glue"
    outputs = [local.names.bad_records_prefix, local.names.rule_outcomes_prefix, "checkpoints", "staging"]
    fixes   = "quarantine_fixes"
  }
  stream_arn               = module.kinesis.stream_arn
  warehouse_dsn_secret_arn = aws_secretsmanager_secret.warehouse_dsn.arn
  metrics_namespace        = local.names.metrics_namespace
  trust_source_account     = var.trust_source_account
  tags                     = local.tags
}

module "glue_jobs" {
  source = "./modules/glue_jobs"

  name_prefix              = local.names.project
  streaming_job_name       = local.names.streaming_job_name
  backfill_job_name        = local.names.backfill_job_name
  job_role_arn             = module.iam.glue_jobs_role_arn
  bucket_name              = module.storage.bucket_name
  kms_key_arn              = aws_kms_key.pipeline.arn
  artifacts_dir            = local.artifacts_dir
  ruleset_file             = local.ruleset_file
  reference_files          = local.reference_files
  reference_tables         = var.quality_reference_tables
  reference_schemas        = var.quality_reference_schemas
  stream_arn               = module.kinesis.stream_arn
  warehouse_dsn_secret_arn = aws_secretsmanager_secret.warehouse_dsn.arn
  event_source             = local.names.event_source
  metrics_namespace        = local.names.metrics_namespace
  failure_ratio_threshold  = var.bad_record_ratio_threshold
  window_size              = var.window_size
  maintenance_window       = var.streaming_maintenance_window
  connections              = [module.redshift.glue_connection_name]
  log_group_prefix         = local.glue_log_group_prefix
  log_retention_days       = var.log_retention_days
  tags                     = local.tags
}

module "network" {
  source = "./modules/network"

  name                  = local.names.project
  create_vpc            = var.vpc_id == null
  vpc_id                = var.vpc_id
  subnet_ids            = var.subnet_ids
  cidr_block            = var.vpc_cidr_block
  availability_zone_ids = var.availability_zone_ids
  nat_gateway           = var.nat_gateway
  interface_endpoints   = var.interface_endpoints
  tags                  = local.tags
}

module "redshift" {
  source = "./modules/redshift"

  name                      = local.names.project
  database_name             = replace(local.names.project, "-", "_")
  kms_key_arn               = aws_kms_key.pipeline.arn
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.subnet_ids
  base_capacity             = var.redshift_base_capacity
  max_capacity              = var.redshift_max_capacity
  log_retention_days        = var.log_retention_days
  daily_rpu_hours_limit     = var.redshift_daily_rpu_hours_limit
  usage_limit_breach_action = var.redshift_usage_limit_breach_action
  bucket_arn                = module.storage.bucket_arn
  bucket_name               = module.storage.bucket_name
  dsn_secret_id             = aws_secretsmanager_secret.warehouse_dsn.id
  glue_role_name            = module.iam.glue_jobs_role_name
  account_id                = local.account_id
  trust_source_account      = var.trust_source_account
  tags                      = local.tags
}

module "alerts" {
  source = "./modules/alerts"

  name_prefix            = local.names.project
  topic_name             = local.names.alert_topic_name
  kms_key_arn            = aws_kms_key.pipeline.arn
  pattern_values         = local.pattern_values
  backfill_job_name      = local.names.backfill_job_name
  state_machine_name     = local.state_machine_name
  state_machine_role_arn = module.iam.backfill_states_role_arn
  trigger_role_arn       = module.iam.backfill_trigger_role_arn
  alert_email            = var.alert_email
  log_retention_days     = var.log_retention_days
  tags                   = local.tags
}

module "catalog" {
  source = "./modules/catalog"

  database_name      = replace(local.names.project, "-", "_")
  bucket_name        = module.storage.bucket_name
  raw_prefix         = local.names.raw_prefix
  bad_records_prefix = local.names.bad_records_prefix
  # moviestream.core.record.CSV_COLUMNS (tests/unit/test_terraform.py keeps the two equal)
  csv_columns = [
    "Poster_Link", "Series_Title", "Released_Year", "Certificate", "Runtime", "Genre", "IMDB_Rating",
    "Overview", "Meta_score", "Director", "Star1", "Star2", "Star3", "Star4", "No_of_Votes", "Gross",
  ]
  backfill_schedule = var.backfill_schedule
  state_machine_arn = module.alerts.state_machine_arn
  trigger_role_arn  = module.iam.backfill_trigger_role_arn
  name_prefix       = local.names.project
  tags              = local.tags
}

# What a person operating this deployment needs beyond Terraform's own rights, as one policy to
# attach to their user or role (terraform/README.md): apply the schema and query the views
# through the Redshift Data API as the admin (its secret, and the key that encrypts it), start
# the jobs, replay movies into the stream, and drop historical files under raw/.
data "aws_iam_policy_document" "operator" {
  statement {
    sid       = "RunWarehouseStatements"
    actions   = ["redshift-data:ExecuteStatement", "redshift-data:BatchExecuteStatement"]
    resources = [module.redshift.workgroup_arn]
  }
  statement {
    # These take no resource: AWS scopes them to the caller's own statements with this condition.
    sid       = "ReadOwnStatements"
    actions   = ["redshift-data:DescribeStatement", "redshift-data:GetStatementResult", "redshift-data:CancelStatement"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "redshift-data:statement-owner-iam-userid"
      values   = ["$${aws:userid}"]
    }
  }
  statement {
    sid       = "UseTheWarehouseAdminSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [module.redshift.admin_secret_arn]
  }
  statement {
    sid       = "StartTheJobs"
    actions   = ["glue:StartJobRun", "glue:GetJobRun", "glue:GetJobRuns", "glue:BatchStopJobRun"]
    resources = ["arn:${local.partition}:glue:${local.region}:${local.account_id}:job/${local.names.streaming_job_name}", local.backfill_job_arn]
  }
  statement {
    sid       = "ReplayIntoTheStream"
    actions   = ["kinesis:PutRecord", "kinesis:PutRecords", "kinesis:DescribeStreamSummary", "kinesis:ListShards"]
    resources = [module.kinesis.stream_arn]
  }
  statement {
    sid       = "DropHistoricalFiles"
    actions   = ["s3:PutObject"]
    resources = ["${module.storage.bucket_arn}/${local.names.raw_prefix}/*"]
  }
  statement {
    sid       = "UseThePipelineKey" # the admin secret, the stream and the bucket are encrypted with it
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.pipeline.arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["secretsmanager.${local.region}.amazonaws.com", "kinesis.${local.region}.amazonaws.com", "s3.${local.region}.amazonaws.com"]
    }
  }
}

resource "aws_iam_policy" "operator" {
  name        = "${local.project}-operator"
  description = "Operate ${local.project}: apply and query the warehouse through the Data API, start the jobs, replay, backfill."
  policy      = data.aws_iam_policy_document.operator.json
  tags        = local.tags
}

module "monitoring" {
  source = "./modules/monitoring"

  name_prefix                     = local.names.project
  region                          = local.region
  metrics_namespace               = local.names.metrics_namespace
  streaming_job_name              = local.names.streaming_job_name
  backfill_job_name               = local.names.backfill_job_name
  stream_name                     = module.kinesis.stream_name
  workgroup_name                  = module.redshift.workgroup_name
  alarm_topic_arn                 = module.alerts.topic_arn
  bad_record_ratio_threshold      = var.bad_record_ratio_threshold
  quality_score_threshold         = var.quality_score_alarm_threshold
  lag_threshold_seconds           = var.lag_alarm_seconds
  freshness_minutes               = var.freshness_alarm_minutes
  window_seconds                  = tonumber(regex("^[0-9]+", var.window_size))
  daily_rpu_hours_limit           = var.redshift_daily_rpu_hours_limit
  staleness_alarm_seconds         = var.views_staleness_alarm_seconds
  missing_data                    = var.missing_data_alarms
  quarantine_open_alarm_threshold = var.quarantine_open_alarm_threshold
  tags                            = local.tags
}
