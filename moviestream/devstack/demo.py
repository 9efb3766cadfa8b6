"""``make demo``: the whole pipeline on one machine, from CSV to warehouse, with a final JSON line.

Steps: empty the demo's own warehouse (database ``moviestream_demo``) and bad-records prefix
(``demo/`` in the bucket), start the streaming job on them (fresh checkpoint, reading from
"now"), replay the CSV, wait until every record sent is accounted for in the ledger (good + bad),
stop the job, print a summary, the top of a view, the health page's path, what to run next, and
one JSON object as the last line. Exit 1 when records are unaccounted for. Each run answers for
its own file only: the same DATA and RULES print the same counts and rows every time, and the
user's own warehouse (``make job``, ``make backfill``) is never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from rich.console import Console
from rich.table import Table

from moviestream.core.config import resource_names
from moviestream.core.csv_source import InputError, check_input
from moviestream.devstack.jobs import LedgerTotals, ledger_totals, start_local_job, stop_job, wait_for_status
from moviestream.devstack.stack import DEMO_DATABASE, REPO_ROOT, StackConfig, create_database_sql
from moviestream.quality.dqdl import DqdlSyntaxError, parse_ruleset, reads_history
from moviestream.warehouse.catalog import CHECKS, VIEWS_BY_NAME
from moviestream.warehouse.targets import apply_schema, open_warehouse, query_rows
from moviestream.warehouse.views import Refreshed

DEMO_PREFIX = "demo"  # the demo's bad records and rule outcomes: s3://<bucket>/demo/...
DEMO_BATCH_RECORDS = 600  # the job's cap per micro-batch: the 3,201 films are six batches
CERTIFICATES = REPO_ROOT / "data" / "references" / "certificates.csv"

console = Console(stderr=True, soft_wrap=True, highlight=False)  # one line per message, never wrapped


def run_demo(cfg: StackConfig, data: Path, rules: Path, timeout_s: float = 300.0) -> int:
    """Run end to end and print; the exit code says whether every record was accounted for."""
    code, result = run_end_to_end(cfg, data, rules, timeout_s)
    if result:
        public = {k: v for k, v in result.items() if k not in ("stream_id", "job_name", "run_dir")}
        print(json.dumps(public), flush=True)
    return code


class DemoStopped(Exception):
    """The demo cannot go on; ``code`` is its exit code (2: bad input, 1: the job failed)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def run_end_to_end(
    cfg: StackConfig, data: Path, rules: Path, timeout_s: float = 300.0, health_page: Path | None = None
) -> tuple[int, dict]:
    """Job + replay + wait + stop + the health page (``health_page``, default reports/health.html).
    Returns (exit code, result with the stream id for inspection)."""
    demo = Demo(cfg, data, rules)
    try:
        demo.check_inputs()
        dsn = reset_demo_target(cfg)
        job = demo.start_job(dsn)
        try:
            summary = demo.replay()
            stream_id = demo.stream_id(job)
            totals = demo.wait_accounted(dsn, stream_id, summary["user_records_sent"], job, timeout_s)
        finally:
            console.print("[bold]4/4[/] stopping the streaming job")
            stop_job(job)
    except DemoStopped as stopped:
        return stopped.code, {}
    return demo.report(dsn, summary, totals, stream_id, health_page or HEALTH_PAGE)


