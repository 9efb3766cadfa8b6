"""`make bench-backfill`: a generated 400,000-row movies CSV through the backfill, end to end
(`moviestream backfill`: Spark's start, reading, judging, bad records to S3, stage + MERGE +
ledger per chunk), beside a raw COPY of the same file into an unlogged table of text columns on
the same PostgreSQL, in one run.

Both hand-offs of a chunk's rows to Spark (moviestream/backfill/handoff.py) run side by side,
BENCH_BACKFILL_RUNS times each (3 by default), in turns: Arrow columns (the default) and the
producer's JSON envelopes. Each run loads into a fresh database and a fresh bucket, so every row
is an insert. Besides the end-to-end time, each chunk is timed as it ends (the backfill's
``chunk_done`` log line), with the CPU-seconds of the backfill's whole process tree (driver, JVM,
Python workers) and of PostgreSQL since the chunk before: the steady state is the median over
the chunks after the first (the first pays Spark's start and the JIT), judged against the raw
COPY's time for the same number of rows.

The figures it reports are checked, not trusted: the warehouse's movies are counted, and the bad
records are counted in the S3 objects, and good + bad must add up to the file's rows.
Writes bench/results/backfill.json.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil
import psycopg

from bench import own_bucket, remove_bucket, results_path
from bench.warehouse_bench import drop_database, fresh_database, raw_copy_seconds
from moviestream.core.config import AwsSettings, warehouse_dsn
from moviestream.core.generate import generate

RESULTS = results_path("backfill")
WORK = Path(".local/bench/backfill")
ROWS = int(os.environ.get("BENCH_BACKFILL_ROWS", "400000"))
CHUNK_ROWS = int(os.environ.get("BENCH_BACKFILL_CHUNK_ROWS", "100000"))
RUNS = int(os.environ.get("BENCH_BACKFILL_RUNS", "3"))
HANDOFFS = ("columns", "envelopes")
STEPS = ("judge_s", "s3_s", "warehouse_s")  # a batch_committed log line's step times
STEP_TIME = re.compile(r"\b(judge_s|s3_s|warehouse_s)\"?[=:] ?([0-9.]+)")  # console or JSON logs
TARGET = 12.0  # issue 33: a steady-state chunk at most 12x the raw COPY of its rows


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


def tree_cpu(root: psutil.Process) -> float:
    """CPU-seconds (user + system) of a process and its descendants, also those that have ended:
    an ended process's time is in its parent's children times once the parent has reaped it
    (Spark's planner workers and PostgreSQL's backends come and go)."""
    total = 0.0
    for proc in [root, *root.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except psutil.Error:  # gone between the listing and the reading
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def warehouse_cpu() -> float:
    """CPU-seconds of the PostgreSQL server (its postmaster and every backend, ended ones too);
    the local stack's server serves only this run."""
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] == "postgres":
            try:
                parent = proc.parent()
                if parent is None or parent.name() != "postgres":  # the postmaster
                    return tree_cpu(proc)
            except psutil.Error:
                continue
    return 0.0


def timed_backfill(csv_path: Path, dsn: str, bucket: str, handoff: str) -> dict:
    """One backfill run, timed end to end and chunk by chunk."""
    argv, env = backfill_command(csv_path, dsn, bucket)
    argv += ["--handoff", handoff, "--chunk-rows", str(CHUNK_ROWS)]
    env["MOVIESTREAM_LOG_LEVEL"] = "info"  # a chunk_done line per chunk, on stderr
    started = time.perf_counter()
    pg_before = warehouse_cpu()
    proc = psutil.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    marks: list[tuple[float, float, float]] = []  # (seconds, job CPU, warehouse CPU) at each chunk's end
    steps: list[dict[str, float]] = []  # each committed chunk's step times, as the job logs them
    errors: list[str] = []
    assert proc.stderr is not None and proc.stdout is not None
    for line in proc.stderr:
        if "chunk_done" in line:
            marks.append((time.perf_counter() - started, tree_cpu(proc), warehouse_cpu() - pg_before))
        elif "batch_committed" in line:
            steps.append({k: float(v) for k, v in STEP_TIME.findall(line)})
        elif "error" in line.lower():
            errors.append(line.strip())
    stdout = proc.stdout.read()
    proc.wait()
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"error: the {handoff} backfill failed (exit {proc.returncode}): {errors[-3:]}")
    chunks = [
        {
            "wall_s": round(b[0] - a[0], 3),
            "job_cpu_s": round(b[1] - a[1], 3),
            "warehouse_cpu_s": round(b[2] - a[2], 3),
        }
        for a, b in zip(marks, marks[1:], strict=False)
    ]
    steady = {
        key: round(statistics.median(c[key] for c in chunks), 3) if chunks else None
        for key in ("wall_s", "job_cpu_s", "warehouse_cpu_s")
    }
    return {
        "seconds": round(seconds, 2),
        "first_chunk_done_s": round(marks[0][0], 2) if marks else None,
        # Medians over the chunks after the first: judging and reading out (Spark), the S3
        # writes, the warehouse transaction (on the commit thread, beside the next chunk's judging).
        "steady_steps_s": {
            key: round(statistics.median(s.get(key, 0.0) for s in steps[1:]), 3) if len(steps) > 1 else None
            for key in STEPS
        },
        "summary": json.loads(stdout.strip().splitlines()[-1]),
        "chunks_after_the_first": chunks,
        "steady_chunk_s": steady["wall_s"],
        "steady_chunk_cpu_s": (
            round(steady["job_cpu_s"] + steady["warehouse_cpu_s"], 3) if chunks else None  # type: ignore[operator]
        ),
        "steady_chunk_job_cpu_s": steady["job_cpu_s"],
        "steady_chunk_warehouse_cpu_s": steady["warehouse_cpu_s"],
    }


