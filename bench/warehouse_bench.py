"""`make bench-warehouse`: loading 400,000 typed movie rows through stage + MERGE (the pipeline's
warehouse transaction, `moviestream.warehouse.postgres.load_batch`) beside a raw COPY of the same CSV into an
unlogged table of text columns, in one run on the local PostgreSQL.

- raw COPY: the CSV file's bytes into `UNLOGGED TABLE raw_movies` (16 TEXT columns), the floor of
  what PostgreSQL can take in;
- MERGE load: the same rows, typed (what the job hands the warehouse: one row per movie), staged
  with a binary COPY into the temporary table and analyzed, then the newer-wins DELETE and the
  MERGE, into an empty table (every row an insert). The same transaction then refreshes the genre
  and cast bridges (800,000 and 1,600,000 rows) and writes the ledger: reported per step;
- the same rows again, newer, so every row matches (every row an update).
Best of three each. Target: MERGE load within 4x the raw COPY. Writes bench/results/warehouse.json.
"""

from __future__ import annotations

import csv
import json
import os
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg

from bench import results_path
from moviestream.core.config import warehouse_dsn
from moviestream.core.generate import generate
from moviestream.core.movie_key import movie_id
from moviestream.core.record import CSV_COLUMNS
from moviestream.devstack.stack import create_database_sql
from moviestream.warehouse.contract import STAGE_COLUMNS, BatchKey, BatchLoad
from moviestream.warehouse.postgres import load_batch
from moviestream.warehouse.targets import apply_schema

RESULTS = results_path("warehouse")
WORK = Path(".local/bench/warehouse")
ROUNDS = 3


def _int(text: str) -> int | None:
    digits = text.replace(",", "").replace("$", "").removesuffix(" min").strip()
    return int(digits) if digits.isdigit() else None