class Demo:
    """One run of the demo: its own job name, run folder (logs, checkpoint, rejects), and steps."""

    job_name = "moviestream-demo"

    def __init__(self, cfg: StackConfig, data: Path, rules: Path) -> None:
        self.cfg, self.data, self.rules = cfg, data, rules
        self.started = time.monotonic()
        self.env = dict(os.environ) | cfg.env()
        run_id = time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self.run_dir = cfg.state_dir / "demo" / run_id
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.status_file = self.run_dir / "job.json"
        self.job_log = self.run_dir / "job.log"

    def check_inputs(self) -> None:
        """Fail in one line, before starting anything, on input the job or producer would refuse."""
        for path, what in ((self.data, "data file"), (self.rules, "ruleset file")):
            if not path.is_file():
                console.print(f"error: {what} not found: {path}")
                raise DemoStopped(2)
        try:
            parse_ruleset(self.rules.read_text(encoding="utf-8"))
            check_input(str(self.data))
        except InputError as exc:
            console.print(f"error: {exc}")
            raise DemoStopped(2) from None
        except (DqdlSyntaxError, UnicodeDecodeError) as exc:
            console.print(f"error: {self.rules}: {exc}")
            raise DemoStopped(2) from None

    def start_job(self, dsn: str) -> subprocess.Popen:
        console.print(f"[bold]1/4[/] starting the streaming job (log: {self.job_log})")
        args = {
            "--job-name": self.job_name,
            "--warehouse-dsn": dsn,
            "--bad-records-prefix": f"{DEMO_PREFIX}/bad_records",
            "--rule-outcomes-prefix": f"{DEMO_PREFIX}/rule_outcomes",
            "--ruleset": str(self.rules),
            "--checkpoint": str(self.run_dir / "checkpoint"),
            # The job reads from a timestamp taken before it started, so the replay can run while
            # Spark starts up; the stream id (for the ledger) is read afterwards.
            "--starting-position": f"at_timestamp:{time.time() - 1:.3f}",
            "--status-file": str(self.status_file),
            "--trigger-seconds": "1",
            # One synthetic round: the demo's few batches are not worth a longer warm-up.
            "--warm-up-rounds": "1",
            # Batches of DEMO_BATCH_RECORDS (the replay sends one film per Kinesis record), so the
            # rules that compare a batch with earlier ones have earlier batches of this run.
            "--max-records-per-batch": str(DEMO_BATCH_RECORDS),
            # The shipped reference list, for rules that compare with it (demo_films.dqdl's
            # ReferentialIntegrity); a ruleset that does not use it ignores it.
            "--ref": f"certificates={CERTIFICATES}",
        }
        return start_local_job([item for pair in args.items() for item in pair], self.job_log, self.env)

    def replay(self) -> dict[str, Any]:
        """The data into the stream, one record per row; the producer's summary."""
        console.print(f"[bold]2/4[/] replaying {self.data}")
        replay = subprocess.run(
            [
                *(sys.executable, "-m", "moviestream", "replay", str(self.data), "--json", "--no-aggregate"),
                *("--rejects", str(self.run_dir / "rejects.jsonl")),
                *("--dead-letter", str(self.run_dir / "dead-letter.jsonl")),
                *("--checkpoint", str(self.run_dir / "producer-checkpoint.json")),
            ],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if replay.returncode == 2:
            stderr = replay.stderr.strip()
            console.print(stderr.splitlines()[-1] if stderr else "error: replay failed")
            raise DemoStopped(2)
        summary: dict[str, Any] = json.loads(replay.stdout.strip().splitlines()[-1])
        console.print(
            f"    rows read {summary['rows_read']}, rejected {summary['rows_rejected']}, "
            f"sent {summary['user_records_sent']} user records in {summary['kinesis_records']} Kinesis "
            f"records ({summary['api_calls']} PutRecords calls, {summary['retries']} retries)"
        )
        return summary

    def stream_id(self, job: subprocess.Popen) -> str:
        try:
            return wait_for_status(job, self.status_file)
        except RuntimeError as exc:
            console.print(f"error: {exc}, see {self.job_log}")
            for line in self.job_log.read_text(errors="replace").strip().splitlines()[-3:]:
                console.print(f"  {line}")
            raise DemoStopped(1) from None

    def wait_accounted(
        self, dsn: str, stream_id: str, sent: int, job: subprocess.Popen, timeout_s: float
    ) -> LedgerTotals:
        """Poll the ledger until every record sent is good or bad (or the job ended, or time is up)."""
        console.print(
            "[bold]3/4[/] waiting until every record sent is in the warehouse or the bad-records store"
        )
        deadline = time.monotonic() + timeout_s
        last_shown = -1
        while True:
            totals = ledger_totals(dsn, self.job_name, stream_id)
            accounted = totals.good + totals.bad
            if accounted != last_shown:
                console.print(
                    f"    accounted {accounted}/{sent} (good {totals.good}, bad {totals.bad}, "
                    f"batches {totals.batches})"
                )
                last_shown = accounted
            if accounted >= sent or job.poll() is not None or time.monotonic() >= deadline:
                return totals
            time.sleep(1)

    def report(
        self, dsn: str, summary: dict[str, Any], totals: LedgerTotals, stream_id: str, health_page: Path
    ) -> tuple[int, dict]:
        """Print what the run did and return (exit code, result)."""
        refreshed = open_warehouse(dsn).views_refresh("demo").run(0.0, force=True, wait_s=60.0)
        if isinstance(refreshed, Refreshed) and refreshed.succeeded:
            console.print(f"views refreshed: {refreshed.views} materialized, in {refreshed.seconds:.1f} s")
        else:  # shown, not fatal: top_rated below is then as of the jobs' last refresh
            why = refreshed.error if isinstance(refreshed, Refreshed) else refreshed.reason
            console.print(f"views NOT refreshed: {why}")
        movies, warehouse_rows = self._print_top_rated(dsn)
        history_rules = _history_rule_outcomes(
            dsn, self.job_name, parse_ruleset(self.rules.read_text("utf-8"))
        )
        # The warehouse's post-load checks (what `moviestream warehouse check` runs).
        failed_checks = [c.name for c in CHECKS if query_rows(dsn, c.sql)[1][0][0]]
        console.print(
            f"post-load checks: {len(CHECKS) - len(failed_checks)}/{len(CHECKS)} ok"
            + (f" (failed: {', '.join(failed_checks)})" if failed_checks else "")
        )
        sent, good, bad = summary["user_records_sent"], totals.good, totals.bad
        # Records the producer could not deliver after every retry are in the dead-letter file, not
        # lost, but they did not reach the pipeline: the run is not OK.
        ok = good + bad == sent and summary["dead_lettered"] == 0 and not failed_checks
        notes = self._notes(summary, totals, failed_checks)
        console.print(
            f"{'OK' if ok else 'MISMATCH'}: sent {sent} = good {good} + bad {bad}"
            + (f" ({'; '.join(notes)})" if notes else "")
            + f"; {movies} distinct movies from this run ({warehouse_rows} rows in the demo's warehouse); "
            f"job log {self.job_log}"
        )
        quarantined = self._print_quarantine(dsn)
        page = write_health_page(dsn, self.env, self.job_name, health_page)
        _print_next_steps(page or health_page)
        result = {
            "sent": sent,
            "good_records": good,
            "bad_records": bad,
            "movies": movies,
            "warehouse_rows": warehouse_rows,
            "batches": totals.batches,
            "seconds": round(time.monotonic() - self.started, 1),
            "rows_rejected_by_producer": summary["rows_rejected"],
            "dead_lettered": summary["dead_lettered"],
            "duplicates_dropped": totals.duplicates,
            "stream_id": stream_id,
            "job_name": self.job_name,
            "run_dir": str(self.run_dir),
            "health_page": str(page) if page else None,
            "history_rules": history_rules,
            "quarantined_open": quarantined,
        }
        return (0 if ok else 1), result

    def _print_quarantine(self, dsn: str) -> int:
        """How many of this run's bad records wait in the quarantine index, and how to see them."""
        with psycopg.connect(dsn) as conn:
            waiting = _count(
                conn,
                "SELECT COUNT(*) FROM movies.quarantine WHERE job_name = %s AND status = 'open'",
                (self.job_name,),
            )
        console.print(
            f"quarantine: {waiting} records open; list them: make quarantine DB=demo"
            f" (moviestream quarantine list --job {self.job_name})"
        )
        return waiting

    def _print_top_rated(self, dsn: str) -> tuple[int, int]:
        """The view's first rows; (this run's distinct movies, the warehouse's rows). The demo's
        warehouse starts empty, so the two agree unless something else wrote to it."""
        with psycopg.connect(dsn) as conn:
            movies = _count(
                conn, "SELECT COUNT(*) FROM movies.imdb_movies_rating WHERE last_job = %s", (self.job_name,)
            )
            warehouse_rows = _count(conn, "SELECT COUNT(*) FROM movies.imdb_movies_rating")
            top = conn.execute(
                "SELECT series_title, released_year, imdb_rating, no_of_votes FROM movies.top_rated"
                f" ORDER BY {VIEWS_BY_NAME['top_rated'].order_by} LIMIT 5"
            ).fetchall()
        table = Table(title="movies.top_rated (first 5; more: make query DB=demo VIEW=top_rated)")
        for col in ("title", "year", "rating", "votes"):
            table.add_column(col)
        for r in top:
            table.add_row(*[str(v) for v in r])
        console.print(table)
        return movies, warehouse_rows

    def _notes(self, summary: dict[str, Any], totals: LedgerTotals, failed_checks: list[str]) -> list[str]:
        notes = []
        unaccounted = summary["user_records_sent"] - totals.good - totals.bad
        if unaccounted:
            notes.append(f"unaccounted {unaccounted}")
        if failed_checks:
            notes.append(f"post-load checks failed: {', '.join(failed_checks)}")
        if summary["dead_lettered"]:
            notes.append(
                f"{summary['dead_lettered']} not delivered, see {self.run_dir / 'dead-letter.jsonl'}"
            )
        if summary["rows_rejected"]:
            notes.append(
                f"{summary['rows_rejected']} unreadable rows not sent, see {summary['rejects_file']}"
            )
        return notes


def _print_next_steps(page: Path) -> None:
    bad_uri = f"s3://{resource_names()['bucket_name']}/{DEMO_PREFIX}/bad_records/"
    console.print("next:")
    console.print(
        "  make query DB=demo VIEW=top_rated   # the demo's warehouse (moviestream warehouse views)"
    )
    console.print(f"  make dashboard DB=demo              # the health page again: {page}")
    console.print(
        "  make quarantine DB=demo             # the bad records, with their reasons (show ID: each one)"
    )
    console.print(f"  bad records' files in S3:           {bad_uri}")
    console.print("  make down                           # stop the local stack")


def _history_rule_outcomes(dsn: str, job_name: str, ruleset) -> dict[str, list[int]]:
    """Rules that compare a batch with earlier batches (dynamic numbers, DetectAnomalies): how
    many of this run's batches each passed, printed with the first failure's reason."""
    texts = [node.render() for node in ruleset.rules if reads_history(node)]
    if not texts:
        return {}
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT rule, batch_id, outcome, failure_reason FROM movies.rule_outcomes"
            " WHERE job_name = %s AND rule = ANY(%s) ORDER BY batch_id",
            (job_name, texts),
        ).fetchall()
    summary: dict[str, list[int]] = {}
    console.print("rules judged against this run's earlier batches:")
    for text in texts:
        mine = [r for r in rows if r[0] == text]
        passed = sum(1 for r in mine if r[2] == "Passed")
        summary[text] = [passed, len(mine)]
        failed = next((r for r in mine if r[2] != "Passed"), None)
        detail = f"; batch {failed[1]}: {failed[3]}" if failed else ""
        console.print(f"  {text}: passed {passed}/{len(mine)} batches{detail}")
    return summary


