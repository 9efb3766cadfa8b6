"""The streaming job's warm-up: when it stops, and the synthetic rounds its source yields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moviestream.core.deaggregate import deaggregate, is_aggregated
from moviestream.core.generate import sample_row
from moviestream.streaming.warm_up import WarmUpPlan, WarmUpStreamReader, leveled

ROOT = Path(__file__).parents[2]
UNREACHABLE_DSN = "postgresql://127.0.0.1:9/unused"
PLAN = WarmUpPlan(max_rounds=10, min_rounds=3, settle=1.2)  # not the defaults: round numbers


@pytest.mark.parametrize(
    ("per_record_ms", "stop"),
    [
        ([], False),
        ([0.5], False),
        ([0.9, 0.5], False),  # fewer than min_rounds
        ([0.9, 0.5, 0.6], True),  # 0.6 <= 1.2 * 0.5
        ([0.9, 0.5, 0.42], True),  # 0.5 <= 1.2 * 0.42
        ([0.9, 0.5, 0.41], False),  # still falling faster than that
        ([0.9, 0.5, 0.61], False),  # 0.61 > 0.6: a pause (a collection, say)
        ([2.0, 1.5, 1.0], False),  # still falling fast
        ([2.0, 1.5, 1.0, 0.7, 0.69], True),
        ([0.3, 0.3, 0.3], True),
    ],
)
def test_the_rehearsal_stops_once_the_cost_per_record_levels_off(per_record_ms, stop):
    assert leveled(per_record_ms, PLAN) is stop


def test_two_rounds_can_level_off_when_asked_for_two():
    assert leveled([0.5, 0.55], WarmUpPlan(min_rounds=1)) is True


def test_each_trigger_is_a_new_round_of_kpl_aggregates_and_plain_records_spread_over_the_shards():
    reader = WarmUpStreamReader({"records": "120", "shards": "2"})
    assert reader.initialOffset() == {"round": 0}
    first, second = reader.latestOffset(), reader.latestOffset()
    assert (first, second) == ({"round": 1}, {"round": 2})
    parts = reader.partitions(first, second)
    rows = [row for part in parts for row in reader.read(part)]
    # round 2 holds records 240..359: 60 a shard; 250, 300 and 350 plain, the rest aggregated
    assert [(r[0], r[1], is_aggregated(r[4])) for r in rows] == [
        ("warm-up-0", "241", False),
        ("warm-up-0", "242", True),
        ("warm-up-1", "301", False),
        ("warm-up-1", "302", False),
        ("warm-up-1", "303", True),
    ]
    users = [u for r in rows for u in deaggregate(r[4], r[2])]
    docs = {json.loads(u.payload)["row_number"]: json.loads(u.payload) for u in users}
    assert sorted(docs) == list(range(240, 360))
    # realistic rows, every 10th with a defect, as in a real stream
    assert all(doc["fields"] == sample_row(i) for i, doc in docs.items())
    assert docs[251]["fields"]["Gross"] not in ("$ unknown", "12.3M", "n/a")
    assert docs[250]["fields"]["Gross"] in ("$ unknown", "12.3M", "n/a")  # gross_unparseable


def test_more_shards_than_records_leaves_no_empty_partition():
    reader = WarmUpStreamReader({"records": "3", "shards": "8"})
    end = reader.latestOffset()
    parts = reader.partitions({"round": 0}, end)
    assert sum(1 for p in parts for _ in reader.read(p)) == 3
    assert all(list(reader.read(p)) for p in parts)


def test_the_warm_up_rehearses_through_a_streaming_query_and_leaves_nothing_running(spark):
    """The real path: rounds of the synthetic stream, each judged by the pipeline's own rehearse,
    with no warehouse or S3 reached (the DSN names a port nothing listens on)."""
    from moviestream.pipeline.batch_pipeline import BatchPipeline
    from moviestream.pipeline.config import PipelineConfig
    from moviestream.quality.dqdl import read_ruleset
    from moviestream.streaming.warm_up import warm_up_stream

    rules = read_ruleset(ROOT / "moviestream" / "rules" / "movies.dqdl")
    pipeline = BatchPipeline(PipelineConfig("warm-up-test", rules, "unused", UNREACHABLE_DSN), lambda: "w")
    judged: list[int] = []

    def rehearse(frame):
        records, seconds = pipeline.rehearse(frame)
        judged.append(records)
        return records, seconds

    done = warm_up_stream(spark, rehearse, WarmUpPlan(max_rounds=2, records=300))
    assert done["rounds"] == 2 and judged == [300, 300]
    assert len(done["ms_per_record"]) == 2 and all(ms > 0 for ms in done["ms_per_record"])
    assert not spark.streams.active


def test_a_warm_up_that_fails_says_why_and_the_job_goes_on_cold(spark, monkeypatch):
    """Whether a round raises or the query cannot even start, warm_up_stream returns (the job
    starts cold) with the error it logged as warm_up_failed, and leaves no query running."""
    from moviestream.streaming import warm_up

    def rehearse(frame):
        raise RuntimeError("a round that raises")

    done = warm_up.warm_up_stream(spark, rehearse, WarmUpPlan(max_rounds=2, records=50))
    assert done["rounds"] == 0 and not spark.streams.active
    assert "RuntimeError: a round that raises" in done["error"]

    monkeypatch.setattr(warm_up, "WARM_UP_FORMAT", "moviestream_no_such_source")
    done = warm_up.warm_up_stream(spark, rehearse, WarmUpPlan(max_rounds=2, records=50))
    assert done["rounds"] == 0 and not spark.streams.active
    assert "moviestream_no_such_source" in done["error"]


def test_the_source_rounds_default_to_the_plans_size():
    reader = WarmUpStreamReader({})
    assert reader.records == WarmUpPlan().records
