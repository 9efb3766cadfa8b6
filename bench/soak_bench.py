"""`make bench-soak`: does the pipeline stay flat over time, and does the backfill scale linearly?

1. Soak: the local streaming job runs for BENCH_SOAK_SECONDS (default 1,800) while the producer
   sends at a paced BENCH_SOAK_RATE (default 500 records/s, about a tenth of the job's drain rate
   here). Every BENCH_SOAK_SAMPLE_S (default 15 s) it samples the job's memory (the Python
   driver's RSS, the JVM's RSS and heap in use, Spark's Python workers' RSS), the checkpoint
   folder's size and file count, and the ledger's rows. Afterwards, end-to-end latency (the
   ledger's committed_at of the batch that loaded a movie minus its produced_at) per minute.
   Growth is the least-squares slope over the samples after a warm-up, per hour.
2. Scale: the backfill on generated files of BENCH_SOAK_BACKFILL_ROWS (default 100k, 400k and
   1.6M rows), each timed end to end with the peak RSS of its whole process tree (driver, JVM,
   workers) and a raw COPY of the same file beside it.

Everything runs in a database, a stream and a bucket of its own, removed at the end.
Writes bench/results/soak.json, with every sample, so the curves can be redrawn.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psutil
import psycopg

from bench import own_bucket, remove_bucket, results_path
from bench.backfill_bench import backfill_command, bad_record_lines
from bench.stream_bench import delete_stream, fresh_stream, generated_csv, wait_accounted
from bench.warehouse_bench import drop_database, fresh_database, raw_copy_seconds
from moviestream.core.config import warehouse_dsn
from moviestream.devstack.jobs import ledger_totals, start_local_job, stop_job, wait_for_status

RESULTS = results_path("soak")
WORK = Path(".local/bench/soak")
SOAK_SECONDS = int(os.environ.get("BENCH_SOAK_SECONDS", "1800"))
SOAK_RATE = int(os.environ.get("BENCH_SOAK_RATE", "500"))
SAMPLE_S = float(os.environ.get("BENCH_SOAK_SAMPLE_S", "15"))
BACKFILL_ROWS = [
    int(n) for n in os.environ.get("BENCH_SOAK_BACKFILL_ROWS", "100000,400000,1600000").split(",")
]
MB = 1024 * 1024


# --- process memory -----------------------------------------------------------------------------


def tree_memory(root_pid: int) -> dict[str, float]:
    """RSS in MiB of a job's process tree, by role: the Python driver (the root), Spark's JVM
    (its java child) and the Python workers the JVM starts, with the JVM's pid."""
    driver = psutil.Process(root_pid)
    out = {"driver_rss_mb": driver.memory_info().rss / MB, "jvm_rss_mb": 0.0, "workers_rss_mb": 0.0}
    jvm_pid = None
    for child in driver.children(recursive=True):
        try:
            rss = child.memory_info().rss / MB
            name = child.name()
        except psutil.NoSuchProcess:  # a worker that ended between listing and reading
            continue
        if name == "java":
            out["jvm_rss_mb"] += rss
            jvm_pid = child.pid
        else:
            out["workers_rss_mb"] += rss
    out["total_rss_mb"] = out["driver_rss_mb"] + out["jvm_rss_mb"] + out["workers_rss_mb"]
    out["jvm_pid"] = jvm_pid
    return out


