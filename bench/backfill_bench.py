"""`make bench-backfill`: a generated 400,000-row movies CSV through the backfill, end to end
(`moviestream backfill`: Spark's start, reading, judging, bad records to S3, stage + MERGE +
ledger per chunk), beside a raw COPY of the same file into an unlogged table of text columns on
the same PostgreSQL, in one run.

The backfill loads into a fresh database and a fresh bucket, so every row is an insert. The
figures it reports are checked, not trusted: the warehouse's movies are counted, and the bad
records are counted in the S3 objects, and good + bad must add up to the file's rows.
It is judged as a ratio: its end-to-end time over the raw COPY's (the 30 s target of the first
figures is retired). Writes bench/results/backfill.json.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from bench import own_bucket, remove_bucket, results_path
from bench.warehouse_bench import drop_database, fresh_database, raw_copy_seconds
from moviestream.core.config import AwsSettings, warehouse_dsn
from moviestream.producer.generate import generate

RESULTS = results_path("backfill")
WORK = Path(".local/bench/backfill")
ROWS = int(os.environ.get("BENCH_BACKFILL_ROWS", "400000"))


def bad_record_lines(bucket: str) -> int:
    s3 = AwsSettings().client("s3")
    lines = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="bad_records/"):
        for obj in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
            lines += body.count(b"\n")
    return lines


def backfill_command(csv_path: Path, dsn: str, bucket: str) -> tuple[list[str], dict[str, str]]:
    """(argv, env) of one timed backfill run: the whole file, an as-of time in the past (so every
    row is history), warnings only on stderr; the summary is the last stdout line."""
    argv = [sys.executable, "-m", "moviestream", "backfill", str(csv_path), "--warehouse-dsn", dsn,
            "--bucket", bucket, "--as-of", "2020-01-01T00:00:00Z"]  # fmt: skip
    return argv, {**os.environ, "MOVIESTREAM_LOG_LEVEL": "warning"}


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    csv_path = WORK / f"movies-{ROWS}.csv"
    if not csv_path.exists():
        print(f"generating {ROWS:,} rows into {csv_path}", flush=True)
        generate(csv_path, ROWS, seed=7, defect_rate=0.05)
    admin = warehouse_dsn()
    database, dsn = fresh_database(admin)
    bucket = own_bucket("backfill")
    try:
        print(f"backfilling {csv_path} ({csv_path.stat().st_size / 1e6:.0f} MB)", flush=True)
        started = time.perf_counter()
        argv, env = backfill_command(csv_path, dsn, bucket)
        run = subprocess.run(argv, stdout=subprocess.PIPE, text=True, env=env)
        seconds = time.perf_counter() - started
        if run.returncode != 0:
            sys.exit(f"error: the backfill failed (exit {run.returncode})")
        summary = json.loads(run.stdout.strip().splitlines()[-1])
        raw = raw_copy_seconds(dsn, csv_path)
        with psycopg.connect(dsn) as conn:
            warehouse_rows = conn.execute("SELECT COUNT(*) FROM movies.imdb_movies_rating").fetchone()[0]
            ledger_rows = conn.execute("SELECT SUM(records_in) FROM movies.batch_ledger").fetchone()[0]
        bad = bad_record_lines(bucket)
    finally:
        drop_database(admin, database)
        remove_bucket(bucket)
    accounted = summary["good_records"] + summary["bad_records"] + summary["rejected_rows"]
    if (
        accounted != ROWS
        or ledger_rows != summary["records"]
        or bad != summary["bad_records"] + summary["rejected_rows"]
    ):
        sys.exit(f"error: counts do not add up: {summary}, ledger {ledger_rows}, bad record lines {bad}")
    report = {
        "rows": ROWS,
        "seconds": round(seconds, 2),
        "raw_copy_s": round(raw, 3),
        "warehouse_rows": warehouse_rows,
        "bad_records": bad,
        "seconds_over_raw_copy": round(seconds / raw, 1),
        "seconds_in_job": summary["seconds"],  # without the process and Spark starting
        "rows_per_s": round(ROWS / seconds),
        "chunks": summary["chunks_loaded"],
        "summary": summary,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"\nbackfill of {ROWS:,} rows: {report['seconds']} s end to end ({report['rows_per_s']:,} rows/s;"
        f" {report['seconds_in_job']} s after Spark started)"
        f"\nraw COPY of the same file: {report['raw_copy_s']} s ({report['seconds_over_raw_copy']}x)"
        f"\nwarehouse movies {warehouse_rows:,}; bad records in S3 {bad:,}\nwrote {RESULTS}"
    )


if __name__ == "__main__":
    main()