def checked_run(csv_path: Path, admin: str, handoff: str, copy: bool) -> dict:
    """A timed backfill into a fresh database and bucket, its counts checked; with ``copy``, the
    raw COPY of the same file into that database afterwards (seconds and PostgreSQL CPU)."""
    database, dsn = fresh_database(admin)
    bucket = own_bucket("backfill")
    try:
        print(f"  {handoff}: backfilling {csv_path.name} ...", flush=True)
        run = timed_backfill(csv_path, dsn, bucket, handoff)
        if copy:
            pg_before = warehouse_cpu()
            run["raw_copy_s"] = round(raw_copy_seconds(dsn, csv_path), 3)
            run["raw_copy_cpu_s"] = round(warehouse_cpu() - pg_before, 3)
        with psycopg.connect(dsn) as conn:
            counts = conn.execute(
                "SELECT (SELECT COUNT(*) FROM movies.imdb_movies_rating),"
                " (SELECT SUM(records_in) FROM movies.batch_ledger)"
            ).fetchone()
        run["warehouse_rows"], ledger_rows = counts or (None, None)
        run["bad_records"] = bad_record_lines(bucket)
    finally:
        drop_database(admin, database)
        remove_bucket(bucket)
    summary = run["summary"]
    accounted = summary["good_records"] + summary["bad_records"] + summary["rejected_rows"]
    if (
        accounted != ROWS
        or ledger_rows != summary["records"]
        or run["bad_records"] != summary["bad_records"] + summary["rejected_rows"]
    ):
        sys.exit(
            f"error: counts do not add up: {summary}, ledger {ledger_rows},"
            f" bad record lines {run['bad_records']}"
        )
    print(
        f"  {handoff}: {run['seconds']} s end to end; steady chunk {run['steady_chunk_s']} s,"
        f" {run['steady_chunk_cpu_s']} CPU-s" + (f"; raw COPY {run['raw_copy_s']} s" if copy else ""),
        flush=True,
    )
    return run


def _median(values: list) -> float | None:
    present = [v for v in values if v is not None]
    return round(statistics.median(present), 3) if present else None


def _spread(values: list) -> list | None:
    present = [v for v in values if v is not None]
    return [min(present), max(present)] if present else None