def typed_rows(csv_path: Path, produced_at: datetime, batch_id: int) -> tuple[list[tuple], list[tuple]]:
    """(movies in STAGE_COLUMNS order, (movie_id, genre) pairs): the generated file typed the way
    the job types it (clean rows only), newest row per movie kept, as the job's batch would be."""
    movies: dict[str, tuple] = {}
    genres: dict[str, list[str]] = {}
    with csv_path.open(encoding="utf-8", newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            key = movie_id(row["Series_Title"], row["Released_Year"])
            blank = {c: (row[c].strip() or None) for c in CSV_COLUMNS}
            values = {
                "movie_id": key,
                "series_title": blank["Series_Title"],
                "released_year": _int(row["Released_Year"]),
                "certificate": blank["Certificate"],
                "runtime_minutes": _int(row["Runtime"]),
                "genres": blank["Genre"],
                "imdb_rating": Decimal(row["IMDB_Rating"]) if blank["IMDB_Rating"] else None,
                "overview": blank["Overview"],
                "meta_score": _int(row["Meta_score"]),
                "director": blank["Director"],
                "star1": blank["Star1"],
                "star2": blank["Star2"],
                "star3": blank["Star3"],
                "star4": blank["Star4"],
                "no_of_votes": _int(row["No_of_Votes"]),
                "gross_usd": _int(row["Gross"]),
                "poster_link": blank["Poster_Link"],
                "event_id": f"bench-{i}",
                "event_produced_at": produced_at,
                "first_seen_at": produced_at,
                "last_updated_at": produced_at,
                "last_job": "bench-warehouse",
                "last_batch_id": batch_id,
            }
            movies[key] = tuple(values[c] for c in STAGE_COLUMNS)
            genres[key] = [g.strip() for g in (row["Genre"] or "").split(",") if g.strip()]
    return list(movies.values()), [(m, g) for m, gs in genres.items() for g in sorted(set(gs))]


def fresh_database(admin_dsn: str) -> tuple[str, str]:
    """(name, DSN) of a new, empty database beside the one ``admin_dsn`` names, schema applied."""
    name = f"bench_wh_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(create_database_sql(name))
    dsn = admin_dsn.rsplit("/", 1)[0] + f"/{name}"
    apply_schema(dsn)
    return name, dsn


def drop_database(admin_dsn: str, name: str) -> None:
    """Drop a benchmark's database. Plainly first: that also stops an autovacuum worker busy in it
    (after a large load there often is one), which FORCE, as a user who is not a superuser, may
    not terminate; FORCE for a connection of our own left behind."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        try:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
        except psycopg.errors.ObjectInUse:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def raw_copy_seconds(dsn: str, csv_path: Path) -> float:
    columns = ", ".join(f'"{c}" TEXT' for c in CSV_COLUMNS)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS raw_movies")
        conn.execute(f"CREATE UNLOGGED TABLE raw_movies ({columns})")
        started = time.perf_counter()
        copy_sql = "COPY raw_movies FROM STDIN (FORMAT csv, HEADER true)"
        with conn.cursor().copy(copy_sql) as copy, csv_path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        return time.perf_counter() - started


def empty_tables(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "TRUNCATE movies.imdb_movies_rating, movies.movie_genres, movies.movie_cast,"
            " movies.batch_ledger, movies.rule_outcomes"
        )
        conn.execute("VACUUM ANALYZE")


def merge_seconds(dsn: str, movies: list[tuple], genres: list[tuple], batch_id: int) -> dict[str, float]:
    """Seconds of each step of one load_batch transaction, plus its total."""
    ledger = {
        "records_in": len(movies),
        "duplicates_dropped": 0,
        "good_records": len(movies),
        "bad_records": 0,
        "movies_upserted": len(movies),
        "started_at": datetime(2026, 1, 1),
        "seconds_total": 0.0,
    }
    load = BatchLoad(BatchKey("bench-warehouse", "bench", batch_id), movies, genres, ledger, [])
    steps: dict[str, float] = {}
    started = time.perf_counter()
    assert load_batch(dsn, load, steps) is not None
    return {"total": time.perf_counter() - started, **steps}


def main() -> None:
    rows = int(os.environ.get("BENCH_WAREHOUSE_ROWS", "400000"))
    WORK.mkdir(parents=True, exist_ok=True)
    csv_path = WORK / f"movies-{rows}.csv"
    if not csv_path.exists():
        print(f"generating {rows:,} rows ...", flush=True)
        generate(csv_path, rows, seed=31, defect_rate=0.0)
    admin = warehouse_dsn()
    name, dsn = fresh_database(admin)
    try:
        started = time.perf_counter()
        first = datetime(2026, 1, 1)
        movies, genres = typed_rows(csv_path, first, 0)
        newer, _ = typed_rows(csv_path, first + timedelta(days=1), 1)
        prepare_s = time.perf_counter() - started
        print(f"{len(movies):,} movies, {len(genres):,} genre rows typed in {prepare_s:.1f} s", flush=True)

        raw, inserts, updates = [], [], []
        for round_no in range(ROUNDS):
            raw.append(raw_copy_seconds(dsn, csv_path))
            empty_tables(dsn)
            inserts.append(merge_seconds(dsn, movies, genres, 2 * round_no))
            updates.append(merge_seconds(dsn, newer, genres, 2 * round_no + 1))
            print(
                f"  round {round_no + 1}: raw COPY {raw[-1]:.2f} s; load (insert) "
                + ", ".join(f"{k} {v:.2f}" for k, v in inserts[-1].items())
                + "; load (update) "
                + ", ".join(f"{k} {v:.2f}" for k, v in updates[-1].items()),
                flush=True,
            )
        with psycopg.connect(dsn) as conn:
            loaded = conn.execute("SELECT COUNT(*) FROM movies.imdb_movies_rating").fetchone()[0]
            cast = conn.execute("SELECT COUNT(*) FROM movies.movie_cast").fetchone()[0]
        assert loaded == len(movies), (loaded, len(movies))
    finally:
        drop_database(admin, name)

    best_insert = min(inserts, key=lambda r: r["total"])
    best_update = min(updates, key=lambda r: r["total"])
    # "MERGE load": staging (COPY into the temporary table, ANALYZE) + the newer-wins DELETE and
    # MERGE of the movies table. The bridges' refresh and the ledger are the rest of the
    # batch's transaction, reported beside it.
    merge_load = best_insert["stage"] + best_insert["merge"]
    report = {
        "rows": rows,
        "movies": len(movies),
        "genre_rows": len(genres),
        "cast_rows": cast,
        "raw_copy_s": round(min(raw), 3),
        "merge_load_s": round(merge_load, 3),
        "merge_load_over_raw_copy": round(merge_load / min(raw), 2),
        "transaction_insert_s": {k: round(v, 3) for k, v in best_insert.items()},
        "transaction_update_s": {k: round(v, 3) for k, v in best_update.items()},
        "transaction_over_raw_copy": round(best_insert["total"] / min(raw), 2),
        "target": "merge_load_s <= 4 x raw_copy_s",
        "rounds": {"raw_copy_s": raw, "insert": inserts, "update": updates},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\nraw COPY {report['raw_copy_s']} s; MERGE load (stage + MERGE) {report['merge_load_s']} s"
        f" ({report['merge_load_over_raw_copy']}x, target <= 4x); whole transaction"
        f" {report['transaction_insert_s']['total']} s ({report['transaction_over_raw_copy']}x),"
        f" of which bridges {report['transaction_insert_s']['bridges']} s"
    )
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
