"""`moviestream warehouse` against the local PostgreSQL: apply, check, views and query."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from decimal import Decimal

import psycopg
import pytest

from moviestream.warehouse.contract import STAGE_COLUMNS, BatchKey, BatchLoad
from moviestream.warehouse.postgres import load_batch
from tests.integration.databases import fresh_warehouse

ROOT = __import__("pathlib").Path(__file__).parents[2]


@pytest.fixture
def warehouse(stack):
    """A fresh warehouse database with the schema applied."""
    return fresh_warehouse(stack)


def cli(dsn: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "moviestream", "warehouse", *args, "--dsn", dsn],
        capture_output=True,
        text=True,
        cwd=ROOT,
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
    # The load committed; the materialized views have it after a refresh (the jobs refresh them
    # after their batches), and `query` says which it is.
    stale = cli(warehouse, "query", "top_rated", "--json")
    assert stale.stdout == "" and "top_rated: materialized, " in stale.stderr and " s stale " in stale.stderr
    refreshed = cli(warehouse, "refresh")
    assert refreshed.returncode == 0 and refreshed.stdout.startswith("refreshed 5 materialized views")
    top = cli(warehouse, "query", "top_rated", "--json")
    assert "top_rated: materialized, current" in top.stderr
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
        + ", ".join(__import__("moviestream.warehouse.catalog", fromlist=["VIEWS_BY_NAME"]).VIEWS_BY_NAME)
    ]


def test_bridges_follow_the_newest_event_of_a_movie(warehouse):
    """A newer event replaces a movie's genres and billing (only the rows that differ); an older
    one, arriving late, changes nothing."""
    from moviestream.warehouse.targets import query_rows

    def event(batch_id: int, produced: datetime, genres: list[str], stars: list[str | None]) -> BatchLoad:
        row = dict(zip(STAGE_COLUMNS, movie("c" * 16, "Heat", "8.3", 600_000, ["x", "y"]), strict=True))
        row.update(event_produced_at=produced, last_batch_id=batch_id, genres=", ".join(genres))
        row.update(star1=stars[0], star2=stars[1], star3=stars[2], star4=stars[3])
        ledger = {"records_in": 1, "duplicates_dropped": 0, "good_records": 1, "bad_records": 0,
                  "movies_upserted": 1, "started_at": produced, "seconds_total": 0.1}  # fmt: skip
        return BatchLoad(
            BatchKey("job", "s", batch_id),
            [tuple(row[c] for c in STAGE_COLUMNS)],
            [("c" * 16, g) for g in genres],
            ledger,
            [],
        )

    def bridges() -> tuple[list, list]:
        genres = query_rows(warehouse, "SELECT genre FROM movies.movie_genres ORDER BY genre")[1]
        cast = query_rows(warehouse, "SELECT billing_order, actor FROM movies.movie_cast ORDER BY 1")[1]
        return [g for (g,) in genres], cast

    first = datetime(2026, 11, 22, 10, 0)
    assert load_batch(
        warehouse, event(0, first, ["Action", "Crime"], ["Al Pacino", "Val Kilmer", "Jon Voight", None])
    )
    newer = first.replace(hour=11)
    assert load_batch(
        warehouse, event(1, newer, ["Crime", "Drama"], ["Al Pacino", "Robert De Niro", None, None])
    )
    expected = (["Crime", "Drama"], [(1, "Al Pacino"), (2, "Robert De Niro")])
    assert bridges() == expected
    late = first.replace(hour=9)  # older than what the warehouse has: loses
    assert load_batch(warehouse, event(2, late, ["Western"], ["Nobody", None, None, None]))
    assert bridges() == expected
    assert cli(warehouse, "check").returncode == 0


def test_text_values_survive_the_csv_stage_exactly(warehouse):
    """The stage is a CSV COPY written by Arrow: NULL and "" stay apart, and quotes, commas,
    newlines, backslashes and non-ASCII text arrive unchanged."""
    awkward = 'He said "no", then\nleft; C:\\path\\ é 猫 \\N'
    row = dict(zip(STAGE_COLUMNS, movie("c" * 16, awkward, "7.5", 10, ["", None]), strict=True))
    row["overview"] = ""
    ledger = {
        "records_in": 1,
        "duplicates_dropped": 0,
        "good_records": 1,
        "bad_records": 0,
        "movies_upserted": 1,
        "started_at": datetime(2026, 11, 22, 10, 0, 1),
        "seconds_total": 0.5,
    }
    movies = [tuple(row[c] for c in STAGE_COLUMNS)]
    assert load_batch(
        warehouse, BatchLoad(BatchKey("job", "s", 0), movies, [("c" * 16, "Drama")], ledger, [])
    )
    with psycopg.connect(warehouse) as conn:
        title, overview, star1, star2, certificate, rating = conn.execute(
            "SELECT series_title, overview, star1, star2, certificate, imdb_rating"
            " FROM movies.imdb_movies_rating"
        ).fetchone()
    assert title == awkward
    assert (overview, star1, star2, certificate) == ("", "", None, None)
    assert rating == Decimal("7.5")


def test_warehouse_databases_compare_text_byte_by_byte_as_redshift_does(warehouse):
    with psycopg.connect(warehouse) as conn:
        collation = conn.execute("SELECT datcollate FROM pg_database WHERE datname = current_database()")
        assert collation.fetchone()[0] == "C"
        ordered = conn.execute("SELECT x FROM (VALUES ('b'), ('B'), ('é'), ('e')) AS v(x) ORDER BY x")
        assert [r[0] for r in ordered] == ["B", "b", "e", "é"]
