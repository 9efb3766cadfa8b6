"""Poison isolation: a record whose judging raises (an undiscovered bug, simulated by the
MOVIESTREAM_POISON failpoint) is bisected out of its batch into the bad records with an
``internal error`` reason, and the rest of the batch loads; past the bound the batch fails."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aws_kinesis_agg.aggregator import RecordAggregator

from moviestream.backfill.handoff import ChunkHandoff
from moviestream.core.csv_source import Row
from moviestream.core.envelope import EnvelopeEncoder
from moviestream.core.failpoints import POISON_ENV
from moviestream.core.movie_key import movie_id
from moviestream.core.transform import EXPANDED_SCHEMA, SOURCE_SCHEMA
from moviestream.pipeline.batch_pipeline import BatchPipeline, PipelineConfig
from moviestream.quality.dqdl import read_ruleset
from tests.helpers import envelope, movie_fields, source_rows
from tests.integration.databases import fresh_warehouse

pytestmark = pytest.mark.integration
RULES = Path(__file__).parents[2] / "moviestream" / "rules" / "movies.dqdl"
MARK = "Poisoned-Title"


def _batch(spark):
    """20 good films, two marked ones, and an aggregate of three films whose middle one is marked."""
    payloads = [
        envelope(f"good-{n}", movie_fields(Series_Title=f"Film {n}"), row_number=n) for n in range(20)
    ]
    payloads.insert(5, envelope("marked-a", movie_fields(Series_Title=f"{MARK} A"), row_number=100))
    payloads.insert(15, envelope("marked-b", movie_fields(Series_Title=f"{MARK} B"), row_number=101))
    agg = RecordAggregator()
    for n, title in ((102, "Agg One"), (103, f"{MARK} C"), (104, "Agg Three")):
        agg.add_user_record(f"k{n}", envelope(f"agg-{n}", movie_fields(Series_Title=title), row_number=n))
    payloads.append(agg.clear_and_get().get_contents()[2])
    return spark.createDataFrame(source_rows(payloads), SOURCE_SCHEMA)


def _pipeline(stack, bound: int) -> BatchPipeline:
    config = PipelineConfig(
        job_name="poison-test",
        ruleset=read_ruleset(RULES),
        bucket="unused",
        warehouse_dsn=fresh_warehouse(stack),
        max_isolated_records=bound,
    )
    return BatchPipeline(config, lambda: "stream-poison")


def test_records_whose_judging_raises_are_isolated_and_the_rest_loads(stack, spark, monkeypatch):
    monkeypatch.setenv(POISON_ENV, MARK)
    pipeline = _pipeline(stack, bound=100)
    prepared = pipeline.prepare(_batch(spark), 0)
    assert prepared.stats.isolated == 3
    assert prepared.stats.records_in == 25 and prepared.stats.bad == 3 and prepared.stats.good == 22
    isolated = [json.loads(line) for line in prepared.bad_lines]
    assert sorted(d["event_id"] for d in isolated) == ["agg-103", "marked-a", "marked-b"]
    assert {tuple(d["reasons"]) for d in isolated} == {
        ("internal error: RuntimeError: failpoint MOVIESTREAM_POISON: judging this record raises",)
    }
    titles = set(prepared.movies["series_title"].to_pylist())
    assert {"Agg One", "Agg Three", "Film 0", "Film 19"} <= titles and not any(MARK in t for t in titles)
    # Dataset-level rules judged the 22 survivors only.
    assert all(o["Outcome"] in ("Passed", "Failed") for o in prepared.outcomes)

    # The backfill's chunks (a file's rows, one user record each) are isolated the same way.
    arrival = datetime(2020, 1, 1, tzinfo=UTC)
    rows = [
        envelope(
            f"file-{n}", movie_fields(Series_Title=f"{MARK} F" if n == 3 else f"File film {n}"), row_number=n
        )
        for n in range(1, 9)
    ]
    chunk = spark.createDataFrame(
        [
            ("backfill", str(n), 0, f"k{n}", arrival, data, None, movie_id(f"t{n}", "1972"))
            for n, data in enumerate(rows, 1)
        ],
        EXPANDED_SCHEMA,
    )
    prepared = pipeline.prepare(chunk, 1, file_records=True)
    assert prepared.stats.isolated == 1 and prepared.stats.good == 7
    assert [json.loads(line)["row_number"] for line in prepared.bad_lines] == [3]

    # And handed over as Arrow columns (the backfill's default): no payload, so the failpoint
    # looks in the values, and the isolated record's identity comes from the columns.
    header = tuple(movie_fields())
    rows = [
        Row(
            n,
            n + 1,
            header,
            tuple(movie_fields(Series_Title=f"{MARK} G" if n == 5 else f"Column film {n}").values()),
        )
        for n in range(1, 9)
    ]
    encoder = EnvelopeEncoder("films.csv", header)
    handoff = ChunkHandoff(spark, "columns")
    try:
        prepared = pipeline.prepare(
            handoff.frame(encoder, rows, "2020-01-01T00:00:00.000Z", arrival, 2), 2, file_records=True
        )
    finally:
        handoff.close()
    assert prepared.stats.isolated == 1 and prepared.stats.good == 7
    (isolated,) = [json.loads(line) for line in prepared.bad_lines]
    assert (isolated["row_number"], isolated["source"], isolated["event_id"]) == (
        5,
        "films.csv",
        encoder.event_id(5, rows[4].values),
    )
    assert isolated["payload_base64"] is None
    pipeline.close()


def test_past_the_bound_the_batch_fails_as_before(stack, spark, monkeypatch):
    monkeypatch.setenv(POISON_ENV, MARK)
    pipeline = _pipeline(stack, bound=1)  # three records raise
    with pytest.raises(Exception, match="failpoint MOVIESTREAM_POISON"):
        pipeline.prepare(_batch(spark), 0)
    pipeline.close()
