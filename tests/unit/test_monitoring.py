"""The Terraform dashboard and alarms (terraform/modules/monitoring) against what the jobs publish.

Both files are rendered by Terraform itself (``templatefile`` in ``terraform console``, no provider
needed), then every metric they name is checked: the jobs' own against the MetricData the
pipeline builds (moviestream/core/metrics.py), AWS's against the names and dimensions AWS documents.
Renaming or re-dimensioning a metric on either side fails here.
"""

from __future__ import annotations

import json
import re
import tempfile
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import hcl2
import pytest

from moviestream.core.metrics import (
    JOB_DIMENSION,
    METRICS,
    RULE_DIMENSION,
    BatchFacts,
    batch_metric_data,
    quarantine_open_metric_data,
    views_staleness_metric_data,
)
from tests.helpers import terraform_value

pytestmark = pytest.mark.tools

ROOT = Path(__file__).parents[2]
MODULE = ROOT / "terraform" / "modules" / "monitoring"
NAMES = {
    "region": "eu-west-1",
    "namespace": "moviestream-dev",
    "streaming_job": "moviestream-dev-streaming",
    "backfill_job": "moviestream-dev-backfill",
    "stream_name": "moviestream-dev-movies",
    "workgroup": "moviestream-dev",
}
THRESHOLDS = {
    "bad_record_ratio_threshold": 0.07,
    "quality_score_threshold": 0.75,
    "lag_threshold_seconds": 240,
    "freshness_minutes": 20,
    "freshness_seconds": 1200,
    "window_seconds": 10,
    "daily_rpu_seconds": 172800,
    "daily_rpu_hours_limit": 48,
    "staleness_alarm_seconds": 600,
    "missing_data": "notBreaching",
    "quarantine_open_threshold": 500,
}
# AWS's own metrics the dashboard and alarms may name: {namespace: {metric: dimension names}}.
AWS_METRICS = {
    "AWS/Kinesis": {
        name: ("StreamName",)
        for name in (
            "IncomingRecords",
            "GetRecords.IteratorAgeMilliseconds",
            "ReadProvisionedThroughputExceeded",
            "WriteProvisionedThroughputExceeded",
        )
    },
    # Glue's job metrics: JobName, JobRunId (ALL for the run's aggregate) and Type (count or gauge).
    "Glue": {
        f"glue.driver.streaming.{name}": ("JobName", "JobRunId", "Type")
        for name in ("numRecords", "batchProcessingTimeInMs", "maxConsumerLagInMs")
    },
}


@cache
def rendered() -> dict:
    """Both templates, rendered by Terraform with the keys modules/monitoring/main.tf passes."""
    with tempfile.TemporaryDirectory(prefix="monitoring-render-") as tmp:
        work = Path(tmp)
        variables = {**NAMES, **THRESHOLDS}
        (work / "main.tf").write_text(
            "locals {\n"
            f"  values = jsondecode({json.dumps(json.dumps(variables))})\n"
            f'  alarms = jsondecode(templatefile("{MODULE}/alarms.json.tftpl", local.values))\n'
            f'  dashboard = jsondecode(templatefile("{MODULE}/dashboard.json.tftpl", merge(local.values,'
            ' { alarm_arns = jsonencode(["arn:aws:cloudwatch:eu-west-1:1:alarm:x"]) })))\n'
            "}\n"
        )
        return terraform_value(work, "{ alarms = local.alarms, dashboard = local.dashboard }")


def published() -> dict[str, tuple[str, ...]]:
    """Metric name -> dimension names, as the pipeline publishes a streaming batch's metrics."""
    facts = BatchFacts(10, 8, 1, 1, 2.0, 1.0, 0.5, 0.5, [('IsComplete "title"', "Passed")], 1.0, 2.0)
    data = batch_metric_data(facts, NAMES["streaming_job"], datetime.now(UTC))
    data += views_staleness_metric_data(12.0, NAMES["streaming_job"], datetime.now(UTC))
    data += quarantine_open_metric_data(3, NAMES["streaming_job"], datetime.now(UTC))
    return {d["MetricName"]: tuple(dim["Name"] for dim in d["Dimensions"]) for d in data}


def dashboard_metrics() -> list[tuple[str, str, dict[str, str]]]:
    """(namespace, metric, dimensions) of every plain metric line of every widget; a line may
    repeat the previous line's values with "." (CloudWatch's shorthand)."""
    out = []
    for widget in rendered()["dashboard"]["widgets"]:
        previous: list = []
        for line in widget["properties"].get("metrics", []):
            values = [v for v in line if not isinstance(v, dict)]
            if not values:
                continue  # an expression (see dashboard_searches)
            values = [previous[i] if v == "." else v for i, v in enumerate(values)]
            previous = values
            namespace, metric, *dims = values
            out.append((namespace, metric, dict(zip(dims[::2], dims[1::2], strict=True))))
    return out


