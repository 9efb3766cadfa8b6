"""The backfill on the local stack: exact counts, a second run loads nothing, a run killed
mid-way resumes to the same warehouse, and history never overwrites newer streamed values."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

from moviestream.config import AwsSettings
from producer.generate import generate
from tests.integration.databases import fresh_warehouse

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("backfill") / "history.csv"
    generate(path, 3000, seed=5, defect_rate=0.1)
    with path.open("ab") as fh:  # one unreadable row (bad bytes), which never reaches Spark
        fh.write(b"\xff\xfe" + b"," * 15 + b"\n")
    return path


def backfill(
    dsn: str, bucket: str, location: Path, *extra: str, as_of: str = "2020-01-01T00:00:00Z", env=None
) -> tuple[int, dict]:
    out = subprocess.run(
        [sys.executable, "-m", "batch_backfill", str(location), "--warehouse-dsn", dsn, "--bucket", bucket,
         "--chunk-rows", "1000", "--as-of", as_of, *extra],
        capture_output=True, text=True, cwd=ROOT, timeout=600, env=env,
    )  # fmt: skip
    lines = out.stdout.strip().splitlines()
    return out.returncode, (json.loads(lines[-1]) if lines else {"stderr": out.stderr})


def warehouse_state(dsn: str) -> tuple:
    with psycopg.connect(dsn) as conn:
        movies = conn.execute(
            "SELECT movie_id, event_id, imdb_rating FROM movies.imdb_movies_rating ORDER BY 1"
        ).fetchall()
        genres = conn.execute("SELECT COUNT(*) FROM movies.movie_genres").fetchone()[0]
        ledger = conn.execute("SELECT COUNT(*), SUM(records_in) FROM movies.batch_ledger").fetchone()
    return movies, genres, ledger


def test_a_file_loads_with_exact_counts_and_a_second_run_loads_nothing(stack, generated):
    dsn = fresh_warehouse(stack)
    bucket = f"bf-{uuid.uuid4().hex[:8]}"
    AwsSettings().client("s3").create_bucket(Bucket=bucket)

    code, first = backfill(dsn, bucket, generated)
    assert code == 0, first
    # 3,001 rows in chunks of 1,000: three with records, and a fourth holding only the unreadable row
    assert (first["chunks_loaded"], first["chunks_empty"], first["rejected_rows"]) == (3, 1, 1)
    accounted = (
        first["good_records"] + first["bad_records"] + first["duplicates_dropped"] + first["rejected_rows"]
    )
    assert accounted == 3001 and first["records"] == 3000
    before = warehouse_state(dsn)
    assert before[2] == (3, 3000)

    code, again = backfill(dsn, bucket, generated)
    assert (
        code == 0
        and again["chunks_loaded"] == 0
        and again["chunks_skipped"] == 3
        and again["files_skipped"] == 1
    )
    assert warehouse_state(dsn) == before

    code, forced = backfill(dsn, bucket, generated, "--force")
    assert code == 0 and forced["chunks_loaded"] == 3
    movies, genres, _ = warehouse_state(dsn)
    assert (movies, genres) == before[:2]  # reloaded by MERGE: the same rows, none twice


def test_history_never_overwrites_newer_values(stack, generated):
    dsn = fresh_warehouse(stack)
    bucket = f"bf-{uuid.uuid4().hex[:8]}"
    AwsSettings().client("s3").create_bucket(Bucket=bucket)
    assert backfill(dsn, bucket, generated, as_of="2026-01-01T00:00:00Z")[0] == 0
    newer = warehouse_state(dsn)[0]
    # The same file again, as of an older time: every row is older than what the warehouse has.
    code, older = backfill(dsn, bucket, generated, "--force", as_of="2019-01-01T00:00:00Z")
    assert code == 0 and older["chunks_loaded"] == 3
    with psycopg.connect(dsn) as conn:
        times = conn.execute("SELECT DISTINCT event_produced_at FROM movies.imdb_movies_rating").fetchall()
    assert [t.year for (t,) in times] == [2026]
    assert warehouse_state(dsn)[0] == newer


@pytest.mark.parametrize("point", ["after_commit@1", "in_transaction@2"])
def test_a_run_killed_mid_way_resumes_to_the_same_warehouse(stack, generated, point):
    """SIGKILL after chunk 1 committed, or inside chunk 2's transaction; the rerun loads only
    what is missing and ends where an uninterrupted run ends."""
    import os

    clean = fresh_warehouse(stack)
    bucket = f"bf-{uuid.uuid4().hex[:8]}"
    AwsSettings().client("s3").create_bucket(Bucket=bucket)
    assert backfill(clean, bucket, generated)[0] == 0

    crashed = fresh_warehouse(stack)
    code, _ = backfill(crashed, bucket, generated, env={**os.environ, "MOVIESTREAM_FAILPOINT": point})
    assert code == -9  # killed by the failpoint
    code, resumed = backfill(crashed, bucket, generated)
    assert code == 0
    assert resumed["chunks_skipped"] + resumed["chunks_loaded"] == 3 and resumed["chunks_skipped"] >= 1
    assert warehouse_state(crashed) == warehouse_state(clean)  # movies, genre rows, ledger totals
