"""judge_records: every record comes out exactly once, good or bad with a reason, and counts add up."""

from datetime import datetime

import pyarrow as pa
from aws_kinesis_agg.aggregator import RecordAggregator
from pyspark.sql import functions as F

from moviestream.core.movie_key import movie_id
from moviestream.core.transform import SOURCE_SCHEMA
from moviestream.pipeline.judge import judge_records, newest_per_movie
from moviestream.quality.dqdl import parse_ruleset
from tests.helpers import envelope, movie_fields, source_rows

SEED = parse_ruleset('Rules = [ IsComplete "imdb_rating", ColumnValues "imdb_rating" between 8.0 and 10.3 ]')


def aggregate(payloads):
    agg = RecordAggregator()
    for p in payloads:
        agg.add_user_record("pk", p)
    return agg.clear_and_get().get_contents()[2]


def test_counts_add_up_with_poison_duplicates_and_rule_failures(spark):
    good1 = envelope("g1", movie_fields(), row_number=1)
    good2 = envelope(
        "g2", movie_fields(Series_Title="Heat", Released_Year="1995", IMDB_Rating="8.3"), row_number=2
    )
    low = envelope("b1", movie_fields(Series_Title="Low", IMDB_Rating="8.0"), row_number=3)
    missing = envelope("b2", movie_fields(Series_Title="NoRating", IMDB_Rating=""), row_number=4)
    fields = movie_fields()
    del fields["Gross"]
    no_gross_column = envelope("b3", fields, row_number=5)
    broken = bytearray(aggregate([good1]))
    broken[-1] ^= 1
    payloads = [aggregate([good1, good2, low]), missing, good1, no_gross_column, bytes(broken), b"{oops"]
    df = spark.createDataFrame(source_rows(payloads), SOURCE_SCHEMA)
    judged = judge_records(df, SEED).collect()

    assert len(judged) == 8  # the aggregate holds 3 user records
    dups = [r for r in judged if r["is_duplicate"]]
    assert [r["event_id"] for r in dups] == ["g1"]  # the second delivery of g1
    unique = [r for r in judged if not r["is_duplicate"]]
    good = sorted(r["event_id"] for r in unique if r["is_good"])
    assert good == ["g1", "g2"]
    bad = {(r["event_id"] or r["record_error"]): r["reasons"] for r in unique if not r["is_good"]}
    assert bad["b1"] == [
        'ColumnValues "imdb_rating" between 8.0 and 10.3: '
        "Value: 8.0 does not meet the constraint requirement!"
    ]
    assert len(bad["b2"]) == 2 and all("Value: NULL" in reason for reason in bad["b2"])
    assert bad["b3"] == ["envelope is missing CSV fields: Gross"]
    assert bad["KPL aggregate checksum (MD5) mismatch"] == ["KPL aggregate checksum (MD5) mismatch"]
    assert bad["payload is not a JSON envelope"] == ["payload is not a JSON envelope"]
    assert len(good) + len(bad) + len(dups) == len(judged)


def test_parse_errors_are_named_in_the_reason(spark):
    df = spark.createDataFrame(source_rows([envelope("x", movie_fields(IMDB_Rating="N/A"))]), SOURCE_SCHEMA)
    (row,) = judge_records(df, SEED).collect()
    assert not row["is_good"]
    assert row["reasons"][-1] == "could not parse: imdb_rating"


def test_newest_event_per_movie_wins(spark):
    older = envelope("a", movie_fields(No_of_Votes="100"), produced_at="2026-11-22T10:00:00.000Z")
    newer = envelope("b", movie_fields(No_of_Votes="200"), produced_at="2026-11-22T10:00:05.000Z")
    other = envelope("c", movie_fields(Released_Year="1990"))  # same title, other year: another movie
    df = spark.createDataFrame(source_rows([newer, older, other]), SOURCE_SCHEMA)
    judged = judge_records(df, SEED).where("is_good AND NOT is_duplicate")
    newest = newest_per_movie(judged.toArrow())
    rows = dict(zip(newest["movie_id"].to_pylist(), newest["no_of_votes"].to_pylist(), strict=True))
    assert rows == {movie_id("The Godfather", "1972"): 200, movie_id("The Godfather", "1990"): 1620367}
    assert newest.num_rows == 2
    assert judged.agg(F.count("*")).collect()[0][0] == 3


def test_values_too_long_for_the_warehouse_are_bad_records_with_the_size(spark):
    long_overview = envelope("o", movie_fields(Series_Title="Long", Overview="é" * 40_000), row_number=1)
    at_limit = envelope("t", movie_fields(Series_Title="t" * 1024), row_number=2)
    long_genre = envelope("g", movie_fields(Series_Title="G", Genre="Drama, " + "x" * 129), row_number=3)
    long_id = envelope("e" * 65, movie_fields(Series_Title="E"), row_number=4)
    df = spark.createDataFrame(source_rows([long_overview, at_limit, long_genre, long_id]), SOURCE_SCHEMA)
    by_row = {r["row_number"]: r for r in judge_records(df, SEED).collect()}

    assert by_row[1]["reasons"] == ["overview is 80000 bytes, over the warehouse limit of 65535"]
    assert by_row[2]["is_good"]  # 1024 one-byte characters fit VARCHAR(1024)
    assert by_row[3]["reasons"] == ["a genre is 129 bytes, over the warehouse limit of 128"]
    assert by_row[4]["reasons"] == ["event_id is longer than 64 bytes"]
    assert not any(by_row[n]["is_good"] for n in (1, 3, 4))


