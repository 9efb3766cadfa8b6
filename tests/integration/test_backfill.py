"""The backfill on the local stack, on a 10,000-row generated file: exact counts, a second run
loads nothing, a run killed mid-way resumes to the same warehouse, and history never overwrites
newer streamed values."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from moviestream.core.config import AwsSettings
from moviestream.core.generate import generate
from tests.integration.databases import fresh_warehouse

ROOT = Path(__file__).parents[2]
ROWS = 4_000
CHUNK = "1000"  # four chunks of records, and a fifth holding only the unreadable last row


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    path = tmp_path_factory.mktemp("backfill") / "history.csv"
    generate(path, ROWS, seed=5, defect_rate=0.1)
    with path.open("ab") as fh:  # one unreadable row (bad bytes), which never reaches Spark
        fh.write(b"\xff\xfe" + b"," * 15 + b"\n")
    return path


def backfill(
    dsn: str, bucket: str, location: Path, *extra: str, as_of: str = "2020-01-01T00:00:00Z", env=None
) -> tuple[int, dict]:
    out = subprocess.run(
        [sys.executable, "-m", "moviestream", "backfill", str(location), "--warehouse-dsn", dsn, "--bucket", bucket,
         "--chunk-rows", CHUNK, "--as-of", as_of, *extra],
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


@dataclass(frozen=True)
class FirstLoad:
    dsn: str
    bucket: str
    summary: dict
    state: tuple  # warehouse_state right after the load


@pytest.fixture(scope="module")
def first_load(stack, generated) -> FirstLoad:
    """The file backfilled once into a fresh warehouse and bucket: the uninterrupted run that
    the killed-and-resumed runs must end equal to (one run, shared, saves a Spark start each)."""
    dsn = fresh_warehouse(stack)
    bucket = f"bf-{uuid.uuid4().hex[:8]}"
    AwsSettings().client("s3").create_bucket(Bucket=bucket)
    code, summary = backfill(dsn, bucket, generated)
    assert code == 0, summary
    return FirstLoad(dsn, bucket, summary, warehouse_state(dsn))


def test_a_file_loads_with_exact_counts_and_a_second_run_loads_nothing(first_load, generated):
    dsn, bucket, first = first_load.dsn, first_load.bucket, first_load.summary
    assert (first["chunks_loaded"], first["chunks_empty"], first["rejected_rows"]) == (4, 1, 1)
    accounted = (
        first["good_records"] + first["bad_records"] + first["duplicates_dropped"] + first["rejected_rows"]
    )
    assert accounted == ROWS + 1 and first["records"] == ROWS and first["duplicates_dropped"] == 0
    before = first_load.state
    assert before[2] == (4, ROWS)
    assert 0 < len(before[0]) <= first["good_records"]  # the generator repeats some movies
    with psycopg.connect(dsn) as conn:
        ledger = conn.execute(
            "SELECT batch_id, source_uri, source_sha256, source_first_row, source_last_row, stream_id"
            " FROM movies.batch_ledger ORDER BY batch_id"
        ).fetchall()
    checksum = hashlib.sha256(generated.read_bytes()).hexdigest()
    assert [row[:5] for row in ledger] == [
        (i, str(generated), checksum, i * int(CHUNK) + 1, (i + 1) * int(CHUNK)) for i in range(4)
    ]
    assert {row[5] for row in ledger} == {f"file-{checksum[:40]}"}
    bad_objects = AwsSettings().client("s3").list_objects_v2(Bucket=bucket, Prefix="bad_records/")
    assert len(bad_objects["Contents"]) == 5  # four chunks' bad records, the unreadable row
    # All in ingest_date partitions, which the Athena table's partition projection reads.
    assert all(o["Key"].startswith("bad_records/ingest_date=") for o in bad_objects["Contents"])

    code, again = backfill(dsn, bucket, generated)
    assert (
        code == 0
        and again["chunks_loaded"] == 0
        and again["chunks_skipped"] == 4
        and again["files_skipped"] == 1
    )
    assert warehouse_state(dsn) == before

    code, forced = backfill(dsn, bucket, generated, "--force")
    assert code == 0 and forced["chunks_loaded"] == 4
    movies, genres, _ = warehouse_state(dsn)
    assert (movies, genres) == before[:2]  # reloaded by MERGE: the same rows, none twice


def stream_newer_versions(dsn: str, bucket: str, source: Path, rows: int) -> dict[str, int]:
    """The first ``rows`` movies of ``source`` with more votes, produced now, through the
    streaming job's per-batch pipeline (what its foreachBatch runs on Kinesis rows). Returns
    movie_id -> streamed votes."""
    from moviestream.core.csv_source import Row, read_rows
    from moviestream.core.envelope import EnvelopeEncoder
    from moviestream.core.spark import local_session
    from moviestream.core.transform import SOURCE_SCHEMA
    from moviestream.pipeline.batch_pipeline import BatchPipeline, PipelineConfig
    from moviestream.quality.dqdl import read_ruleset

    with source.open("rb") as fh:
        good = [r for r in read_rows(fh, str(source)) if isinstance(r, Row)][: rows * 2]
    encoder = EnvelopeEncoder("stream", good[0].header)
    votes_at = good[0].header.index("No_of_Votes")
    spark = local_session("test-stream-newer")
    pipeline = BatchPipeline(
        PipelineConfig(
            job_name="moviestream-streaming",
            ruleset=read_ruleset(ROOT / "moviestream" / "rules" / "movies.dqdl"),
            bucket=bucket,
            warehouse_dsn=dsn,
        ),
        lambda: "stream-test",
    )
    records, streamed = [], {}
    now = datetime.now(UTC).replace(tzinfo=None)
    for row in good:
        values = list(row.values)
        values[votes_at] = "7,654,321"
        key, envelope = encoder.encode(row.row_number, values, now.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
        records.append(("shardId-000000000000", str(row.row_number), key, now, envelope))
    result = pipeline.process(spark.createDataFrame(records, SOURCE_SCHEMA), 0)
    with psycopg.connect(dsn) as conn:
        streamed = dict(
            conn.execute("SELECT movie_id, no_of_votes FROM movies.imdb_movies_rating").fetchall()
        )
    assert result is not None and result.loaded and len(streamed) >= rows
    return streamed


def test_history_never_overwrites_newer_streamed_values(stack, generated):
    dsn = fresh_warehouse(stack)
    bucket = f"bf-{uuid.uuid4().hex[:8]}"
    AwsSettings().client("s3").create_bucket(Bucket=bucket)
    streamed = stream_newer_versions(dsn, bucket, generated, 500)
    assert set(streamed.values()) == {7654321}

    code, summary = backfill(dsn, bucket, generated, as_of="2020-01-01T00:00:00Z")
    assert code == 0 and summary["chunks_loaded"] == 4
    with psycopg.connect(dsn) as conn:
        now = dict(conn.execute("SELECT movie_id, no_of_votes FROM movies.imdb_movies_rating").fetchall())
        years = dict(
            conn.execute(
                "SELECT EXTRACT(YEAR FROM event_produced_at)::int, COUNT(*) FROM movies.imdb_movies_rating"
                " GROUP BY 1"
            ).fetchall()
        )
    assert {m: now[m] for m in streamed} == streamed  # the streamed (newer) values stayed
    assert years == {datetime.now(UTC).year: len(streamed), 2020: len(now) - len(streamed)}
    assert len(now) > len(streamed)  # the other movies came from the file


def test_a_run_killed_mid_way_resumes_to_the_same_warehouse(stack, generated, first_load):
    """SIGKILL after chunk 1 committed; the rerun skips chunks 0 and 1 and is killed inside chunk
    2's transaction; the last rerun loads only what is missing (chunk 2 again, and 3) and ends
    where an uninterrupted run ends. One chain of restarts, as the streaming job's crash test:
    each restart recovers from the state the previous crash left, for one backfill start less."""
    import os

    bucket = f"bf-{uuid.uuid4().hex[:8]}"
    AwsSettings().client("s3").create_bucket(Bucket=bucket)
    crashed = fresh_warehouse(stack)
    for point in ("after_commit@1", "in_transaction@2"):
        code, _ = backfill(crashed, bucket, generated, env={**os.environ, "MOVIESTREAM_FAILPOINT": point})
        assert code == -9, point  # killed by the failpoint
    code, resumed = backfill(crashed, bucket, generated)
    assert code == 0
    assert (resumed["chunks_skipped"], resumed["chunks_loaded"]) == (2, 2), resumed
    assert warehouse_state(crashed) == first_load.state  # movies, genre rows, ledger totals
