"""The materialized views kept near real time (moviestream/warehouse/views.py and
moviestream/pipeline/views_refresher.py) on the local PostgreSQL, where they are real
materialized views refreshed by the same code as on Redshift:

- a view read before a refresh is stale, read after it current; the refresher a job runs keeps it
  within the cadence, and the staleness is on the health page, in `warehouse query` and in
  CloudWatch;
- a streaming job and a backfill running together (two processes, each with its refresher) never
  refresh at the same time;
- a refresh that fails (a view dropped by hand) is a warning with an alert, and batches keep
  loading.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from click.testing import CliRunner

from moviestream.cli.warehouse import cli as warehouse_cli
from moviestream.core.config import AwsSettings
from moviestream.core.generate import generate
from moviestream.core.metrics import views_staleness_metric_data
from moviestream.devstack.jobs import ledger_totals, start_local_job, stop_job, wait_for_status
from moviestream.health.facts import read_facts
from moviestream.health.summary import page_data
from moviestream.pipeline.metrics_publisher import MetricsPublisher
from moviestream.pipeline.views_refresher import ViewsRefresher
from moviestream.warehouse.postgres import load_batch
from moviestream.warehouse.targets import open_warehouse
from tests.integration import warehouse_fixture as fx
from tests.integration.alert_route import new_alert_route
from tests.integration.cloudwatch import statistic
from tests.integration.databases import fresh_warehouse
from tests.integration.test_faults import new_stream, replay
from tests.integration.test_warehouse_views import batch
from tests.waiting import running, wait_for


def counts(dsn: str) -> tuple[int, int]:
    """(movies counted by the materialized view movies_by_decade, movies with a year in the table
    now): equal when the view is current, and every load of a movie with a year changes them."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        view = conn.execute("SELECT COALESCE(SUM(movies), 0) FROM movies.movies_by_decade").fetchone()[0]
        table = conn.execute(
            "SELECT COUNT(*) FROM movies.imdb_movies_rating WHERE released_year IS NOT NULL"
        ).fetchone()[0]
    return int(view), int(table)