SEARCH = re.compile(r"SEARCH\('\{([^}]*)\}\s*(.*?)',\s*'(\w+)',\s*(\d+)\)")


def dashboard_searches() -> list[tuple[list[str], dict[str, str]]]:
    """([namespace, dimension names...], {key: value of the search terms}) of every SEARCH."""
    out = []
    for widget in rendered()["dashboard"]["widgets"]:
        for line in widget["properties"].get("metrics", []):
            for item in line:
                if isinstance(item, dict) and "expression" in item:
                    match = SEARCH.fullmatch(item["expression"])
                    assert match, item["expression"]
                    schema = [s.strip().strip('"') for s in match.group(1).split(",")]
                    terms = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
                    out.append((schema, terms))
    return out


def alarm_metrics() -> list[tuple[str, str, str, dict[str, str]]]:
    """(alarm, namespace, metric, dimensions) of every metric query of every alarm."""
    return [
        (alarm["name"], q["metric"]["namespace"], q["metric"]["metric_name"], q["metric"]["dimensions"])
        for alarm in rendered()["alarms"]
        for q in alarm["queries"]
        if "metric" in q
    ]


def _check_job_metric(metric: str, dims: dict[str, str]) -> None:
    publishes = published()
    assert metric in publishes, f"{metric} is not a metric the jobs publish"
    assert tuple(dims) == publishes[metric], (metric, dims)
    assert dims[JOB_DIMENSION] in (NAMES["streaming_job"], NAMES["backfill_job"]), dims
    streaming_only = {m.name for m in METRICS if m.streaming_only}
    if metric in streaming_only:
        assert dims[JOB_DIMENSION] == NAMES["streaming_job"], f"the backfill publishes no {metric}"


def test_every_dashboard_metric_is_one_the_jobs_or_aws_publish_with_its_dimensions():
    for namespace, metric, dims in dashboard_metrics():
        if namespace == NAMES["namespace"]:
            _check_job_metric(metric, dims)
        else:
            assert namespace in AWS_METRICS and metric in AWS_METRICS[namespace], (namespace, metric)
            assert tuple(dims) == AWS_METRICS[namespace][metric], (metric, dims)
            if namespace == "Glue":
                assert dims["JobName"] == NAMES["streaming_job"] and dims["JobRunId"] == "ALL"
                assert dims["Type"] == ("count" if metric.endswith("numRecords") else "gauge")
            else:
                assert dims["StreamName"] == NAMES["stream_name"]


def test_the_dashboard_shows_every_job_metric_and_the_aws_widgets_the_issue_lists():
    shown = {m for ns, m, d in dashboard_metrics() if ns == NAMES["namespace"]}
    searches = dashboard_searches()
    rule_searches = [t for s, t in searches if s[0] == NAMES["namespace"]]
    assert [t["MetricName"] for t in rule_searches] == ["RulePassed"]
    shown.add("RulePassed")
    assert shown == {m.name for m in METRICS}
    aws = {(ns, m) for ns, m, _ in dashboard_metrics() if ns != NAMES["namespace"]}
    assert aws == {(ns, m) for ns, metrics in AWS_METRICS.items() for m in metrics}
    redshift = [(s, t) for s, t in searches if s[0] == "AWS/Redshift-Serverless"]
    assert redshift == [
        (["AWS/Redshift-Serverless"], {"MetricName": "QueriesFailed", "Workgroup": "moviestream-dev"})
    ]


def test_the_per_rule_search_asks_for_the_dimensions_the_jobs_publish():
    (schema, terms) = next((s, t) for s, t in dashboard_searches() if s[0] == NAMES["namespace"])
    assert tuple(schema[1:]) == published()["RulePassed"] == (JOB_DIMENSION, RULE_DIMENSION)
    assert terms[JOB_DIMENSION] == NAMES["streaming_job"]


def test_the_alarm_widget_lists_the_alarms():
    widget = next(w for w in rendered()["dashboard"]["widgets"] if w["type"] == "alarm")
    assert widget["properties"]["alarms"] == ["arn:aws:cloudwatch:eu-west-1:1:alarm:x"]


def test_every_alarm_metric_is_one_the_jobs_or_aws_publish():
    for alarm, namespace, metric, dims in alarm_metrics():
        if namespace == NAMES["namespace"]:
            _check_job_metric(metric, dims)
        elif namespace == "AWS/Kinesis":
            assert metric == "IncomingRecords", alarm
            assert dims == {"StreamName": NAMES["stream_name"]}
        else:  # Redshift Serverless's own metric: RPU-seconds of compute per workgroup
            assert (namespace, metric, dims) == (
                "AWS/Redshift-Serverless",
                "ComputeSeconds",
                {"Workgroup": NAMES["workgroup"]},
            ), alarm


