"""`python -m redshift` against the local PostgreSQL: apply, check, views and query."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime
from decimal import Decimal

import psycopg
import pytest

from redshift.warehouse import STAGE_COLUMNS, BatchKey, BatchLoad, apply_schema, load_batch

ROOT = __import__("pathlib").Path(__file__).parents[2]


@pytest.fixture
def warehouse(stack):
    """A fresh warehouse database with the schema applied."""
    name = f"wh_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stack.warehouse_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    dsn = stack.warehouse_dsn.rsplit("/", 1)[0] + f"/{name}"
    apply_schema(dsn)
    return dsn


def cli(dsn: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "redshift", *args, "--dsn", dsn], capture_output=True, text=True, cwd=ROOT
    )


def movie(movie_id: str, title: str, rating: str, votes: int, stars: list[str]) -> tuple:
    row = dict.fromkeys(STAGE_COLUMNS)
    when = datetime(2026, 11, 22, 10, 0)
    row.update(
        movie_id=movie_id,
        series_title=title,
        released_year=1972,
        imdb_rating=Decimal(rating),
        no_of_votes=votes,
        director="Francis Ford Coppola",
        genres="Crime, Drama",
        star1=stars[0],
        star2=stars[1],
        event_id=f"e-{movie_id}",
        event_produced_at=when,
        first_seen_at=when,
        last_updated_at=when,
        last_job="job",
        last_batch_id=0,
    )
    return tuple(row[c] for c in STAGE_COLUMNS)


def test_check_fails_on_an_empty_warehouse_naming_the_violation(warehouse):
    out = cli(warehouse, "check")
    assert out.returncode == 1
    assert "FAIL movies_not_empty" in out.stdout and "FAIL ledger_not_empty" in out.stdout


def test_a_loaded_batch_passes_the_checks_and_shows_in_the_views(warehouse):
    movies = [
        movie("a" * 16, "The Godfather", "9.2", 1_600_000, ["Marlon Brando", "Al Pacino"]),
        movie("b" * 16, "Obscure Gem", "9.5", 900, ["Nobody", "Al Pacino"]),  # too few votes
    ]
    genres = [("a" * 16, "Crime"), ("a" * 16, "Drama"), ("b" * 16, "Drama")]
    ledger = {
        "records_in": 2,
        "duplicates_dropped": 0,
        "good_records": 2,
        "bad_records": 0,
        "movies_upserted": 2,
        "started_at": datetime(2026, 11, 22, 10, 0, 1),
        "seconds_total": 0.5,
    }
    assert load_batch(warehouse, BatchLoad(BatchKey("job", "s", 0), movies, genres, ledger, []))

    out = cli(warehouse, "check")
    assert out.returncode == 0, out.stdout
    top = cli(warehouse, "query", "top_rated", "--json")
    assert [json.loads(line)["series_title"] for line in top.stdout.splitlines()] == ["The Godfather"]
    actors = [
        json.loads(line) for line in cli(warehouse, "query", "top_actors", "--json").stdout.splitlines()
    ]
    assert actors == [
        {"actor": "Al Pacino", "top_rated_movies": 1, "top_billed": 0, "avg_rating": 9.2},
        {"actor": "Marlon Brando", "top_rated_movies": 1, "top_billed": 1, "avg_rating": 9.2},
    ]
    table = cli(warehouse, "query", "movies_by_decade")
    assert table.returncode == 0 and "1970" in table.stdout and "9.35" in table.stdout


def test_unknown_view_is_one_clear_line(warehouse):
    out = cli(warehouse, "query", "no_such_view")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "error: unknown view 'no_such_view'; one of: "
        + ", ".join(__import__("redshift.catalog", fromlist=["VIEWS_BY_NAME"]).VIEWS_BY_NAME)
    ]