def refreshes(dsn: str) -> list[tuple]:
    """movies.views_refreshes, oldest first: (refresher, started_at, finished_at, newest, ok, error)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(
            "SELECT refresher, started_at, finished_at, newest_committed_at, succeeded, error"
            " FROM movies.views_refreshes ORDER BY started_at"
        ).fetchall()


def committed_at(dsn: str, batch_id: int) -> datetime:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(
            "SELECT committed_at FROM movies.batch_ledger WHERE batch_id = %s", (batch_id,)
        ).fetchone()[0]


def test_a_view_is_stale_until_the_refresher_refreshes_it_within_the_cadence(stack):
    dsn = fresh_warehouse(stack)
    assert load_batch(dsn, batch(fx.FILMS[:24], 0, good=24, bad=0, duplicates=0))
    view, table = counts(dsn)
    assert (view, table) == (0, 24)  # the load committed; the view does not have it yet
    facts = read_facts(dsn, lambda: None, now=datetime.now(UTC).replace(tzinfo=None))
    status = page_data(facts)["status"]
    assert status["views_current"] is False and status["views_last_refresh"] is None
    note = CliRunner().invoke(warehouse_cli, ["query", "top_rated", "--dsn", dsn])
    assert note.exit_code == 0 and "top_rated: materialized, " in note.output and " s stale " in note.output

    # The refresher a job runs, publishing its staleness to (LocalStack's) CloudWatch.
    namespace = f"views-{uuid.uuid4().hex[:8]}"
    metrics = MetricsPublisher(namespace, AwsSettings())
    failures: list[str] = []
    refresher = ViewsRefresher(
        open_warehouse(dsn).views_refresh("views-test"),
        interval_s=2.0,
        on_failure=failures.append,
        publish=lambda s: metrics.publish(
            views_staleness_metric_data(s, "views-test", datetime.now(UTC)), "v"
        ),
    )
    try:
        refresher.committed(committed_at(dsn, 0))
        wait_for(lambda: counts(dsn) == (24, 24), 30, "movies_by_decade refreshed after the first commit")
        assert load_batch(dsn, batch(fx.FILMS[24:], 1, good=26, bad=0, duplicates=0))
        assert counts(dsn)[0] == 24 and counts(dsn)[1] > 24  # stale again until the next refresh
        refresher.committed(committed_at(dsn, 1))
        wait_for(
            lambda: counts(dsn)[0] == counts(dsn)[1], 30, "movies_by_decade refreshed after the second commit"
        )
        wait_for(lambda: refresher.staleness_s() == 0, 10, "the refresher knows the views are current")
        wait_for(
            lambda: statistic(namespace, "views-test", "ViewsStalenessSeconds", "SampleCount", period=60),
            60,
            "the staleness metric in CloudWatch",
        )
    finally:
        refresher.close()
        metrics.close()
    done = refreshes(dsn)
    assert [r[0] for r in done] == ["views-test", "views-test"] and all(r[4] for r in done), done
    assert [r[3] for r in done] == [committed_at(dsn, 0), committed_at(dsn, 1)]  # the newest batch each holds
    assert done[1][1] - done[0][2] >= timedelta(seconds=2) * 0.9  # the cadence: one per interval
    assert not failures
    status = page_data(read_facts(dsn, lambda: None, now=datetime.now(UTC).replace(tzinfo=None)))["status"]
    assert status["views_current"] is True and status["views_staleness_s"] == 0
    assert status["views_last_refresh_ok"] is True
    assert status["views_last_refresh_by"] == "views-test"
    note = CliRunner().invoke(warehouse_cli, ["query", "top_rated", "--dsn", dsn])
    assert "top_rated: materialized, current" in note.output

    # The command a person runs (and the demo's refresh): forced, whatever the cadence.
    out = CliRunner().invoke(warehouse_cli, ["refresh", "--dsn", dsn])
    assert out.exit_code == 0 and out.output.startswith("refreshed 5 materialized views in "), out.output


def _backfill(csv_path: Path, dsn: str, bucket: str, job_name: str, log: Path) -> subprocess.Popen:
    argv = [sys.executable, "-m", "moviestream", "backfill", str(csv_path), "--warehouse-dsn", dsn]
    argv += ["--bucket", bucket, "--job-name", job_name, "--chunk-rows", "40", "--views-refresh-seconds", "1"]
    argv += ["--as-of", "2026-01-01T00:00:00Z"]
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))


def test_a_streaming_job_and_a_backfill_refresh_one_at_a_time_and_a_failed_refresh_only_warns(
    stack, tmp_path
):
    dsn = fresh_warehouse(stack)
    bucket = f"views-{uuid.uuid4().hex[:8]}"
    AwsSettings().client("s3").create_bucket(Bucket=bucket)
    stream = new_stream()
    route = new_alert_route("views")
    streamed, history, late = (tmp_path / f"{n}.csv" for n in ("streamed", "history", "late"))
    generate(streamed, rows=300, seed=31, defect_rate=0.05)
    generate(history, rows=400, seed=32, defect_rate=0.05)
    generate(late, rows=60, seed=33, defect_rate=0.05)
    job, backfill_job = f"views-stream-{uuid.uuid4().hex[:6]}", f"views-backfill-{uuid.uuid4().hex[:6]}"
    log = tmp_path / "job.log"
    args = [
        "--stream-name", stream, "--bucket", bucket, "--job-name", job, "--warehouse-dsn", dsn,
        "--checkpoint", str(tmp_path / "checkpoint"), "--starting-position", "trim_horizon",
        "--max-records-per-batch", "50", "--trigger-seconds", "1", "--views-refresh-seconds", "1",
        "--event-bus", route.bus, "--failure-ratio-threshold", "1", "--status-file", str(tmp_path / "s.json"),
    ]  # fmt: skip
    proc = start_local_job(args, log, dict(os.environ))
    backfill_log = tmp_path / "backfill.log"
    try:
        wait_for_status(proc, tmp_path / "s.json")
        producer = replay(streamed, stream, tmp_path / "replay", rate=60)  # about 5 s of records
        backfill = _backfill(history, dsn, bucket, backfill_job, backfill_log)
        assert producer.wait(timeout=120) == 0
        assert backfill.wait(timeout=300) == 0, backfill_log.read_text()[-3000:]
        sent = json.loads(producer.stdout.read().strip().splitlines()[-1])["user_records_sent"]
        wait_for(
            lambda: running(proc, log) and ledger_totals(dsn, job).records_in >= sent, 120, "every record"
        )
        # The streaming job's refresher brings the views up to its last batch within the cadence.
        wait_for(lambda: counts(dsn)[0] == counts(dsn)[1], 30, "the views current after both jobs")
        done = refreshes(dsn)
        by = {r[0] for r in done}
        assert by == {job, backfill_job}, by  # both refreshed
        spans = sorted((r[1], r[2]) for r in done)
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False)), (
            spans
        )
        assert all(r[4] for r in done), done

        # A view dropped by hand: the refresh fails (the others still refresh), it warns and
        # alerts, and the batches keep loading.
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("DROP MATERIALIZED VIEW movies.top_actors")
        before = ledger_totals(dsn, job).records_in
        producer = replay(late, stream, tmp_path / "replay-late")
        assert producer.wait(timeout=120) == 0
        more = json.loads(producer.stdout.read().strip().splitlines()[-1])["user_records_sent"]
        wait_for(
            lambda: running(proc, log) and ledger_totals(dsn, job).records_in >= before + more, 120, "late"
        )
        failed = wait_for(lambda: [r for r in refreshes(dsn) if not r[4]], 30, "a failed refresh recorded")
        assert "movies.top_actors" in failed[0][5] and failed[0][0] == job, failed
        wait_for(lambda: counts(dsn)[0] == counts(dsn)[1], 30, "the other views still refreshed")
        alerts = wait_for(
            lambda: [m for m in route.take() if m["detail-type"] == "Views refresh failed"], 30, "the alert"
        )
        assert alerts[0]["detail"]["job"] == job and "top_actors" in alerts[0]["detail"]["error"]
        assert '"views_refresh_failed"' in log.read_text()
        s3 = AwsSettings().client("s3")
        status = page_data(read_facts(dsn, lambda: s3, now=datetime.now(UTC).replace(tzinfo=None)))["status"]
        assert status["views_last_refresh_ok"] is False and "top_actors" in status["views_last_refresh_error"]
    finally:
        assert stop_job(proc) == 0, f"the job did not stop cleanly, see {log}"
    assert ledger_totals(dsn, job).records_in == before + more  # nothing lost while refreshes failed


def test_a_lease_the_process_still_holds_after_a_failed_release_is_taken_over_not_waited_out(stack):
    """The warehouse went away mid-refresh, so this holder's release never ran: its lease row
    stays for lease_s. The same process's next refresh takes it over (it knows no refresh of its
    own is under way) instead of skipping for ten minutes; another process still sees it held.
    Within the process, a second thread's refresh waits for the first, never runs beside it."""
    import threading

    dsn = fresh_warehouse(stack)
    assert load_batch(dsn, batch(fx.FILMS[:10], 0, good=10, bad=0, duplicates=0))
    ours = open_warehouse(dsn).views_refresh("views-ours")
    theirs = open_warehouse(dsn).views_refresh("views-theirs")
    with psycopg.connect(dsn, autocommit=True) as conn:  # what a failed release leaves behind
        conn.execute(
            "UPDATE movies.views_refresh_lease SET holder = %s, lease_until = now() + interval '10 minutes'",
            (ours.holder,),
        )
    skipped = theirs.run(60, force=True)
    assert skipped.reason.startswith("held by views-ours until "), skipped
    taken = ours.run(60, force=True)
    assert taken.succeeded and counts(dsn) == (10, 10), taken

    # Thread A's refresh blocks on a table lock held elsewhere; thread B, asking meanwhile, is told
    # the process is refreshing (no wait) or waits for A (wait_s), never refreshing beside it.
    blocker = psycopg.connect(dsn)
    blocker.execute("LOCK movies.imdb_movies_rating IN ACCESS EXCLUSIVE MODE")
    first: list = []
    a = threading.Thread(target=lambda: first.append(ours.run(0, force=True)))
    a.start()
    try:
        wait_for(
            lambda: _lease_holder(dsn) == ours.holder,
            30,
            "thread A holding the lease, blocked in its refresh",
        )
        other = ours.run(0, force=True)
        assert other.reason == "held by views-ours (another thread of this process)", other
    finally:
        blocker.rollback()
        blocker.close()
        a.join(60)
    assert first and first[0].succeeded, first
    assert [r[0] for r in refreshes(dsn)] == ["views-ours", "views-ours"]


def _lease_holder(dsn: str) -> str | None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute("SELECT holder FROM movies.views_refresh_lease").fetchone()[0]