def jvm_gc(jvm_pid: int | None) -> dict[str, float | None]:
    """From `jstat -gc`: the JVM's heap in use (eden + survivors + old generation), the old
    generation alone, the metaspace in use (the classes, Spark's generated code among them) and
    the count of full collections; None each when the JDK's jstat is missing or the JVM has gone."""
    empty: dict[str, float | None] = dict.fromkeys(
        ("jvm_heap_used_mb", "jvm_old_used_mb", "jvm_metaspace_used_mb", "jvm_full_gcs")
    )
    if jvm_pid is None:
        return empty
    try:
        out = subprocess.run(["jstat", "-gc", str(jvm_pid)], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return empty
    words = out.stdout.split()
    if out.returncode != 0 or not words or len(words) % 2:
        return empty
    fields = dict(zip(words[: len(words) // 2], words[len(words) // 2 :], strict=True))

    def mb(*keys: str) -> float:
        return round(sum(float(fields.get(k, 0)) for k in keys) / 1024, 1)

    return {
        "jvm_heap_used_mb": mb("S0U", "S1U", "EU", "OU"),
        "jvm_old_used_mb": mb("OU"),
        "jvm_metaspace_used_mb": mb("MU"),
        "jvm_full_gcs": float(fields.get("FGC", 0)),
    }


class PeakRss:
    """Samples a process tree's RSS every ``interval_s`` in a thread: ``peak`` holds the highest
    total, by role at that moment, and ``series`` every sample (seconds, driver, JVM, total)."""

    def __init__(self, pid: int, interval_s: float = 0.5) -> None:
        self.pid, self.interval_s = pid, interval_s
        self.peak: dict[str, float] = {"total_rss_mb": 0.0}
        self.series: list[tuple[float, float, float, float]] = []
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                now = tree_memory(self.pid)
            except psutil.NoSuchProcess:
                return
            if now["total_rss_mb"] > self.peak["total_rss_mb"]:
                self.peak = now
            self.series.append(
                (round(time.monotonic() - self._started, 1), round(now["driver_rss_mb"]),
                 round(now["jvm_rss_mb"]), round(now["total_rss_mb"]))
            )  # fmt: skip


# --- figures ------------------------------------------------------------------------------------


def folder_size(path: Path) -> tuple[int, int]:
    """(bytes, files) under ``path``."""
    size = files = 0
    for entry in path.rglob("*"):
        if entry.is_file():
            files += 1
            size += entry.stat().st_size
    return size, files


def slope_per_hour(samples: list[dict], key: str, warm_up_s: float) -> float | None:
    """Least-squares slope of ``key`` against time over the samples after ``warm_up_s``, per hour."""
    points = [(s["t_s"], s[key]) for s in samples if s["t_s"] >= warm_up_s and s.get(key) is not None]
    if len(points) < 3:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return round(cov / var * 3600, 2)


def floor_per_window(samples: list[dict], key: str, window_s: float = 300.0) -> list[float]:
    """The lowest ``key`` in each ``window_s`` of samples. For the JVM's heap in use this is what
    the collector could not free (the troughs of its saw-tooth): a leak shows as a rising floor,
    while the RSS of a JVM grows anyway until its heap reaches the size it needs."""
    windows: dict[int, list[float]] = {}
    for s in samples:
        if s.get(key) is not None:
            windows.setdefault(int(s["t_s"] // window_s), []).append(s[key])
    # a window of a few samples (the last, after the producer stopped) has no trough to show
    return [round(min(windows[w]), 1) for w in sorted(windows) if len(windows[w]) >= 5]


def latency_per_minute(dsn: str, job_name: str) -> list[dict]:
    """p50, p95 and max of committed_at - produced_at per minute of commits."""
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "WITH lag AS (SELECT l.committed_at,"
            " EXTRACT(EPOCH FROM l.committed_at - m.event_produced_at) AS s"
            " FROM movies.imdb_movies_rating m JOIN movies.batch_ledger l"
            " ON l.job_name = m.last_job AND l.batch_id = m.last_batch_id WHERE m.last_job = %s)"
            " SELECT date_trunc('minute', committed_at), COUNT(*),"
            " percentile_cont(0.5) WITHIN GROUP (ORDER BY s),"
            " percentile_cont(0.95) WITHIN GROUP (ORDER BY s), MAX(s)"
            " FROM lag GROUP BY 1 ORDER BY 1",
            (job_name,),
        ).fetchall()  # fmt: skip
    start = rows[0][0] if rows else None
    return [
        {"minute": int((r[0] - start).total_seconds() // 60), "movies": r[1],
         "p50_s": round(float(r[2]), 3), "p95_s": round(float(r[3]), 3), "max_s": round(float(r[4]), 3)}
        for r in rows
    ]  # fmt: skip


# --- 1. soak ------------------------------------------------------------------------------------


def soak(dsn: str, seconds: int, rate: int) -> dict:
    csv_path = generated_csv("soak", rate * seconds, seed=31, defect_rate=0.05)
    stream = fresh_stream()
    bucket = own_bucket("soak")
    run_dir = WORK / f"soak-{uuid.uuid4().hex[:6]}"
    job_name = f"bench-soak-{run_dir.name}"
    checkpoint = run_dir / "checkpoint"
    samples: list[dict] = []
    args = [
        "--stream-name", stream, "--job-name", job_name, "--checkpoint", str(checkpoint),
        "--warehouse-dsn", dsn, "--bucket", bucket, "--starting-position", "trim_horizon",
        "--status-file", str(run_dir / "status.json"),
    ]  # fmt: skip
    try:
        proc = start_local_job(args, run_dir / "job.log", dict(os.environ))
        try:
            wait_for_status(proc, run_dir / "status.json")
            print(f"soak: producing {rate:,} records/s for {seconds:,} s into {stream} ...", flush=True)
            producer = subprocess.Popen(
                [sys.executable, "-m", "moviestream", "replay", str(csv_path), "--stream-name", stream,
                 "--json", "--rate", str(rate), "--checkpoint", str(run_dir / "producer-cp.json"),
                 "--rejects", str(run_dir / "rejects.jsonl"), "--dead-letter", str(run_dir / "dead.jsonl")],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            )  # fmt: skip
            started = time.monotonic()
            samples += sample_while_producing(producer, proc, checkpoint, dsn, job_name)
            if producer.returncode != 0:
                raise RuntimeError(f"the producer failed (exit {producer.returncode})")
            sent = json.loads(producer.stdout.read().strip().splitlines()[-1])["user_records_sent"]
            wait_accounted(proc, dsn, job_name, sent, 600, "soak tail")
            samples.append(sample(proc.pid, checkpoint, dsn, job_name, time.monotonic() - started))
        finally:
            stop_job(proc)
        totals = ledger_totals(dsn, job_name)
        bad = bad_record_lines(bucket)
    finally:
        delete_stream(stream)
        remove_bucket(bucket)
    if totals.records_in != sent or totals.bad != bad:
        raise RuntimeError(f"counts do not add up: sent {sent}, ledger {totals}, bad record lines {bad}")
    warm_up = min(300.0, seconds / 3)  # Spark's first batches, the JIT, caches filling
    growth_keys = (
        "driver_rss_mb", "jvm_rss_mb", "jvm_heap_used_mb", "jvm_metaspace_used_mb", "workers_rss_mb",
        "total_rss_mb",
        "checkpoint_mb", "checkpoint_files",
    )  # fmt: skip
    latency = latency_per_minute(dsn, job_name)
    return {
        "seconds": seconds,
        "rate_records_per_s": rate,
        "records_sent": sent,
        "ledger": {
            "records_in": totals.records_in,
            "good": totals.good,
            "bad": totals.bad,
            "duplicates": totals.duplicates,
            "batches": totals.batches,
        },  # fmt: skip
        "bad_record_lines": bad,
        "warm_up_s": warm_up,
        "growth_per_hour": {k: slope_per_hour(samples, k, warm_up) for k in growth_keys},
        "ledger_rows_per_hour": slope_per_hour(samples, "ledger_rows", warm_up),
        "jvm_heap_floor_mb_per_5_min": floor_per_window(samples, "jvm_heap_used_mb"),
        "first_after_warm_up": next((s for s in samples if s["t_s"] >= warm_up), samples[-1]),
        "last": samples[-1],
        "latency_per_minute": latency,
        "samples": samples,
        "job_log": str(run_dir / "job.log"),
    }


def sample_while_producing(
    producer: subprocess.Popen, job: subprocess.Popen, checkpoint: Path, dsn: str, job_name: str
) -> list[dict]:
    """A sample every SAMPLE_S seconds while the producer runs, each printed as it is taken."""
    samples: list[dict] = []
    started = time.monotonic()
    while producer.poll() is None:
        if job.poll() is not None:
            producer.kill()
            raise RuntimeError(f"the job exited with code {job.returncode}")
        samples.append(sample(job.pid, checkpoint, dsn, job_name, time.monotonic() - started))
        last = samples[-1]
        print(
            f"  {last['t_s']:7.0f} s  records {last['records_committed']:>9,}  batches"
            f" {last['ledger_rows']:>5,}  driver {last['driver_rss_mb']:6.0f} MiB  JVM"
            f" {last['jvm_rss_mb']:6.0f} MiB (heap {last['jvm_heap_used_mb'] or 0:5.0f})  workers"
            f" {last['workers_rss_mb']:5.0f} MiB  checkpoint {last['checkpoint_mb']:6.2f} MB"
            f" / {last['checkpoint_files']:,} files",
            flush=True,
        )
        time.sleep(max(0.0, SAMPLE_S - (time.monotonic() - started - last["t_s"])))
    return samples


def sample(pid: int, checkpoint: Path, dsn: str, job_name: str, t_s: float) -> dict:
    memory = tree_memory(pid)
    size, files = folder_size(checkpoint)
    totals = ledger_totals(dsn, job_name)
    return {
        "t_s": round(t_s, 1),
        **{k: round(v, 1) for k, v in memory.items() if k.endswith("_mb")},
        **jvm_gc(memory["jvm_pid"]),
        "checkpoint_mb": round(size / 1e6, 3),
        "checkpoint_files": files,
        "ledger_rows": totals.batches,
        "records_committed": totals.records_in,
    }


# --- 2. backfill scale --------------------------------------------------------------------------


def backfill_at(dsn: str, rows: int) -> dict:
    csv_path = WORK / f"backfill-{rows}.csv"
    if not csv_path.exists():
        from moviestream.core.generate import generate

        print(f"generating {rows:,} rows into {csv_path}", flush=True)
        generate(csv_path, rows, seed=7, defect_rate=0.05)
    bucket = own_bucket("soak")
    print(f"backfill: {rows:,} rows ({csv_path.stat().st_size / 1e6:.0f} MB) ...", flush=True)
    started = time.perf_counter()
    argv, env = backfill_command(csv_path, dsn, bucket)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
    try:
        with PeakRss(proc.pid) as peak:
            out, _ = proc.communicate()
        seconds = time.perf_counter() - started
    finally:
        remove_bucket(bucket)
    if proc.returncode != 0:
        raise RuntimeError(f"the backfill of {rows:,} rows failed (exit {proc.returncode})")
    summary = json.loads(out.strip().splitlines()[-1])
    if summary["good_records"] + summary["bad_records"] + summary["rejected_rows"] != rows:
        raise RuntimeError(f"counts do not add up: {summary}")
    raw = raw_copy_seconds(dsn, csv_path)
    result = {
        "rows": rows,
        "seconds": round(seconds, 2),
        "seconds_in_job": summary["seconds"],
        "rows_per_s": round(rows / seconds),
        "raw_copy_s": round(raw, 3),
        "seconds_over_raw_copy": round(seconds / raw, 1),
        "peak_rss_mb": {k: round(v, 1) for k, v in peak.peak.items() if k.endswith("_mb")},
        "chunks": summary["chunks_loaded"],
        # (seconds, driver, JVM, total RSS in MiB) every 2 s: a leak shows as a rising floor
        "rss_mb_series": peak.series[::4],
    }
    print(
        f"  {rows:,} rows: {result['seconds']} s ({result['rows_per_s']:,} rows/s,"
        f" {result['seconds_over_raw_copy']}x its raw COPY),"
        f" peak RSS {result['peak_rss_mb']['total_rss_mb']:,.0f} MiB",
        flush=True,
    )
    return result


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    admin = warehouse_dsn()
    # Databases of their own, so the user's warehouse is untouched; one per backfill size, so
    # every size loads all inserts into empty tables.
    database, dsn = fresh_database(admin)
    try:
        soaked = soak(dsn, SOAK_SECONDS, SOAK_RATE)
    finally:
        drop_database(admin, database)
    scale = []
    for rows in BACKFILL_ROWS:
        database, dsn = fresh_database(admin)
        try:
            scale.append(backfill_at(dsn, rows))
        finally:
            drop_database(admin, database)
    smallest = scale[0]
    report = {
        "soak_seconds": soaked["seconds"],
        "soak_rate_records_per_s": soaked["rate_records_per_s"],
        "growth_per_hour": soaked["growth_per_hour"],
        "backfill": scale,
        # the job's time per row (after Spark's start) relative to the smallest size's: 1.0 is linear
        "backfill_seconds_per_row_vs_smallest": [
            round((b["seconds_in_job"] / b["rows"]) / (smallest["seconds_in_job"] / smallest["rows"]), 2)
            for b in scale
        ],
        "soak": soaked,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    growth = soaked["growth_per_hour"]
    first, last = soaked["first_after_warm_up"], soaked["last"]
    print(f"\nsoak: {soaked['records_sent']:,} records at {SOAK_RATE:,}/s over {SOAK_SECONDS:,} s,"
          f" {soaked['ledger']['batches']:,} batches; all accounted for")  # fmt: skip
    for key, value in growth.items():
        print(f"  {key:18} after warm-up {first.get(key)} -> end {last.get(key)}; slope {value} per hour")
    lat = soaked["latency_per_minute"]
    if lat:
        print(f"  latency p50 first minute {lat[0]['p50_s']} s, last minute {lat[-1]['p50_s']} s")
    for b, ratio in zip(scale, report["backfill_seconds_per_row_vs_smallest"], strict=True):
        print(f"backfill {b['rows']:>9,} rows: {b['seconds']:7.1f} s"
              f" ({b['seconds_in_job']} s after Spark's start), {ratio}x the smallest's time per row,"
              f" peak RSS {b['peak_rss_mb']['total_rss_mb']:,.0f} MiB")  # fmt: skip
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