def test_nul_characters_the_warehouse_cannot_store_are_bad_records(spark):
    # PostgreSQL's text and Redshift's VARCHAR refuse U+0000: loaded, it would fail the batch.
    rows = [
        envelope("n1", movie_fields(Series_Title="Nul\x00Title"), row_number=1),
        envelope("n2", movie_fields(Series_Title="N2", Genre="Drama, Cr\x00ime"), row_number=2),
        envelope("n3\x00", movie_fields(Series_Title="N3"), row_number=3),
        envelope("n4", movie_fields(Series_Title="N4", Runtime="1\x0020 min"), row_number=4),
    ]
    df = spark.createDataFrame(source_rows(rows), SOURCE_SCHEMA)
    by_row = {r["row_number"]: r for r in judge_records(df, SEED).collect()}
    assert by_row[1]["reasons"] == ["series_title holds a NUL character (U+0000)"]
    assert by_row[2]["reasons"] == ["genres holds a NUL character (U+0000)"]
    assert by_row[3]["reasons"] == ["event_id holds a NUL character (U+0000)"]
    # A typed number is not text: its raw value's NUL only makes it unparseable.
    assert "runtime_minutes" in by_row[4]["parse_errors"] and by_row[4]["runtime_minutes"] is None


def test_a_genre_is_measured_in_utf8_bytes_whatever_its_characters(spark):
    genres = {
        1: "Drama,  " + "é" * 64 + "  , Crime",  # 128 bytes in 64 characters: fits
        2: "€" * 43,  # 129 bytes in 43 characters
        3: "War, " + "🎬" * 33,  # 132 bytes in 33 characters (outside the Basic Multilingual Plane)
        4: "Sci " + "x" * 120 + " Fi",  # spaces inside a genre count, 127 bytes: fits
        5: "x" * 100 + ", " + "y" * 100,  # two genres of 100 bytes: each fits
    }
    rows = [
        envelope(f"g{n}", movie_fields(Series_Title=f"G{n}", Genre=g), row_number=n)
        for n, g in genres.items()
    ]
    df = spark.createDataFrame(source_rows(rows), SOURCE_SCHEMA)
    by_row = {r["row_number"]: r for r in judge_records(df, SEED).collect()}
    limit = " bytes, over the warehouse limit of 128"
    assert by_row[1]["is_good"] and by_row[1]["genres"] == ["Drama", "é" * 64, "Crime"]
    assert by_row[2]["reasons"] == ["a genre is 129" + limit]
    assert by_row[3]["reasons"] == ["a genre is 132" + limit]
    assert by_row[4]["is_good"] and by_row[5]["is_good"]


def _events(*rows):
    names = ("movie_id", "produced_at", "shard_id", "sequence_number", "sub_sequence_number", "tag")
    return pa.table(dict(zip(names, map(list, zip(*rows, strict=True)), strict=True)))


def test_newest_per_movie_orders_by_time_then_stream_position():
    t1, t2 = datetime(2026, 1, 1, 10), datetime(2026, 1, 1, 11)
    newest = newest_per_movie(
        _events(
            ("m1", t1, "shard-0", "900", 0, "older"),
            ("m1", t2, "shard-0", "100", 0, "newer by time"),
            ("m2", t1, "shard-0", "99", 0, "lower sequence number (fewer digits)"),
            ("m2", t1, "shard-0", "100", 0, "higher sequence number"),
            ("m3", t1, "shard-0", "5", 1, "earlier in the aggregate"),
            ("m3", t1, "shard-0", "5", 2, "later in the aggregate"),
            ("m4", None, "shard-0", "7", 0, "no time"),
            ("m4", t1, "shard-0", "1", 0, "a time beats none"),
            ("m0", t1, "shard-0", "1", 0, "alone"),
        )
    )
    assert dict(zip(newest["movie_id"].to_pylist(), newest["tag"].to_pylist(), strict=True)) == {
        "m0": "alone",
        "m1": "newer by time",
        "m2": "higher sequence number",
        "m3": "later in the aggregate",
        "m4": "a time beats none",
    }
    assert newest["movie_id"].to_pylist() == ["m0", "m1", "m2", "m3", "m4"]  # movie_id order


def test_newest_per_movie_of_nothing_is_nothing():
    empty = _events(("m", datetime(2026, 1, 1), "s", "1", 0, "x")).slice(0, 0)
    assert newest_per_movie(empty).num_rows == 0
