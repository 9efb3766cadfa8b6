"""Every view against rows written by hand: fifty movies (tests/integration/warehouse_fixture.py)
loaded in two batches through the real stage + MERGE path into the local PostgreSQL, from the
Redshift SQL files; then the views are read as `moviestream warehouse query` reads them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import psycopg
import pytest

from moviestream.core.movie_key import movie_id
from moviestream.warehouse.catalog import CHECKS, VIEWS_BY_NAME
from moviestream.warehouse.contract import STAGE_COLUMNS, BatchKey, BatchLoad
from moviestream.warehouse.postgres import load_batch
from moviestream.warehouse.targets import open_warehouse, query_rows
from tests.integration import warehouse_fixture as fx
from tests.integration.databases import fresh_warehouse

JOB = "fixture"


def stage_row(film: fx.Film, batch_id: int) -> tuple:
    when = datetime(2026, 11, 22, 10, 0)
    row = dict.fromkeys(STAGE_COLUMNS)
    year = None if film.year is None else str(film.year)
    row.update(
        movie_id=movie_id(film.title, year),
        series_title=film.title,
        released_year=film.year,
        genres=film.genres,
        imdb_rating=None if film.rating is None else Decimal(film.rating),
        director=film.director,
        star1=film.stars[0],
        star2=film.stars[1],
        star3=film.stars[2],
        star4=film.stars[3],
        no_of_votes=film.votes,
        gross_usd=film.gross,
        event_id=f"{film.title}-{film.year}",
        event_produced_at=when,
        first_seen_at=when,
        last_updated_at=when,
        last_job=JOB,
        last_batch_id=batch_id,
    )
    return tuple(row[c] for c in STAGE_COLUMNS)


def batch(films: list[fx.Film], batch_id: int, good: int, bad: int, duplicates: int) -> BatchLoad:
    movies = [stage_row(f, batch_id) for f in films]
    genres = [
        (m[0], g) for m, f in zip(movies, films, strict=True) for g in (f.genres or "").split(", ") if g
    ]
    ledger = {
        "records_in": good + bad + duplicates,
        "duplicates_dropped": duplicates,
        "good_records": good,
        "bad_records": bad,
        "movies_upserted": len(movies),
        "started_at": datetime(2026, 11, 22, 10, 0),
        "seconds_total": 1.0,
    }
    return BatchLoad(BatchKey(JOB, "stream", batch_id), movies, genres, ledger, [])


@pytest.fixture(scope="module")
def warehouse(stack):
    dsn = fresh_warehouse(stack)
    assert load_batch(dsn, batch(fx.FILMS[:24], 0, good=24, bad=1, duplicates=1))
    assert load_batch(dsn, batch(fx.FILMS[24:], 1, good=26, bad=14, duplicates=0))
    # Fixed commit times and production lags, so the health views have hand-known answers:
    # batch 0 two hours ago (outside "the last hour"), batch 1 ten minutes ago.
    with psycopg.connect(dsn, autocommit=True) as conn:
        for batch_id, ago, oldest, newest in ((0, "2 hours", 3.0, 0.5), (1, "10 minutes", 4.5, 1.25)):
            conn.execute(
                "UPDATE movies.batch_ledger SET committed_at = (now() AT TIME ZONE 'UTC') - %s::interval"
                " WHERE batch_id = %s",
                (ago, batch_id),
            )
            conn.execute(
                "UPDATE movies.batch_ledger SET min_produced_at = committed_at - %s * interval '1 second',"
                " max_produced_at = committed_at - %s * interval '1 second' WHERE batch_id = %s",
                (oldest, newest, batch_id),
            )
    # The materialized views hold what was committed when they were last refreshed: as the jobs
    # do after their batches (tests/integration/test_views_refresh.py covers when).
    assert open_warehouse(dsn).views_refresh("fixture").run(0.0, force=True).succeeded
    return dsn


def view(dsn: str, name: str, columns: str) -> list[tuple]:
    order = VIEWS_BY_NAME[name].order_by
    return [tuple(r) for r in query_rows(dsn, f"SELECT {columns} FROM movies.{name} ORDER BY {order}")[1]]


def test_the_fixture_loads_fifty_movies_and_passes_the_post_load_checks(warehouse):
    assert query_rows(warehouse, "SELECT COUNT(*) FROM movies.imdb_movies_rating")[1] == [(50,)]
    two_scarfaces = query_rows(
        warehouse, "SELECT released_year FROM movies.imdb_movies_rating WHERE series_title = %s", ["Scarface"]
    )[1]
    assert sorted(two_scarfaces) == [(1932,), (1983,)]
    for check in CHECKS:
        assert query_rows(warehouse, check.sql)[1] == [(0,)], check.name


def test_top_rated(warehouse):
    assert (
        view(warehouse, "top_rated", "series_title, released_year, imdb_rating, no_of_votes") == fx.TOP_RATED
    )


def test_top_rated_by_genre(warehouse):
    rows = view(warehouse, "top_rated_by_genre", "genre, genre_rank, series_title, released_year")
    assert rows == fx.TOP_RATED_BY_GENRE


def test_movies_by_decade(warehouse):
    rows = view(warehouse, "movies_by_decade", "decade, movies, rated_movies, avg_rating")
    assert rows == fx.MOVIES_BY_DECADE


def test_top_directors(warehouse):
    rows = view(warehouse, "top_directors", "director, top_rated_movies, avg_rating, votes")
    assert rows == fx.TOP_DIRECTORS


def test_top_actors(warehouse):
    rows = view(warehouse, "top_actors", "actor, top_rated_movies, top_billed, avg_rating")
    assert sorted(rows) == fx.TOP_ACTORS
    assert rows[:2] == [("Al Pacino", 4, 3, Decimal("8.70")), ("Robert De Niro", 4, 2, Decimal("8.58"))]


def test_gross_by_genre(warehouse):
    rows = view(
        warehouse, "gross_by_genre", "genre, movies, movies_with_gross, total_gross_usd, avg_gross_usd"
    )
    assert sorted(rows) == fx.GROSS_BY_GENRE
    assert rows[0][0] == "Drama"  # the display order: highest total first


def test_pipeline_health_per_batch(warehouse):
    rows = view(
        warehouse,
        "pipeline_health_batches",
        "batch_id, records_in, good_records, bad_records, duplicates_dropped, dq_pass_rate, lag_oldest_s, lag_newest_s",
    )
    assert rows == [(1, 40, 26, 14, 0, Decimal("0.65"), Decimal("4.5"), Decimal("1.25")),
                    (0, 26, 24, 1, 1, Decimal("0.96"), Decimal("3"), Decimal("0.5"))]  # fmt: skip


def test_pipeline_health_per_hour(warehouse):
    rows = view(
        warehouse,
        "pipeline_health_hourly",
        "batches, records_in, records_per_minute, dq_pass_rate, max_lag_s",
    )
    assert [(b, n, round(rpm, 4), rate, lag) for b, n, rpm, rate, lag in rows] == [
        (1, 40, Decimal("0.6667"), Decimal("0.65"), Decimal("4.5")),
        (1, 26, Decimal("0.4333"), Decimal("0.96"), Decimal("3")),
    ]


def test_pipeline_health_summary(warehouse):
    ((job, last, since, batches, rpm, rate, lag),) = view(
        warehouse,
        "pipeline_health",
        "job_name, last_batch_id, seconds_since_last_commit, batches_last_hour,"
        " records_per_minute_last_hour, dq_pass_rate_last_hour, max_lag_s_last_hour",
    )
    assert (job, last, batches, round(rpm, 4), rate, lag) == (
        JOB,
        1,
        1,
        Decimal("0.6667"),
        Decimal("0.65"),
        4.5,
    )
    assert 600 <= since < 900  # committed ten minutes before the test read it
