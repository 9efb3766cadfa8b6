"""The backfill's hand-offs (moviestream/backfill/handoff.py): Arrow columns hold exactly what
the producer's envelope holds, reach Spark through the data source in one partition per core,
and judge to the same read-out as the envelopes; the spool file goes when the chunk is done.
(tests/integration/test_backfill_handoffs.py compares whole backfills.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from moviestream.backfill.handoff import FILE_ROWS_FORMAT, ChunkHandoff, file_rows_table
from moviestream.backfill.inputs import InputFile, rows_of
from moviestream.core.csv_source import Row
from moviestream.core.envelope import EnvelopeEncoder
from moviestream.core.generate import generate
from moviestream.core.transform import FILE_ROW_SCHEMA
from moviestream.pipeline.judge import BatchJudge
from moviestream.pipeline.read_out import read_out, read_out_columns
from moviestream.quality.dqdl import read_ruleset

ROOT = Path(__file__).parents[2]
PRODUCED_AT = "2021-06-01T12:30:00.000Z"
ARRIVAL = datetime(2021, 6, 1, 12, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> list[Row]:
    """A generated file with defects, and the malformed corpus's rows with a NUL byte and
    embedded newlines, whose values JSON escapes."""
    path = tmp_path_factory.mktemp("handoff") / "movies.csv"
    generate(path, 300, seed=3, defect_rate=0.2)
    read = [r for r in rows_of(InputFile(str(path))) if isinstance(r, Row)]
    for name in ("nul_byte.csv", "embedded_newlines.csv"):
        read += [
            r
            for r in rows_of(InputFile(str(ROOT / "tests" / "data" / "malformed" / name)))
            if isinstance(r, Row)
        ]
    return read


def test_the_columns_hold_what_the_envelope_holds(rows):
    encoder = EnvelopeEncoder("movies.csv", rows[0].header)
    table = file_rows_table(encoder, rows, PRODUCED_AT, ARRIVAL)
    assert table.column_names == FILE_ROW_SCHEMA.names
    for row, got in zip(rows, table.to_pylist(), strict=True):
        key, body = encoder.encode(row.row_number, row.values, PRODUCED_AT)
        envelope = json.loads(body)
        assert (got["event_id"], got["source"], got["row_number"], got["produced_at_raw"]) == (
            envelope["event_id"],
            envelope["source"],
            envelope["row_number"],
            envelope["produced_at"],
        )
        assert (
            dict(got["fields"]) == envelope["fields"] and got["schema_version"] == envelope["schema_version"]
        )
        assert got["movie_id"] == got["partition_key"] == key
        assert (got["shard_id"], got["sequence_number"], got["sub_sequence_number"]) == (
            "backfill",
            str(row.row_number),
            0,
        )
        assert got["payload"] is None and got["record_error"] is None


def test_both_hand_offs_judge_to_the_same_read_out_and_the_spool_goes(spark, rows):
    encoder = EnvelopeEncoder("movies.csv", rows[0].header)
    judge = BatchJudge(read_ruleset(ROOT / "moviestream" / "rules" / "movies.dqdl"))
    columns, envelopes = ChunkHandoff(spark, "columns"), ChunkHandoff(spark, "envelopes")
    columns.prime()  # an empty chunk read in the background, beside the first real one
    envelopes.prime()  # nothing to prime
    try:
        by_columns = columns.frame(encoder, rows, PRODUCED_AT, ARRIVAL, 7)
        assert FILE_ROWS_FORMAT in by_columns._jdf.queryExecution().optimizedPlan().toString()
        assert by_columns.rdd.getNumPartitions() == 2  # one per core of the test session
        spooled = columns._spool
        assert spooled is not None and [p.name for p in spooled.glob("chunk-*")] == ["chunk-7.arrow"]
        by_envelopes = envelopes.frame(encoder, rows, PRODUCED_AT, ARRIVAL, 7)
        order = [("sequence_number", "ascending")]
        tables = [
            read_out(judge.judge_expanded(frame, False), read_out_columns()).sort_by(order)
            for frame in (by_columns, by_envelopes)
        ]
        assert tables[0].num_rows == len(rows) and tables[0].equals(tables[1])
        bad = [r for r in tables[0].to_pylist() if not r["is_good"]]
        assert len(bad) > 20  # the defects were judged, not only good rows
        columns.release(7)
        assert list(spooled.glob("chunk-*")) == []
    finally:
        columns.close()
        envelopes.close()
    assert not spooled.exists()


def test_an_unknown_hand_off_is_refused(spark):
    with pytest.raises(ValueError, match="one of columns, envelopes, not 'json'"):
        ChunkHandoff(spark, "json")