HEALTH_PAGE = REPO_ROOT / "reports" / "health.html"


def reset_demo_target(cfg: StackConfig) -> str:
    """Empty the demo's warehouse (drop and create moviestream_demo, apply the schema) and its
    prefix in the bucket; returns the warehouse's DSN."""
    with psycopg.connect(cfg.dsn_of("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DEMO_DATABASE}" WITH (FORCE)')
        conn.execute(create_database_sql(DEMO_DATABASE))
    apply_schema(cfg.demo_dsn)
    s3 = cfg.client("s3")
    bucket = resource_names()["bucket_name"]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{DEMO_PREFIX}/"):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    return cfg.demo_dsn


def write_health_page(dsn: str, env: dict[str, str], job_name: str, out: Path) -> Path | None:
    """The health page of the demo's job (moviestream health), its path printed; a page that cannot
    be written is reported, and the demo's outcome stands."""
    page = subprocess.run(
        [sys.executable, "-m", "moviestream", "health", "page", "--job", job_name, "--out", str(out)],
        env=env | {"MOVIESTREAM_WAREHOUSE_DSN": dsn},
        capture_output=True,
        text=True,
        check=False,
    )
    if page.returncode != 0:
        console.print(f"health page not written: {(page.stderr.strip().splitlines() or ['?'])[-1]}")
        return None
    console.print(f"health page: {out} (open it in a browser)")
    return out


def _count(conn: psycopg.Connection, query: str, params: tuple = ()) -> int:
    row = conn.execute(query, params).fetchone()
    assert row is not None  # COUNT(*) has one row
    return int(row[0])