def test_the_alarms_the_issue_asks_for_with_their_thresholds_from_variables():
    alarms = {a["name"]: a for a in rendered()["alarms"]}
    assert set(alarms) == {
        "bad-record-ratio",
        "backfill-bad-record-ratio",
        "quality-score",
        "backfill-quality-score",
        "lag",
        "freshness",
        "batch-duration",
        "views-staleness",
        "quarantine-open",
        "warehouse-usage",
    }

    def single(name: str) -> tuple[str, float, str, str]:
        (query,) = alarms[name]["queries"]
        assert query["return_data"] is True
        return (
            alarms[name]["comparison"],
            alarms[name]["threshold"],
            query["metric"]["metric_name"],
            query["metric"]["stat"],
        )

    assert single("bad-record-ratio") == ("GreaterThanThreshold", 0.07, "BadRecordRatio", "Average")
    assert single("quality-score") == ("LessThanThreshold", 0.75, "DataQualityScore", "Average")
    assert single("lag") == ("GreaterThanThreshold", 240, "LagMaxSeconds", "Maximum")
    assert single("batch-duration") == ("GreaterThanThreshold", 10, "BatchSeconds", "Maximum")
    freshness = alarms["freshness"]
    ids = {q["id"]: q for q in freshness["queries"]}
    assert {q["metric"]["period"] for q in ids.values() if "metric" in q} == {1200}
    (expression,) = [q for q in ids.values() if "expression" in q]
    assert expression["return_data"] and set(re.findall(r"FILL\((\w+)", expression["expression"])) == {
        "incoming",
        "committed",
    }
    assert ids["committed"]["metric"]["stat"] == "SampleCount"  # batches committed in the period
    # The views lag the ledger: the same missing-data setting as Kinesis's iterator-age alarm.
    assert single("views-staleness") == ("GreaterThanThreshold", 600, "ViewsStalenessSeconds", "Maximum")
    assert alarms["views-staleness"]["treat_missing_data"] == "notBreaching"  # THRESHOLDS["missing_data"]
    # Optional (main.tf keeps it only with quarantine_open_alarm_threshold set): open records.
    assert single("quarantine-open") == ("GreaterThanThreshold", 500, "QuarantineOpen", "Maximum")
    # The daily usage limit (48 RPU-hours here) in RPU-seconds, summed over a day.
    assert single("warehouse-usage") == ("GreaterThanOrEqualToThreshold", 172800, "ComputeSeconds", "Sum")
    assert alarms["warehouse-usage"]["queries"][0]["metric"]["period"] == 86400
    for name, alarm in alarms.items():
        if name != "views-staleness":
            assert alarm["treat_missing_data"] == "notBreaching", name
        assert sum(q["return_data"] for q in alarm["queries"]) == 1


def test_the_module_passes_every_placeholder_the_templates_use():
    """The keys this test renders with are the keys main.tf passes (locals names, thresholds, and
    the dashboard's alarm_arns)."""
    with (MODULE / "main.tf").open() as fh:
        parsed = hcl2.load(fh)
    local_blocks = {k: v for block in parsed["locals"] for k, v in block.items()}
    assert set(local_blocks["names"]) == set(NAMES)
    assert set(local_blocks["thresholds"]) == set(THRESHOLDS)
    for template in ("alarms.json.tftpl", "dashboard.json.tftpl"):
        used = set(re.findall(r"\$\{(\w+)\}", (MODULE / template).read_text()))
        assert used <= set(NAMES) | set(THRESHOLDS) | {"alarm_arns"}, template


def test_the_root_module_wires_the_monitoring_module_and_the_jobs_may_publish_there():
    with (ROOT / "terraform" / "main.tf").open() as fh:
        modules = {k.strip('"'): v for block in hcl2.load(fh)["module"] for k, v in block.items()}
    monitoring = modules["monitoring"]
    assert monitoring["metrics_namespace"] == "${local.names.metrics_namespace}"
    assert modules["glue_jobs"]["metrics_namespace"] == "${local.names.metrics_namespace}"
    assert modules["iam"]["metrics_namespace"] == "${local.names.metrics_namespace}"
    assert monitoring["alarm_topic_arn"] == "${module.alerts.topic_arn}"
    assert monitoring["bad_record_ratio_threshold"] == modules["glue_jobs"]["failure_ratio_threshold"]
    iam = (ROOT / "terraform" / "modules" / "iam" / "main.tf").read_text()
    statement = iam[iam.index('sid       = "PutJobMetrics"') :]
    assert 'values   = ["Glue", var.metrics_namespace]' in statement[: statement.index("}\n  }")]
