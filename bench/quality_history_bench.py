"""`make bench-quality`, its history case: what keeping the metric history costs a batch's judging.

A ruleset with dynamic rules and DetectAnomalies (the job's default rules plus four that read
earlier runs) judges small typed batches (1,000 and 5,000 rows, cached as the job caches a
micro-batch) the way the streaming job does: the row-level results, then the rule outcomes,
compiled once. A database of the benchmark's own holds 1,000 earlier runs of history
(movies.metric_history, every metric of each run). Side by side, in one run, per batch size:
- judge: the batch's judging, history included (the job's steady state: the runs in memory);
- history in judging: what the 1,000 runs add to it (the same measured values judged with and
  without them: evaluating the dynamic numbers, walking DetectAnomalies' history);
- write: inserting the batch's metrics in a transaction (what every batch adds to its load);
- read: reading the context's newest 1,000 runs back, which a job does once, at its start.
Each figure is the median of BENCH_HISTORY_RUNS (default 15) after a warm-up. The target: the
history's cost per batch, (history in judging + write) / judge, at most 10%
(``history_over_judge``); the one-time read is reported beside it (``read_over_judge``).
Writes bench/results/quality_history.json.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

import psycopg

from bench import results_path
from bench.quality_bench import RULES, computed_frame
from bench.warehouse_bench import drop_database, fresh_database
from moviestream.core.config import warehouse_dsn
from moviestream.core.record import TYPED_COLUMNS
from moviestream.core.spark import local_session
from moviestream.quality.dqdl import parse_ruleset
from moviestream.quality.evaluate import CompiledRuleset, judge_measured
from moviestream.warehouse.contract import BatchKey, BatchLoad, history_rows
from moviestream.warehouse.postgres import insert_history_rows, read_metric_history

RESULTS = results_path("quality_history")
CONTEXT = "bench-quality-history"
HISTORY_RULES = """,
    RowCount > avg(last(10)) * 0.5,
    Completeness "director" >= avg(last(10)) - 0.1,
    DetectAnomalies "RowCount",
    DetectAnomalies "Mean" "imdb_rating"
]"""


def ruleset_with_history():
    """The job's default rules plus four that read earlier runs."""
    text = (RULES / "movies.dqdl").read_text().rstrip()
    assert text.endswith("]")
    return parse_ruleset(text[:-1].rstrip() + HISTORY_RULES)


def median_seconds(fn, runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 4)


def fill_history(dsn: str, metrics: dict[str, float], runs: int) -> None:
    """``runs`` earlier runs of CONTEXT, each with this batch's metric names (values jittered)."""
    start = datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=runs)
    rows = [
        (CONTEXT, CONTEXT, "bench", i, start + timedelta(hours=i), name, value * (1 + (i % 7 - 3) / 100))
        for i in range(runs)
        for name, value in metrics.items()
    ]
    with psycopg.connect(dsn) as conn, conn.cursor() as cur:
        insert_history_rows(cur, rows)


def main() -> None:
    sizes = [int(s) for s in os.environ.get("BENCH_HISTORY_BATCH_ROWS", "1000,5000").split(",")]
    earlier = int(os.environ.get("BENCH_HISTORY_EARLIER_RUNS", "1000"))
    runs = int(os.environ.get("BENCH_HISTORY_RUNS", "15"))
    ruleset = ruleset_with_history()
    admin = warehouse_dsn()
    database, dsn = fresh_database(admin)
    spark = local_session("moviestream-bench-quality-history")
    report: dict = {"earlier_runs": earlier, "rules": len(ruleset.rules), "batches": {}}
    try:
        for rows in sizes:
            frame = computed_frame(spark, rows).select(*TYPED_COLUMNS).persist()
            frame.count()
            compiled = CompiledRuleset(frame, ruleset, columns=TYPED_COLUMNS)
            metrics = compiled.results(frame).metrics
            with psycopg.connect(dsn) as conn:
                conn.execute("DELETE FROM movies.metric_history")
            fill_history(dsn, metrics, earlier)
            history = [metrics for _, metrics in read_metric_history(dsn, CONTEXT, 1000)]
            assert len(history) == min(earlier, 1000)

            def judge(frame=frame, compiled=compiled, history=history) -> None:
                compiled.add_row_level_results(frame).write.format("noop").mode("overwrite").save()
                outcomes = compiled.results(frame, history).rules
                assert len(outcomes) == len(ruleset.rules)

            evaluation, values = compiled.measure(frame)
            with_history = median_seconds(
                lambda e=evaluation, v=values, h=history: judge_measured(e, v, h), runs
            )
            without = median_seconds(lambda e=evaluation, v=values: judge_measured(e, v, []), runs)
            batch_ids = iter(range(earlier, earlier + 10 * runs))

            def write(metrics=metrics, batch_ids=batch_ids) -> None:
                key = BatchKey(CONTEXT, "bench", next(batch_ids))
                load = BatchLoad(key, [], [], {}, [], metrics=metrics, history_context=CONTEXT)
                with psycopg.connect(dsn) as conn, conn.transaction(), conn.cursor() as cur:
                    now = datetime.now(UTC).replace(tzinfo=None)
                    insert_history_rows(cur, history_rows(load, now))

            judge_s = median_seconds(judge, runs)
            in_judging_s = max(0.0, round(with_history - without, 4))
            read_s = median_seconds(lambda: read_metric_history(dsn, CONTEXT, 1000), runs)
            write_s = median_seconds(write, runs)
            frame.unpersist()
            figures = {
                "judge_s": judge_s,
                "history_in_judging_s": in_judging_s,
                "history_write_s": write_s,
                "history_read_once_s": read_s,
                "metrics_per_run": len(metrics),
                "history_over_judge": round((in_judging_s + write_s) / judge_s, 4),
                "read_over_judge": round(read_s / judge_s, 4),
            }
            report["batches"][str(rows)] = figures
            print(
                f"{rows:>6} rows: judge {judge_s:.3f} s; {earlier} earlier runs x {len(metrics)} metrics: "
                f"in judging {in_judging_s * 1000:.1f} ms, write {write_s * 1000:.1f} ms per batch "
                f"= {figures['history_over_judge']:.1%} of judging (target <= 10%); "
                f"read once at the job's start {read_s * 1000:.1f} ms ({figures['read_over_judge']:.1%})",
                flush=True,
            )
    finally:
        spark.stop()
        drop_database(admin, database)
    worst = max(b["history_over_judge"] for b in report["batches"].values())
    report["history_over_judge_worst"] = worst
    report["target"] = "history_over_judge <= 0.10"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"worst history cost per batch: {worst:.1%} of judging (target <= 10%)\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
