"""Property test of the Spark half of ingestion (envelope parsing, typing, judging), too slow for a
fuzzer: generated batches mixing hostile and valid Kinesis records go through the real transform
and judge on the shared Spark session, with the fuzzer's accounting as the invariant. Derandomized
(a fixed sequence of examples) so a run in CI is the same every time."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moviestream.core.deaggregate import deaggregate
from moviestream.core.record import CSV_COLUMNS
from moviestream.core.transform import SOURCE_SCHEMA
from moviestream.pipeline.judge import BatchJudge
from moviestream.quality.dqdl import read_ruleset
from tests.helpers import movie_fields, source_rows
from tests.hostile_files import aggregate_of

RULES = Path(__file__).parents[2] / "moviestream" / "rules" / "movies.dqdl"
SETTINGS = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

text = st.text(st.characters(codec="utf-8"), max_size=12)
json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def envelope(draw) -> bytes:
    """A valid envelope, or one with some parts made hostile."""
    fields = movie_fields(
        Series_Title=draw(text) or "T", Released_Year=draw(st.sampled_from(["1994", "PG", ""]))
    )
    for name in draw(st.lists(st.sampled_from(CSV_COLUMNS), max_size=3)):
        fields[name] = draw(json_value)  # a number, a list, an object, null where text belongs
    doc = {
        "schema_version": draw(st.sampled_from([1, 1, 1, 2, "1", None])),
        "event_id": draw(st.sampled_from(["e", "x" * 70, "\x00", ""])) + str(draw(st.integers(0, 10**6))),
        "source": "p.csv",
        "row_number": draw(st.integers(-1, 10**12)),
        "produced_at": draw(st.sampled_from(["2026-11-22T10:00:00.000Z", "yesterday", ""])),
        "fields": fields,
    }
    if draw(st.booleans()):
        doc[draw(text)] = draw(json_value)  # an extra key
    data = json.dumps(doc).encode()
    if draw(st.integers(0, 9)) == 0:
        data = data.replace(b"T", b"\xff", 1)  # invalid UTF-8
    return data


payload = (
    envelope() | st.binary(max_size=40) | st.sampled_from([b"", b" ", b"[]", b"{}", b"null", b"[" * 3000])
)


@st.composite
def kinesis_record(draw) -> bytes:
    if draw(st.integers(0, 3)) > 0:
        return draw(payload)
    keys = draw(st.lists(st.sampled_from([b"k", b"\xff\xfe", b"", b"x" * 300, b"key"]), max_size=3))
    records = draw(st.lists(st.tuples(st.integers(0, 3), payload), max_size=4))
    return aggregate_of(keys, records)


@cache
def judge() -> BatchJudge:
    """One judge for every example: its columns are built once (see BatchJudge)."""
    return BatchJudge(read_ruleset(RULES))


@SETTINGS
@given(records=st.lists(kinesis_record(), min_size=1, max_size=12), redeliver=st.booleans())
def test_every_user_record_is_judged_once_good_or_bad_with_a_reason(spark, records, redeliver):
    if redeliver:
        records = records + records[:1]  # Kinesis delivers a record twice
    df = spark.createDataFrame(source_rows(records), SOURCE_SCHEMA)
    judged = (
        BatchJudge(read_ruleset(RULES))
        .judge(df)
        .select("is_duplicate", "is_good", "reasons", "movie_id", "event_id", "record_error")
    )
    rows = judged.collect()
    expected = sum(len(list(deaggregate(r, "pk"))) for r in records)
    assert len(rows) == expected  # every user record exactly once
    for row in rows:
        if row["is_duplicate"]:
            continue
        if row["is_good"]:
            assert not row["reasons"] and row["movie_id"] and row["event_id"] and row["record_error"] is None
        else:
            assert row["reasons"] and all(r and r.strip() for r in row["reasons"]), row
