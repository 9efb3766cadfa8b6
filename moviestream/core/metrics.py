"""The jobs' own CloudWatch metrics, in one place: their names, units and dimensions (the
publisher, the Terraform dashboard and alarms, and the tests that tie them together all read
them from here), and the pure function that turns one batch's facts into PutMetricData's
``MetricData``. No I/O: publishing is the caller's (best effort, outside the batch's retries).

Facts behind the shape (PutMetricData, CloudWatch API reference): at most 1,000 metrics per
request and 30 dimensions per metric, dimension values up to 1,024 characters, and NaN or
infinite values are refused.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

JOB_DIMENSION = "JobName"
RULE_DIMENSION = "Rule"
MAX_METRICS_PER_REQUEST = 1000
MAX_DIMENSION_VALUE = 1024


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str  # a CloudWatch StandardUnit
    per_rule: bool = False  # dimensions JobName and Rule, else JobName only
    streaming_only: bool = False  # the backfill's produced_at is an as-of time: it has no lag
    per_batch: bool = True  # False: published on its own cadence, not with each batch


METRICS: tuple[Metric, ...] = (
    Metric("RecordsIn", "Count"),
    Metric("GoodRecords", "Count"),
    Metric("BadRecords", "Count"),
    Metric("DuplicatesDropped", "Count"),
    # Records whose judging raised (a bug, not a rule): isolated by bisection into the bad records.
    Metric("RecordsIsolated", "Count"),
    Metric("BadRecordRatio", "None"),  # bad / (good + bad), 0 to 1: the breach alert's ratio
    Metric("DataQualityScore", "None"),  # rules passed / rules evaluated, 0 to 1
    Metric("RulesFailed", "Count"),
    Metric("RulesErrored", "Count"),  # could not be evaluated: not in the score
    Metric("RulePassed", "None", per_rule=True),  # 1 passed, 0 failed; nothing for an error
    Metric("LagP50Seconds", "Seconds", streaming_only=True),  # produced -> committed
    Metric("LagMaxSeconds", "Seconds", streaming_only=True),
    Metric("BatchSeconds", "Seconds"),
    Metric("JudgeSeconds", "Seconds"),
    Metric("S3Seconds", "Seconds"),
    Metric("WarehouseSeconds", "Seconds"),
    # Not per batch: every --views-refresh-seconds while the job runs (views_staleness_metric_data).
    Metric("ViewsStalenessSeconds", "Seconds", per_batch=False),
    # Not per batch: the job's open records in the quarantine index, after a batch with bad
    # records and at least every minute it commits (quarantine_open_metric_data).
    Metric("QuarantineOpen", "Count", per_batch=False),
)
BY_NAME = {m.name: m for m in METRICS}


@dataclass(frozen=True)
class BatchFacts:
    """What one committed batch publishes. ``rule_outcomes``: (rule text, Glue's outcome:
    Passed, Failed or Error). Lags are None for the backfill."""

    records_in: int
    good: int
    bad: int
    duplicates: int
    seconds_total: float
    seconds_judge: float
    seconds_s3: float
    seconds_warehouse: float
    rule_outcomes: Sequence[tuple[str, str]] = ()
    lag_p50_s: float | None = None
    lag_max_s: float | None = None
    isolated: int = 0  # of ``bad``: records isolated because judging them raised


def quality_score(outcomes: Iterable[tuple[str, str]]) -> tuple[float | None, int, int]:
    """(score, failed, errored): passed over passed + failed; a rule that errored is counted
    apart and left out of the score, as Glue's console leaves it out. None with no verdict."""
    verdicts = [outcome.lower() for _, outcome in outcomes]
    passed, failed = verdicts.count("passed"), verdicts.count("failed")
    errored = len(verdicts) - passed - failed
    return (passed / (passed + failed) if passed + failed else None), failed, errored


def batch_metric_data(facts: BatchFacts, job_name: str, timestamp: datetime) -> list[dict[str, Any]]:
    """PutMetricData's MetricData for one batch: every job metric with the JobName dimension,
    and RulePassed once per rule with JobName and Rule. Values CloudWatch would refuse (None,
    NaN, infinite) are left out."""
    score, failed, errored = quality_score(facts.rule_outcomes)
    values: dict[str, float | None] = {
        "RecordsIn": facts.records_in,
        "GoodRecords": facts.good,
        "BadRecords": facts.bad,
        "DuplicatesDropped": facts.duplicates,
        "RecordsIsolated": facts.isolated,
        "BadRecordRatio": facts.bad / (facts.good + facts.bad) if facts.good + facts.bad else None,
        "DataQualityScore": score,
        "RulesFailed": failed,
        "RulesErrored": errored,
        "LagP50Seconds": facts.lag_p50_s,
        "LagMaxSeconds": facts.lag_max_s,
        "BatchSeconds": facts.seconds_total,
        "JudgeSeconds": facts.seconds_judge,
        "S3Seconds": facts.seconds_s3,
        "WarehouseSeconds": facts.seconds_warehouse,
    }
    job = [{"Name": JOB_DIMENSION, "Value": job_name[:MAX_DIMENSION_VALUE]}]
    data = [
        _datum(name, value, job, timestamp)
        for name, value in values.items()
        if value is not None and _publishable(value)
    ]
    for rule, outcome in facts.rule_outcomes:
        verdict = outcome.lower()
        if verdict in ("passed", "failed"):
            dims = [*job, {"Name": RULE_DIMENSION, "Value": rule[:MAX_DIMENSION_VALUE]}]
            data.append(_datum("RulePassed", 1.0 if verdict == "passed" else 0.0, dims, timestamp))
    return data


def views_staleness_metric_data(seconds: float, job_name: str, timestamp: datetime) -> list[dict[str, Any]]:
    """The views' staleness as the refresher sees it (moviestream/pipeline/views_refresher.py),
    with the JobName dimension; nothing for a value CloudWatch would refuse."""
    if not _publishable(seconds):
        return []
    job = [{"Name": JOB_DIMENSION, "Value": job_name[:MAX_DIMENSION_VALUE]}]
    return [_datum("ViewsStalenessSeconds", seconds, job, timestamp)]


def quarantine_open_metric_data(count: int, job_name: str, timestamp: datetime) -> list[dict[str, Any]]:
    """The job's open records in the quarantine index (movies.quarantine), with the JobName
    dimension."""
    job = [{"Name": JOB_DIMENSION, "Value": job_name[:MAX_DIMENSION_VALUE]}]
    return [_datum("QuarantineOpen", float(count), job, timestamp)]


def requests(data: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """MetricData cut into PutMetricData requests: one for any ruleset under about 985 rules."""
    return [data[i : i + MAX_METRICS_PER_REQUEST] for i in range(0, len(data), MAX_METRICS_PER_REQUEST)]


def _publishable(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _datum(name: str, value: float, dimensions: list[dict[str, str]], timestamp: datetime) -> dict[str, Any]:
    return {
        "MetricName": name,
        "Dimensions": dimensions,
        "Timestamp": timestamp,
        "Value": float(value),
        "Unit": BY_NAME[name].unit,
    }
