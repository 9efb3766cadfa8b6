# Alerts and the backfill trigger: the encrypted alert topic, EventBridge rules whose patterns are
# the files in moviestream/core/eventbridge/ (the local bootstrap uses the same files), and the
# backfill state machine (moviestream/backfill/aws/state_machine.asl.json) that a file under raw/ starts.

locals {
  patterns_dir = "${path.module}/../../../moviestream/core/eventbridge"
  # Rules whose matches go to the alert topic, by pattern file: the one path every alert takes
  # (the jobs put events and never publish to SNS themselves). No rule for AWS Glue Data
  # Quality's results: the jobs judge DQDL themselves, and such a rule would forward every other
  # workload's results in the account to this topic.
  alert_patterns = {
    glue-job-failed      = "glue_job_failed"
    pipeline-breach      = "pipeline_breach"
    pipeline-degraded    = "pipeline_degraded"
    pipeline-recovered   = "pipeline_recovered"
    views-refresh-failed = "views_refresh_failed"
  }
}

data "aws_caller_identity" "current" {}

resource "aws_sns_topic" "alerts" {
  name              = var.topic_name
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

# EventBridge may publish only for this deployment's rules; CloudWatch alarms of this account.
data "aws_iam_policy_document" "alerts_topic" {
  statement {
    sid       = "EventBridgeRulesOfThisPipeline"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for rule in aws_cloudwatch_event_rule.alert : rule.arn]
    }
  }
  statement {
    sid       = "CloudWatchAlarmsOfThisAccount"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.alerts_topic.json
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alert_email == null ? 0 : 1
  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = var.alert_email
}

resource "aws_cloudwatch_event_rule" "alert" {
  for_each      = local.alert_patterns
  name          = "${var.name_prefix}-${each.key}"
  description   = "moviestream alerts: moviestream/core/eventbridge/${each.value}.json"
  event_pattern = templatefile("${local.patterns_dir}/${each.value}.json", var.pattern_values)
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "alert" {
  for_each = local.alert_patterns
  rule     = aws_cloudwatch_event_rule.alert[each.key].name
  arn      = aws_sns_topic.alerts.arn
}

# The jobs degraded (S3 or the warehouse unreachable past the degraded time, retrying) or failed
# (a permanent error): an alarm that stays in ALARM while such events keep coming, so a dashboard
# shows it beside the notifications the rule sends to the topic.
resource "aws_cloudwatch_metric_alarm" "pipeline_degraded" {
  alarm_name          = "${var.name_prefix}-pipeline-degraded"
  alarm_description   = "A moviestream job reported itself degraded or failed (moviestream/core/eventbridge/pipeline_degraded.json)."
  namespace           = "AWS/Events"
  metric_name         = "MatchedEvents"
  dimensions          = { RuleName = aws_cloudwatch_event_rule.alert["pipeline-degraded"].name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching" # no such event: healthy
  alarm_actions       = [aws_sns_topic.alerts.arn]
  ok_actions          = [aws_sns_topic.alerts.arn]
  tags                = var.tags
}

# The backfill: a file under raw/ starts the state machine, which runs the Glue job and reports.
resource "aws_cloudwatch_log_group" "backfill_states" {
  name              = "/aws/vendedlogs/states/${var.state_machine_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_sfn_state_machine" "backfill" {
  name     = var.state_machine_name
  role_arn = var.state_machine_role_arn
  definition = templatefile("${path.module}/../../../moviestream/backfill/aws/state_machine.asl.json", {
    glue_job_name = var.backfill_job_name
    topic_arn     = aws_sns_topic.alerts.arn
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.backfill_states.arn}:*"
    include_execution_data = true
    level                  = "ERROR"
  }

  tracing_configuration {
    enabled = true
  }

  tags = var.tags
}

resource "aws_cloudwatch_event_rule" "raw_object_created" {
  name          = "${var.name_prefix}-raw-object-created"
  description   = "A file under raw/ starts the backfill: moviestream/core/eventbridge/raw_object_created.json"
  event_pattern = templatefile("${local.patterns_dir}/raw_object_created.json", var.pattern_values)
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "raw_object_created" {
  rule     = aws_cloudwatch_event_rule.raw_object_created.name
  arn      = aws_sfn_state_machine.backfill.arn
  role_arn = var.trigger_role_arn
}
