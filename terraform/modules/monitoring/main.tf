# The deployment's CloudWatch dashboard and its alarms. Both are built from the files beside this
# one, which tests read: every metric name and dimension in them is checked against what the jobs
# publish (moviestream/core/metrics.py), so renaming a metric on one side fails a test.

locals {
  names = {
    region        = var.region
    namespace     = var.metrics_namespace
    streaming_job = var.streaming_job_name
    backfill_job  = var.backfill_job_name
    stream_name   = var.stream_name
    workgroup     = var.workgroup_name
  }
  thresholds = {
    bad_record_ratio_threshold = var.bad_record_ratio_threshold
    quality_score_threshold    = var.quality_score_threshold
    lag_threshold_seconds      = var.lag_threshold_seconds
    freshness_minutes          = var.freshness_minutes
    freshness_seconds          = var.freshness_minutes * 60
    window_seconds             = var.window_seconds
    daily_rpu_seconds          = var.daily_rpu_hours_limit * 3600
    daily_rpu_hours_limit      = var.daily_rpu_hours_limit
    staleness_alarm_seconds    = var.staleness_alarm_seconds
    missing_data               = var.missing_data
    quarantine_open_threshold  = coalesce(var.quarantine_open_alarm_threshold, 0)
  }
  # quarantine-open is optional: only with a threshold.
  alarms = {
    for alarm in jsondecode(templatefile("${path.module}/alarms.json.tftpl", merge(local.names, local.thresholds))) :
    alarm.name => alarm if alarm.name != "quarantine-open" || var.quarantine_open_alarm_threshold != null
  }
  alarm_actions = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]
}

resource "aws_cloudwatch_metric_alarm" "pipeline" {
  for_each = local.alarms

  alarm_name          = "${var.name_prefix}-${each.key}"
  alarm_description   = each.value.description
  comparison_operator = each.value.comparison
  threshold           = each.value.threshold
  evaluation_periods  = each.value.evaluation_periods
  treat_missing_data  = each.value.treat_missing_data
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
  tags                = var.tags

  # Every alarm is written as metric queries (one metric, or metrics and an expression), so the
  # file has one shape for all of them.
  dynamic "metric_query" {
    for_each = each.value.queries
    content {
      id          = metric_query.value.id
      return_data = metric_query.value.return_data
      label       = try(metric_query.value.label, null)
      expression  = try(metric_query.value.expression, null)

      dynamic "metric" {
        for_each = can(metric_query.value.metric) ? [metric_query.value.metric] : []
        content {
          namespace   = metric.value.namespace
          metric_name = metric.value.metric_name
          dimensions  = metric.value.dimensions
          period      = metric.value.period
          stat        = metric.value.stat
        }
      }
    }
  }
}

resource "aws_cloudwatch_dashboard" "pipeline" {
  dashboard_name = var.name_prefix
  dashboard_body = templatefile(
    "${path.module}/dashboard.json.tftpl",
    merge(local.names, { alarm_arns = jsonencode([for alarm in aws_cloudwatch_metric_alarm.pipeline : alarm.arn]) }),
  )
}
