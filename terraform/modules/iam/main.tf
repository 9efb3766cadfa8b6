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
