"""What people can query and what must hold after a load: the views (with the order their rows
are shown in) and the post-load checks. Names here are the only identifiers the CLI puts into
SQL; a test keeps this list and moviestream/warehouse/sql/010_views.sql in step.
"""

from __future__ import annotations

from dataclasses import dataclass

from moviestream.warehouse.sql_files import view_kinds


@dataclass(frozen=True)
class View:
    name: str
    description: str
    order_by: str  # the rows' display order (views themselves are unordered)

    @property
    def materialized(self) -> bool:
        """Whether 010_views.sql materializes it (then it is as current as its last refresh)."""
        return view_kinds().get(f"movies.{self.name}", False)


VIEWS: tuple[View, ...] = (
    View(
        "top_rated",
        "movies rated 8.0+ from 25,000+ votes",
        "imdb_rating DESC, no_of_votes DESC, series_title",
    ),
    View(
        "top_rated_by_genre",
        "the ten best rated movies of each genre (25,000+ votes; ties share a rank)",
        "genre, genre_rank, series_title",
    ),
    View("movies_by_decade", "movies and average rating per decade of release", "decade"),
    View(
        "top_directors",
        "directors by number of top rated movies",
        "top_rated_movies DESC, avg_rating DESC, director",
    ),
    View(
        "top_actors", "actors by number of top rated movies", "top_rated_movies DESC, avg_rating DESC, actor"
    ),
    View("gross_by_genre", "box-office gross per genre", "total_gross_usd DESC NULLS LAST, genre"),
    View(
        "pipeline_health",
        "per job: last committed batch, seconds since, last hour's rows/min, pass rate and lag",
        "job_name",
    ),
    View(
        "pipeline_health_batches",
        "per batch: counts, data-quality pass rate, lag from production to commit",
        "committed_at DESC, batch_id DESC",
    ),
    View(
        "pipeline_health_hourly",
        "per job and hour: batches, rows/min, pass rate, worst lag",
        "job_name, committed_hour DESC",
    ),
)
VIEWS_BY_NAME = {v.name: v for v in VIEWS}


@dataclass(frozen=True)
class Check:
    name: str
    violation: str  # what a non-zero count means
    sql: str  # Redshift dialect; returns one count of violations


CHECKS: tuple[Check, ...] = (
    Check(
        "movies_not_empty",
        "movies.imdb_movies_rating is empty",
        "SELECT CASE WHEN COUNT(*) = 0 THEN 1 ELSE 0 END FROM movies.imdb_movies_rating",
    ),
    Check(
        "ledger_not_empty",
        "movies.batch_ledger is empty",
        "SELECT CASE WHEN COUNT(*) = 0 THEN 1 ELSE 0 END FROM movies.batch_ledger",
    ),
    Check(
        "movie_id_not_null",
        "movies with a NULL movie_id",
        "SELECT COUNT(*) FROM movies.imdb_movies_rating WHERE movie_id IS NULL",
    ),
    # Redshift does not enforce primary keys: duplicates are possible there and must be looked for.
    Check(
        "movie_id_unique",
        "movie_ids that appear more than once",
        "SELECT COUNT(*) FROM (SELECT movie_id FROM movies.imdb_movies_rating"
        " GROUP BY movie_id HAVING COUNT(*) > 1) AS d",
    ),
    Check(
        "genres_have_movies",
        "genre rows whose movie is missing",
        "SELECT COUNT(*) FROM movies.movie_genres AS g"
        " WHERE NOT EXISTS (SELECT 1 FROM movies.imdb_movies_rating AS m WHERE m.movie_id = g.movie_id)",
    ),
    Check(
        "cast_has_movies",
        "cast rows whose movie is missing",
        "SELECT COUNT(*) FROM movies.movie_cast AS c"
        " WHERE NOT EXISTS (SELECT 1 FROM movies.imdb_movies_rating AS m WHERE m.movie_id = c.movie_id)",
    ),
    Check(
        "movies_from_committed_batches",
        "movies whose last batch is not in the ledger",
        "SELECT COUNT(*) FROM movies.imdb_movies_rating AS m WHERE NOT EXISTS"
        " (SELECT 1 FROM movies.batch_ledger AS l"
        " WHERE l.job_name = m.last_job AND l.batch_id = m.last_batch_id)",
    ),
    Check(
        "ledger_counts_add_up",
        "ledger rows where good + bad + duplicates differs from records in",
        "SELECT COUNT(*) FROM movies.batch_ledger"
        " WHERE good_records + bad_records + duplicates_dropped <> records_in",
    ),
    Check(
        "ledger_covers_movies",
        "more movies than the ledger says were upserted",
        "SELECT CASE WHEN (SELECT COUNT(*) FROM movies.imdb_movies_rating)"
        " > (SELECT COALESCE(SUM(movies_upserted), 0) FROM movies.batch_ledger) THEN 1 ELSE 0 END",
    ),
)
