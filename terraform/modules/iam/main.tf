# Least-privilege roles of the pipeline: every action listed, every resource this deployment's
# ARN. This step has the backfill trigger's roles (the state machine's, and EventBridge's to
# start it); the Glue jobs' and Redshift's roles come with those modules.

data "aws_iam_policy_document" "states_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

resource "aws_iam_role" "backfill_states" {
  name               = "${var.name_prefix}-backfill-states"
  description        = "The backfill state machine: runs the backfill Glue job and reports to the alert topic."
  assume_role_policy = data.aws_iam_policy_document.states_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "backfill_states" {
  statement {
    sid = "RunTheBackfillJobAndWaitForIt" # glue:startJobRun.sync polls the run
    actions = [
      "glue:StartJobRun",
      "glue:GetJobRun",
      "glue:GetJobRuns",
      "glue:BatchStopJobRun",
    ]
    resources = [var.backfill_job_arn]
  }
  statement {
    sid       = "ReportToTheAlertTopic"
    actions   = ["sns:Publish"]
    resources = [var.alert_topic_arn]
  }
  statement {
    sid       = "EncryptForTheAlertTopic"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [var.kms_key_arn]
    condition {
      test     = "StringEquals"
      variable = "kms:ViaService"
      values   = ["sns.${data.aws_region.current.region}.amazonaws.com"]
    }
  }
  statement {
    # Step Functions' log delivery: these actions take no resource-level permissions, so AWS
    # documents "*" for them (specific actions, never "*").
    sid = "DeliverExecutionLogs"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }
  statement {
    sid       = "TraceExecutions"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"] # X-Ray has no resource-level permissions
  }
}

resource "aws_iam_role_policy" "backfill_states" {
  name   = "backfill"
  role   = aws_iam_role.backfill_states.id
  policy = data.aws_iam_policy_document.backfill_states.json
}

data "aws_region" "current" {}

data "aws_iam_policy_document" "events_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [var.account_id]
    }
  }
}

resource "aws_iam_role" "backfill_trigger" {
  name               = "${var.name_prefix}-backfill-trigger"
  description        = "EventBridge: start the backfill state machine for a file arriving under raw/."
  assume_role_policy = data.aws_iam_policy_document.events_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "backfill_trigger" {
  statement {
    sid       = "StartTheBackfill"
    actions   = ["states:StartExecution"]
    resources = [var.state_machine_arn]
  }
}

resource "aws_iam_role_policy" "backfill_trigger" {
  name   = "start-backfill"
  role   = aws_iam_role.backfill_trigger.id
  policy = data.aws_iam_policy_document.backfill_trigger.json
}

# The Glue jobs' role (streaming and backfill run the same pipeline, so they share it).
data "aws_iam_policy_document" "glue_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }
    # Whether Glue sends aws:SourceAccount when it assumes the role is for AWS to answer
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

resource "aws_iam_role" "glue_jobs" {
  name               = "${var.name_prefix}-glue-jobs"
  description        = "The streaming and backfill Glue jobs."
  assume_role_policy = data.aws_iam_policy_document.glue_assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "glue_jobs" {
  statement {
    sid       = "ListTheDataBucket" # listing raw/ prefixes and the checkpoint folder
    actions   = ["s3:ListBucket"]
    resources = [var.bucket_arn]
  }
  statement {
    # The quarantine replay (the backfill job's replay mode) reads the bad records back through
    # WriteOutputs below, and its corrections (--fixes_uri) from the fixes prefix.
    sid     = "ReadCodeAndInputs"
    actions = ["s3:GetObject"]
    resources = [
      "${var.bucket_arn}/${var.prefixes.code}/*",
      "${var.bucket_arn}/${var.prefixes.raw}/*",
      "${var.bucket_arn}/${var.prefixes.fixes}/*",
    ]
  }
  statement {
    sid       = "WriteOutputs"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [for prefix in var.prefixes.outputs : "${var.bucket_arn}/${prefix}/*"]
  }
  statement {
    sid = "ReadTheStream"
    actions = [
      "kinesis:DescribeStream",
      "kinesis:DescribeStreamSummary",
      "kinesis:GetRecords",
      "kinesis:GetShardIterator",
      "kinesis:ListShards",
    ]
    resources = [var.stream_arn]
  }
  statement {
    sid       = "UseThePipelineKey" # S3 objects, the stream, the topic, logs
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
  statement {
    sid       = "ReadTheWarehouseDsn"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.warehouse_dsn_secret_arn]
  }
  statement {
    sid       = "PutPipelineEvents"
    actions   = ["events:PutEvents"]
    resources = ["arn:${data.aws_partition.current.partition}:events:${data.aws_region.current.region}:${var.account_id}:event-bus/default"]
  }
  statement {
    sid       = "WriteJobLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"]
    resources = ["arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.region}:${var.account_id}:log-group:${var.log_group_prefix}/*"]
  }
  statement {
    sid       = "PutJobMetrics" # PutMetricData has no resource-level permissions: limited by namespace
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"]
    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["Glue", var.metrics_namespace]
    }
  }
}

resource "aws_iam_role_policy" "glue_jobs" {
  name   = "pipeline"
  role   = aws_iam_role.glue_jobs.id
  policy = data.aws_iam_policy_document.glue_jobs.json
}

data "aws_partition" "current" {}
