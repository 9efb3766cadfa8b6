"""The whole path on the real local stack: CSV -> producer -> Kinesis -> Spark job -> S3 + PostgreSQL.

The expected outcome is computed independently here, in plain Python from the CSV, and compared
exactly with what the pipeline wrote to the warehouse and the bad-records store.
"""

from __future__ import annotations

import csv
import json
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from pathlib import Path

import psycopg
import pytest

from devstack.demo import run_end_to_end
from moviestream.config import AwsSettings, resource_names
from moviestream.movie_key import movie_id
from producer.generate import generate

SEED_RULES = Path(__file__).parents[2] / "glue_streaming" / "rules" / "seed_top_rated.dqdl"


def fails_seed_rules(raw_rating: str) -> bool:
    """The seed ruleset, evaluated by hand: rating present, numeric, and 8.0 < rating < 10.3."""
    text = raw_rating.strip()
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        return True  # missing or unparseable: NULL fails IsComplete and ColumnValues
    try:
        value = Decimal(text).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)  # as Spark casts
    except InvalidOperation:
        return True
    if value >= 100:
        return True  # does not fit decimal(3,1): NULL
    return not (Decimal("8.0") < value < Decimal("10.3"))


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("data") / "movies.csv"
    generate(path, rows=400, seed=11, defect_rate=0.3)
    return path


def test_every_record_is_accounted_for_exactly(stack, sample, tmp_path):
    code, result = run_end_to_end(
        stack, sample, SEED_RULES, timeout_s=240, health_page=tmp_path / "health.html"
    )
    assert code == 0, result
    assert (
        result["health_page"] == str(tmp_path / "health.html") and (tmp_path / "health.html").stat().st_size
    )

    with open(sample, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    expected_bad = {i for i, r in enumerate(rows, start=1) if fails_seed_rules(r["IMDB_Rating"])}
    expected_movies = {
        movie_id(r["Series_Title"], r["Released_Year"])
        for i, r in enumerate(rows, start=1)
        if i not in expected_bad
    }
    assert result["sent"] == len(rows)
    assert result["good_records"] + result["bad_records"] == result["sent"]
    assert result["bad_records"] == len(expected_bad)
    assert result["warehouse_rows"] == len(expected_movies)

    # The bad-records store holds exactly the rows that fail the rules, each with reasons.
    s3 = AwsSettings().client("s3")
    bucket = resource_names()["bucket_name"]
    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="bad_records/")
        for o in page.get("Contents", [])
        if f"job={result['job_name']}/batch={result['stream_id']}-" in o["Key"]
    ]
    bad_docs = [
        json.loads(line)
        for key in keys
        for line in s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
    ]
    assert {d["row_number"] for d in bad_docs} == expected_bad
    assert len(bad_docs) == len(expected_bad)
    assert all(d["reasons"] and d["failed_rules"] for d in bad_docs)
    assert all(
        re.fullmatch(r"bad_records/ingest_date=\d{4}-\d{2}-\d{2}/job=[^/]+/batch=[^/]+/part-\d{5}\.jsonl", k)
        for k in keys
    )

    # The warehouse holds exactly the good movies, with the ledger agreeing.
    with psycopg.connect(stack.warehouse_dsn) as conn:
        ids = {r[0] for r in conn.execute("SELECT movie_id FROM movies.imdb_movies_rating")}
        ledger = conn.execute(
            "SELECT SUM(records_in), SUM(good_records), SUM(bad_records), SUM(duplicates_dropped)"
            " FROM movies.batch_ledger WHERE stream_id = %s",
            (result["stream_id"],),
        ).fetchone()
        outcomes = conn.execute(
            "SELECT DISTINCT rule FROM movies.rule_outcomes WHERE stream_id = %s", (result["stream_id"],)
        ).fetchall()
    assert ids == expected_movies
    assert ledger == (len(rows), len(rows) - len(expected_bad), len(expected_bad), 0)
    assert {r[0] for r in outcomes} == {
        'IsComplete "imdb_rating"',
        'ColumnValues "imdb_rating" between 8.0 and 10.3',
    }
