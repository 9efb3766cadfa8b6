"""The per-batch CloudWatch metrics (moviestream/core/metrics.py): what one batch's facts become."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from moviestream.core.metrics import (
    BY_NAME,
    JOB_DIMENSION,
    METRICS,
    RULE_DIMENSION,
    BatchFacts,
    batch_metric_data,
    quality_score,
    requests,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def facts(**overrides) -> BatchFacts:
    base = {
        "records_in": 200, "good": 180, "bad": 15, "duplicates": 5, "seconds_total": 2.5,
        "seconds_judge": 1.2, "seconds_s3": 0.3, "seconds_warehouse": 0.9,
        "rule_outcomes": [('IsComplete "title"', "Passed"), ('ColumnValues "rating" <= 10', "Failed"),
                          ('RowCount > avg(last(3))', "Error")],
        "lag_p50_s": 1.4, "lag_max_s": 3.2,
    }  # fmt: skip
    return BatchFacts(**(base | overrides))


def by_name(data: list[dict]) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for d in data:
        out.setdefault(d["MetricName"], []).append(d)
    return out


def test_every_metric_of_a_streaming_batch_is_published_once_with_its_unit():
    data = by_name(batch_metric_data(facts(), "movies-stream", NOW))
    assert set(data) == {m.name for m in METRICS if m.per_batch}
    for name, points in data.items():
        expected = 2 if name == "RulePassed" else 1  # one per judged rule
        assert len(points) == expected, name
        assert all(p["Unit"] == BY_NAME[name].unit and p["Timestamp"] == NOW for p in points)
    value = {name: points[0]["Value"] for name, points in data.items()}
    assert value["RecordsIn"] == 200 and value["GoodRecords"] == 180 and value["BadRecords"] == 15
    assert value["DuplicatesDropped"] == 5 and value["BadRecordRatio"] == 15 / 195
    assert value["DataQualityScore"] == 0.5  # 1 passed of 2 judged; the error is apart
    assert value["RulesFailed"] == 1 and value["RulesErrored"] == 1
    assert value["LagP50Seconds"] == 1.4 and value["LagMaxSeconds"] == 3.2
    assert value["WarehouseSeconds"] == 0.9


def test_job_metrics_have_the_job_dimension_and_rule_metrics_the_rule_too():
    data = batch_metric_data(facts(), "movies-stream", NOW)
    for d in data:
        names = [dim["Name"] for dim in d["Dimensions"]]
        assert names == (
            [JOB_DIMENSION, RULE_DIMENSION] if d["MetricName"] == "RulePassed" else [JOB_DIMENSION]
        )
        assert d["Dimensions"][0]["Value"] == "movies-stream"
    rules = {d["Dimensions"][1]["Value"]: d["Value"] for d in data if d["MetricName"] == "RulePassed"}
    assert rules == {'IsComplete "title"': 1.0, 'ColumnValues "rating" <= 10': 0.0}


def test_the_backfill_publishes_no_lag_and_nothing_cloudwatch_would_refuse():
    data = by_name(batch_metric_data(facts(lag_p50_s=None, lag_max_s=math.nan), "backfill", NOW))
    assert "LagP50Seconds" not in data and "LagMaxSeconds" not in data
    assert {m.name for m in METRICS if m.streaming_only}.isdisjoint(data)
    empty = by_name(
        batch_metric_data(facts(records_in=0, good=0, bad=0, duplicates=0, rule_outcomes=[]), "j", NOW)
    )
    assert "BadRecordRatio" not in empty and "DataQualityScore" not in empty and "RulePassed" not in empty
    assert empty["RecordsIn"][0]["Value"] == 0.0


def test_the_score_counts_only_rules_with_a_verdict():
    assert quality_score([("a", "Passed"), ("b", "Passed"), ("c", "Failed")]) == (2 / 3, 1, 0)
    assert quality_score([("a", "Error")]) == (None, 0, 1)
    assert quality_score([]) == (None, 0, 0)


def test_long_rules_are_cut_to_the_dimension_limit_and_big_rulesets_split_into_requests():
    rules = [(f'ColumnValues "c{i}" > {i} ' + "x" * 2000, "Passed") for i in range(1200)]
    data = batch_metric_data(facts(rule_outcomes=rules), "j", NOW)
    assert all(len(dim["Value"]) <= 1024 for d in data for dim in d["Dimensions"])
    chunks = requests(data)
    assert [len(c) for c in chunks] == [1000, len(data) - 1000]
    assert sum(chunks, []) == data
