"""Every benchmark stays runnable: each runs once at a tiny scale on the test session's stack (not
through the bench-* make targets, which use the fixed ports of `make up`), into a results folder
of its own, and must write its JSON with the keys bench/README.md reports. No timing is
asserted: these machines vary too much, and the full-size figures come from `make bench`."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from tests.waiting import wait_for

ROOT = Path(__file__).parents[2]

# bench module, its tiny sizes, the keys its JSON must have
BENCHMARKS = {
    "producer": (
        {"BENCH_PRODUCER_ROWS": "1500", "BENCH_PRODUCER_CPU_ROWS": "1500", "BENCH_PRODUCER_CEILING_S": "1"},
        {"cpu_records_per_s", "aggregated_records_per_s", "plain_records_per_s", "endpoint_ceiling_mb_per_s"},
    ),
    "quality": (
        {"BENCH_QUALITY_ROWS": "1500", "BENCH_QUALITY_RUNS": "1"},
        {
            "rows",
            "cached",
            "parquet",
            "targets",
            "engine_rowlevel_vs_handwritten",
            "rowlevel_same_as_handwritten",
        },
    ),
    "quality_history": (
        {"BENCH_HISTORY_BATCH_ROWS": "500", "BENCH_HISTORY_EARLIER_RUNS": "40", "BENCH_HISTORY_RUNS": "1"},
        {"earlier_runs", "batches", "history_over_judge_worst", "target"},
    ),
    "warehouse": (
        {"BENCH_WAREHOUSE_ROWS": "1500"},
        {"rows", "raw_copy_s", "merge_load_s", "merge_load_over_raw_copy", "transaction_over_raw_copy"},
    ),
    "backfill": (
        {"BENCH_BACKFILL_ROWS": "1500", "BENCH_BACKFILL_CHUNK_ROWS": "500", "BENCH_BACKFILL_RUNS": "1"},
        {
            "rows",
            "seconds",
            "raw_copy_s",
            "warehouse_rows",
            "bad_records",
            "seconds_over_raw_copy",
            "steady_chunk_over_raw_copy",
            "columns_over_envelopes",
            "handoffs",
        },
    ),
    "soak": (
        {
            "BENCH_SOAK_SECONDS": "6",
            "BENCH_SOAK_RATE": "100",
            "BENCH_SOAK_SAMPLE_S": "2",
            "BENCH_SOAK_BACKFILL_ROWS": "800",
        },
        {"soak_seconds", "growth_per_hour", "backfill", "backfill_seconds_per_row_vs_smallest", "soak"},
    ),
    "stream": (
        {"BENCH_STREAM_DRAIN_RECORDS": "1000", "BENCH_STREAM_LATENCY_SECONDS": "2"},
        {"drain_records_per_s", "latency_p50_s", "latency_p95_s", "latency_p99_s", "records"},
    ),
}


def live_streams(kinesis) -> set[str]:
    """Streams not on their way out (deleting a stream takes a moment)."""

    def settled() -> list[dict] | None:
        summaries = kinesis.list_streams().get("StreamSummaries", [])
        return None if any(s["StreamStatus"] == "DELETING" for s in summaries) else summaries or [{}]

    return {s["StreamName"] for s in wait_for(settled, 30, "no stream still deleting") if s}


def leftovers(stack) -> dict[str, set[str]]:
    """What benchmarks could leave behind: databases, buckets and streams, and rows or bad records
    in the user's own warehouse and bucket."""
    import psycopg

    from moviestream.core.config import AwsSettings, resource_names

    aws = AwsSettings()
    with psycopg.connect(stack.warehouse_dsn) as conn:
        databases = {r[0] for r in conn.execute("SELECT datname FROM pg_database")}
        jobs = {r[0] for r in conn.execute("SELECT DISTINCT job_name FROM movies.batch_ledger")}
        jobs |= {r[0] for r in conn.execute("SELECT DISTINCT last_job FROM movies.imdb_movies_rating")}
    s3 = aws.client("s3")
    bad = {
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=resource_names()["bucket_name"])
        for o in page.get("Contents", [])
        if "bench" in o["Key"]
    }
    return {
        "databases": databases,
        "buckets": {b["Name"] for b in s3.list_buckets()["Buckets"]},
        "streams": live_streams(aws.client("kinesis")),
        "bench rows in the user's warehouse": {j for j in jobs if "bench" in j},
        "bench keys in the user's bucket": bad,
    }


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_the_benchmark_runs_and_writes_its_figures(stack, tmp_path, name):
    sizes, keys = BENCHMARKS[name]
    before = leftovers(stack)
    env = {**os.environ, **sizes, "BENCH_RESULTS_DIR": str(tmp_path), "MOVIESTREAM_LOG_LEVEL": "warning"}
    proc = subprocess.Popen(
        [sys.executable, "-m", f"bench.{name}_bench"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        kill_tree(proc)
        raise
    assert proc.returncode == 0, (stdout[-2000:], stderr[-3000:])
    report = json.loads((tmp_path / f"{name}.json").read_text())
    assert keys <= set(report), keys - set(report)
    if name == "quality":  # the engine's row-level columns equal the hand-written yardstick's
        assert [report[form]["rowlevel_same_as_handwritten"] for form in ("cached", "parquet")] == [
            True,
            True,
        ]
        assert report["rowlevel_same_as_handwritten"] is True
    recorded = json.loads((ROOT / "bench" / "results" / f"{name}.json").read_text())
    assert keys <= set(recorded), "the recorded full-size figures lack a key the benchmark writes"
    # It removed what it made, and kept out of the user's warehouse and bucket.
    after = leftovers(stack)
    for what, names in after.items():
        assert names <= before[what], (what, names - before[what])
    assert not after["bench rows in the user's warehouse"] and not after["bench keys in the user's bucket"]


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL a benchmark and everything it started: a streaming job runs in a session of its
    own, so killing the benchmark alone would leave the job (and its JVM) running."""
    family = psutil.Process(proc.pid).children(recursive=True)
    for member in [psutil.Process(proc.pid), *family]:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    proc.communicate()
