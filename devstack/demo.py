"""``make demo``: the whole pipeline on one machine, from CSV to warehouse, with a final JSON line.

Steps: start the streaming job (fresh checkpoint, reading from "now"), replay the CSV, wait until
every record sent is accounted for in the ledger (good + bad), stop the job, print a summary, the
top of a view, and one JSON object as the last line. Exit 1 when records are unaccounted for.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

from devstack.jobs import ledger_totals, start_local_job, stop_job, wait_for_status
from devstack.stack import REPO_ROOT, StackConfig
from moviestream.config import resource_names
from moviestream.quality.dqdl import DqdlSyntaxError, parse_ruleset
from producer.csv_source import InputError, check_input
from redshift.catalog import CHECKS, VIEWS_BY_NAME
from redshift.warehouse import query_rows

console = Console(stderr=True, soft_wrap=True, highlight=False)  # one line per message, never wrapped


def run_demo(cfg: StackConfig, data: Path, rules: Path, timeout_s: float = 300.0) -> int:
    """Run end to end and print; the exit code says whether every record was accounted for."""
    code, result = run_end_to_end(cfg, data, rules, timeout_s)
    if result:
        public = {k: v for k, v in result.items() if k not in ("stream_id", "job_name", "run_dir")}
        print(json.dumps(public), flush=True)
    return code


def run_end_to_end(
    cfg: StackConfig, data: Path, rules: Path, timeout_s: float = 300.0, health_page: Path | None = None
) -> tuple[int, dict]:
    """Job + replay + wait + stop + the health page (``health_page``, default reports/health.html).
    Returns (exit code, result with the stream id for inspection)."""
    started = time.monotonic()
    env = dict(os.environ) | cfg.env()
    run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
    run_dir = cfg.state_dir / "demo" / run_id
    run_dir.mkdir(parents=True, exist_ok=True)
    status_file = run_dir / "job.json"
    job_log = run_dir / "job.log"
    job_name = "moviestream-demo"
    for path, what in ((data, "data file"), (rules, "ruleset file")):
        if not path.is_file():
            console.print(f"error: {what} not found: {path}")
            return 2, {}
    # Fail in one line, before starting anything, on input the job or producer would refuse.
    try:
        parse_ruleset(rules.read_text(encoding="utf-8"))
        check_input(str(data))
    except (DqdlSyntaxError, InputError, UnicodeDecodeError) as exc:
        where = rules if isinstance(exc, (DqdlSyntaxError, UnicodeDecodeError)) else data
        console.print(f"error: {where}: {exc}" if not isinstance(exc, InputError) else f"error: {exc}")
        return 2, {}

    console.print(f"[bold]1/4[/] starting the streaming job (log: {job_log})")
    job = start_local_job(
        [
            "--job-name",
            job_name,
            "--ruleset",
            str(rules),
            "--checkpoint",
            str(run_dir / "checkpoint"),
            "--starting-position",
            f"at_timestamp:{time.time() - 1:.3f}",
            "--status-file",
            str(status_file),
            "--trigger-seconds",
            "1",
            # One synthetic round: the demo's few batches are not worth a longer warm-up.
            "--warm-up-rounds",
            "1",
        ],
        job_log,
        env,
    )
    try:
        # The job reads from a timestamp taken before it started, so the replay can run while
        # Spark starts up; the stream id (for the ledger) is read afterwards.
        console.print(f"[bold]2/4[/] replaying {data}")
        replay = subprocess.run(
            [
                sys.executable,
                "-m",
                "producer",
                "replay",
                str(data),
                "--json",
                "--rejects",
                str(run_dir / "rejects.jsonl"),
                "--dead-letter",
                str(run_dir / "dead-letter.jsonl"),
                "--checkpoint",
                str(run_dir / "producer-checkpoint.json"),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if replay.returncode == 2:
            console.print(
                replay.stderr.strip().splitlines()[-1] if replay.stderr.strip() else "error: replay failed"
            )
            return 2, {}
        summary = json.loads(replay.stdout.strip().splitlines()[-1])
        sent = summary["user_records_sent"]
        console.print(
            f"    rows read {summary['rows_read']}, rejected {summary['rows_rejected']}, "
            f"sent {sent} user records in {summary['kinesis_records']} Kinesis records "
            f"({summary['api_calls']} PutRecords calls, {summary['retries']} retries)"
        )
        try:
            stream_id = wait_for_status(job, status_file)
        except RuntimeError as exc:
            console.print(f"error: {exc}, see {job_log}")
            for line in job_log.read_text(errors="replace").strip().splitlines()[-3:]:
                console.print(f"  {line}")
            return 1, {}

        console.print(
            "[bold]3/4[/] waiting until every record sent is in the warehouse or the bad-records store"
        )
        good = bad = batches = dups = 0
        wait_deadline = time.monotonic() + timeout_s
        last_shown = -1
        while time.monotonic() < wait_deadline:
            totals = ledger_totals(cfg.warehouse_dsn, job_name, stream_id)
            good, bad, batches, dups = totals.good, totals.bad, totals.batches, totals.duplicates
            if good + bad != last_shown:
                console.print(
                    f"    accounted {good + bad}/{sent} (good {good}, bad {bad}, batches {batches})"
                )
                last_shown = good + bad
            if good + bad >= sent or job.poll() is not None:
                break
            time.sleep(1)
    finally:
        console.print("[bold]4/4[/] stopping the streaming job")
        stop_job(job)

    with psycopg.connect(cfg.warehouse_dsn) as conn:
        warehouse_rows = conn.execute(
            "SELECT COUNT(DISTINCT movie_id) FROM movies.imdb_movies_rating"
        ).fetchone()[0]
        top = conn.execute(
            "SELECT series_title, released_year, imdb_rating, no_of_votes FROM movies.top_rated"
            f" ORDER BY {VIEWS_BY_NAME['top_rated'].order_by} LIMIT 5"
        ).fetchall()
    table = Table(title="movies.top_rated (first 5; more: make query VIEW=top_rated)")
    for col in ("title", "year", "rating", "votes"):
        table.add_column(col)
    for r in top:
        table.add_row(*[str(v) for v in r])
    console.print(table)
    # The warehouse's post-load checks (what `python -m redshift check` runs).
    failed_checks = [c.name for c in CHECKS if query_rows(cfg.warehouse_dsn, c.sql)[1][0][0]]
    console.print(
        f"post-load checks: {len(CHECKS) - len(failed_checks)}/{len(CHECKS)} ok"
        + (f" (failed: {', '.join(failed_checks)})" if failed_checks else "")
    )
    # Records the producer could not deliver after every retry are in the dead-letter file, not
    # lost, but they did not reach the pipeline: the run is not OK.
    ok = good + bad == sent and summary["dead_lettered"] == 0 and not failed_checks
    notes = []
    if good + bad != sent:
        notes.append(f"unaccounted {sent - good - bad}")
    if failed_checks:
        notes.append(f"post-load checks failed: {', '.join(failed_checks)}")
    if summary["dead_lettered"]:
        notes.append(f"{summary['dead_lettered']} not delivered, see {run_dir / 'dead-letter.jsonl'}")
    if summary["rows_rejected"]:
        notes.append(f"{summary['rows_rejected']} unreadable rows not sent, see {summary['rejects_file']}")
    console.print(
        f"{'OK' if ok else 'MISMATCH'}: sent {sent} = good {good} + bad {bad}"
        + (f" ({'; '.join(notes)})" if notes else "")
        + f"; {warehouse_rows} distinct movies in movies.imdb_movies_rating; "
        f"bad records under s3://{resource_names()['bucket_name']}/bad_records/; job log {job_log}"
    )
    page = write_health_page(cfg, env, job_name, health_page or HEALTH_PAGE)
    result = {
        "sent": sent,
        "good_records": good,
        "bad_records": bad,
        "warehouse_rows": warehouse_rows,
        "batches": batches,
        "seconds": round(time.monotonic() - started, 1),
        "rows_rejected_by_producer": summary["rows_rejected"],
        "dead_lettered": summary["dead_lettered"],
        "duplicates_dropped": dups,
        "stream_id": stream_id,
        "job_name": job_name,
        "run_dir": str(run_dir),
        "health_page": str(page) if page else None,
    }
    return (0 if ok else 1), result


HEALTH_PAGE = REPO_ROOT / "reports" / "health.html"


def write_health_page(cfg: StackConfig, env: dict[str, str], job_name: str, out: Path) -> Path | None:
    """The health page of the demo's job (python -m health), its path printed; a page that cannot
    be written is reported, and the demo's outcome stands."""
    page = subprocess.run(
        [sys.executable, "-m", "health", "--job", job_name, "--out", str(out)],
        env=env | {"MOVIESTREAM_WAREHOUSE_DSN": cfg.warehouse_dsn},
        capture_output=True,
        text=True,
        check=False,
    )
    if page.returncode != 0:
        console.print(f"health page not written: {(page.stderr.strip().splitlines() or ['?'])[-1]}")
        return None
    console.print(f"health page: {out} (open it in a browser; make dashboard WATCH=5 keeps it current)")
    return out