def handoff_figures(done: list[dict], copy_per_chunk: float) -> dict:
    """One hand-off's runs summed up: medians, spreads, and the steady chunk over the raw COPY."""
    steady = _median([r["steady_chunk_s"] for r in done])
    return {
        "seconds": _median([r["seconds"] for r in done]),
        "seconds_spread": _spread([r["seconds"] for r in done]),
        "steady_chunk_s": steady,
        "steady_chunk_s_spread": _spread([r["steady_chunk_s"] for r in done]),
        "steady_chunk_cpu_s": _median([r["steady_chunk_cpu_s"] for r in done]),
        "steady_chunk_cpu_s_spread": _spread([r["steady_chunk_cpu_s"] for r in done]),
        "steady_chunk_job_cpu_s": _median([r["steady_chunk_job_cpu_s"] for r in done]),
        "steady_chunk_warehouse_cpu_s": _median([r["steady_chunk_warehouse_cpu_s"] for r in done]),
        "steady_steps_s": {key: _median([r["steady_steps_s"][key] for r in done]) for key in STEPS},
        "steady_chunk_over_raw_copy": round(steady / copy_per_chunk, 1) if steady is not None else None,
        "runs": done,
    }


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    csv_path = WORK / f"movies-{ROWS}.csv"
    if not csv_path.exists():
        print(f"generating {ROWS:,} rows into {csv_path}", flush=True)
        generate(csv_path, ROWS, seed=7, defect_rate=0.05)
    admin = warehouse_dsn()
    print(f"backfill of {csv_path} ({csv_path.stat().st_size / 1e6:.0f} MB), {CHUNK_ROWS:,}-row chunks,"
          f" {RUNS} run(s) of each hand-off in turns", flush=True)  # fmt: skip
    runs: dict[str, list[dict]] = {h: [] for h in HANDOFFS}
    for index in range(RUNS):
        print(f"run {index + 1} of {RUNS}", flush=True)
        order = HANDOFFS if index % 2 == 0 else HANDOFFS[::-1]  # neither always runs first
        for handoff in order:
            runs[handoff].append(checked_run(csv_path, admin, handoff, copy=handoff == "columns"))
    copies = [r["raw_copy_s"] for r in runs["columns"]]
    raw_copy = statistics.median(copies)
    copy_per_chunk = raw_copy * min(CHUNK_ROWS, ROWS) / ROWS  # COPY's time is linear in the rows
    per_handoff = {handoff: handoff_figures(done, copy_per_chunk) for handoff, done in runs.items()}
    columns, envelopes = per_handoff["columns"], per_handoff["envelopes"]
    first = runs["columns"][0]
    report = {
        "rows": ROWS,
        "chunk_rows": CHUNK_ROWS,
        "runs": RUNS,
        # The default hand-off's figures, as before the two were compared:
        "seconds": columns["seconds"],
        "raw_copy_s": round(raw_copy, 3),
        "raw_copy_s_spread": _spread(copies),
        "raw_copy_cpu_s": _median([r["raw_copy_cpu_s"] for r in runs["columns"]]),
        "raw_copy_per_chunk_s": round(copy_per_chunk, 4),
        "warehouse_rows": first["warehouse_rows"],
        "bad_records": first["bad_records"],
        "seconds_over_raw_copy": round(columns["seconds"] / raw_copy, 1),
        "summary": first["summary"],
        "steady_chunk_over_raw_copy": columns["steady_chunk_over_raw_copy"],
        "target_steady_chunk_over_raw_copy": TARGET,
        "columns_over_envelopes": {
            "seconds": round(columns["seconds"] / envelopes["seconds"], 2),
            "steady_chunk_s": (
                round(columns["steady_chunk_s"] / envelopes["steady_chunk_s"], 2)
                if columns["steady_chunk_s"] and envelopes["steady_chunk_s"]
                else None
            ),
            "steady_chunk_cpu_s": (
                round(columns["steady_chunk_cpu_s"] / envelopes["steady_chunk_cpu_s"], 2)
                if columns["steady_chunk_cpu_s"] and envelopes["steady_chunk_cpu_s"]
                else None
            ),
        },
        "handoffs": per_handoff,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nbackfill of {ROWS:,} rows in {CHUNK_ROWS:,}-row chunks, medians of {RUNS} run(s):")
    print(f"raw COPY of the same file: {report['raw_copy_s']} s ({copy_per_chunk:.3f} s per chunk's rows)")
    for handoff, figures in per_handoff.items():
        print(
            f"{handoff:>9}: {figures['seconds']} s end to end"
            f" ({figures['seconds'] / raw_copy:.1f}x the COPY);"
            f" steady chunk {figures['steady_chunk_s']} s {figures['steady_chunk_s_spread']}"
            f" = {figures['steady_chunk_over_raw_copy']}x the COPY of its rows;"
            f" {figures['steady_chunk_cpu_s']} CPU-s (job {figures['steady_chunk_job_cpu_s']},"
            f" PostgreSQL {figures['steady_chunk_warehouse_cpu_s']}); steps {figures['steady_steps_s']}"
        )
    print(f"columns over envelopes: {report['columns_over_envelopes']}\nwrote {RESULTS}")


if __name__ == "__main__":
    main()
