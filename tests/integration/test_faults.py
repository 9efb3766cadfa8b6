"""The pipeline rides out real faults (moviestream/core/failure.py) and loses nothing.

- One streaming job through throttled Kinesis reads (a real proxy), the test stack's real
  PostgreSQL stopped, then S3 and Kinesis unreachable (real proxies refusing connections), each
  until the job reports the outage degraded: it never exits and reports each outage of a batch's writes degraded
  once and recovered once.
- The backfill while the warehouse goes away in the middle of a file: it pauses and completes
  with the same warehouse as a run without the fault.
- Then, in the same job, a permanent error (a table the load needs is gone): it exits with one line and an alert,
  its checkpoint does not pass the batch, and after the fix a restart loads everything once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from moviestream.core.config import AwsSettings
from moviestream.core.csv_source import Row, read_rows
from moviestream.core.envelope import EnvelopeEncoder
from moviestream.core.generate import generate
from moviestream.devstack.jobs import ledger_totals, start_local_job, stop_job, wait_for_status
from moviestream.devstack.stack import Postgres
from tests.integration.alert_route import AlertRoute, new_alert_route
from tests.integration.databases import fresh_warehouse
from tests.integration.streaming_runs import wait_until_settled
from tests.waiting import running
from tests.waiting import wait_for as wait_until

JOB_TIMEOUT_S = 240


@dataclass(frozen=True)
class Expected:
    """What the input file says must come out: every sent row's event id and movie id."""

    movie_of_event: dict[str, str]


def expected_from(csv_path: Path) -> Expected:
    encoder: EnvelopeEncoder | None = None
    movies: dict[str, str] = {}
    with csv_path.open("rb") as stream:
        items = list(read_rows(stream, str(csv_path)))
    for item in items:
        if not isinstance(item, Row):
            continue  # unreadable rows are the producer's rejects, never sent
        if encoder is None:
            encoder = EnvelopeEncoder(csv_path.name, item.header)
        key, envelope = encoder.encode(item.row_number, item.values, "2026-01-01T00:00:00.000Z")
        movies[json.loads(envelope)["event_id"]] = key
    return Expected(movies)


def bad_event_ids(bucket: str, job_name: str) -> list[str]:
    s3 = AwsSettings().client("s3")
    ids = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="bad_records/"):
        for obj in page.get("Contents", []):
            if f"/job={job_name}/" in obj["Key"]:
                body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read()
                ids += [json.loads(line)["event_id"] for line in body.splitlines() if line.strip()]
    return ids


def assert_exactly_once(expected: Expected, dsn: str, bucket: str, job_name: str) -> None:
    """Every sent record once: the ledger's totals, one warehouse row per movie of the good
    records, and each bad record once by event id, all against the input."""
    totals = ledger_totals(dsn, job_name)
    sent = len(expected.movie_of_event)
    assert totals.records_in == sent and totals.duplicates == 0
    assert totals.good + totals.bad == sent
    bad = bad_event_ids(bucket, job_name)
    assert len(bad) == len(set(bad)) == totals.bad, "a bad record was written twice or lost"
    assert set(bad) <= set(expected.movie_of_event)
    good_movies = {m for e, m in expected.movie_of_event.items() if e not in set(bad)}
    with psycopg.connect(dsn) as conn:
        rows = conn.execute("SELECT movie_id FROM movies.imdb_movies_rating").fetchall()
    assert len(rows) == len({r[0] for r in rows}), "a movie has two warehouse rows"
    assert {r[0] for r in rows} == good_movies


@pytest.fixture
def alert_route(stack) -> AlertRoute:
    """The alert path on a bus of the test's own: its rules route to a topic read from a queue."""
    return new_alert_route("faults")


def new_stream() -> str:
    kinesis = AwsSettings().client("kinesis")
    name = f"faults-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.5})
    return name


def replay(
    csv_path: Path, stream: str, work: Path, rate: int | None = None, resume: bool = False
) -> subprocess.Popen:
    argv = [sys.executable, "-m", "moviestream", "replay", str(csv_path), "--stream-name", stream, "--json"]
    argv += ["--no-aggregate", "--workers", "1", "--checkpoint", str(work / "cp.json")]
    argv += ["--rejects", str(work / "rejects.jsonl"), "--dead-letter", str(work / "dead.jsonl")]
    if rate:
        argv += ["--rate", str(rate)]
    if resume:
        argv += ["--resume"]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


MOVIE_COLUMNS = (
    "movie_id, series_title, released_year, imdb_rating, genres, director, event_id, event_produced_at"
)


def warehouse_snapshot(dsn: str) -> dict:
    with psycopg.connect(dsn) as conn:
        return {
            "movies": conn.execute(
                f"SELECT {MOVIE_COLUMNS} FROM movies.imdb_movies_rating ORDER BY 1"
            ).fetchall(),
            "genres": conn.execute(
                "SELECT movie_id, genre FROM movies.movie_genres ORDER BY 1, 2"
            ).fetchall(),
            "cast": conn.execute(
                "SELECT movie_id, billing_order, actor FROM movies.movie_cast ORDER BY 1, 2"
            ).fetchall(),
            "ledger": conn.execute(
                "SELECT batch_id, records_in, good_records, bad_records, source_first_row, source_last_row"
                " FROM movies.batch_ledger ORDER BY batch_id"
            ).fetchall(),
        }


def start_backfill(csv_path: Path, dsn: str, bucket: str, job_name: str, log: Path) -> subprocess.Popen:
    argv = [
        sys.executable,
        "-m",
        "moviestream",
        "backfill",
        str(csv_path),
        "--warehouse-dsn",
        dsn,
        "--bucket",
        bucket,
    ]
    argv += ["--job-name", job_name, "--chunk-rows", "200", "--as-of", "2026-01-01T00:00:00Z"]
    argv += ["--degraded-after-seconds", "3"]
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=dict(os.environ))


def test_the_backfill_pauses_through_a_warehouse_outage_and_completes_as_without_it(stack, tmp_path):
    csv_path = tmp_path / "history.csv"
    generate(csv_path, rows=1200, seed=22, defect_rate=0.1)
    results = {}
    for run in ("clean", "outage"):
        name = f"bf_{run}_{uuid.uuid4().hex[:6]}"
        dsn = fresh_warehouse(stack, name)
        bucket = name.replace("_", "-")
        AwsSettings().client("s3").create_bucket(Bucket=bucket)
        log = tmp_path / f"{run}.log"
        proc = start_backfill(csv_path, dsn, bucket, f"backfill-{run}", log)
        postgres = Postgres(stack)
        try:
            if run == "outage":
                wait_for(
                    lambda d=dsn: ledger_totals(d, "backfill-outage").batches > 0,
                    "the first chunk in",
                    proc,
                    log,
                    180,
                )
                postgres.stop()
                try:  # down until the backfill has waited past its degraded time, still running
                    wait_for(
                        lambda f=log: '"pipeline_degraded"' in f.read_text(errors="replace"),
                        "degraded",
                        proc,
                        log,
                        60,
                    )
                finally:
                    postgres.start()
            assert proc.wait(timeout=300) == 0, log.read_text(errors="replace")[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
            if postgres.pid() is None:
                postgres.start()
        results[run] = warehouse_snapshot(dsn)
        text = log.read_text(errors="replace")
        summary = json.loads(
            next(line for line in reversed(text.splitlines()) if line.startswith('{"files"'))
        )
        results[run]["summary"] = {
            k: summary[k] for k in ("records", "good_records", "bad_records", "rejected_rows")
        }
        if run == "outage":
            assert (
                '"backfill_paused"' in text
                and '"pipeline_degraded"' in text
                and '"pipeline_recovered"' in text
            )
            # a refresh cut by the outage leaves this run's own lease behind: taken over, not waited out
            assert "held by backfill-outage" not in text
    assert results["outage"] == results["clean"]
    assert len(results["clean"]["ledger"]) >= 5 and results["clean"]["movies"]


def wait_for(
    condition, what: str, proc: subprocess.Popen, log: Path, timeout_s: float = JOB_TIMEOUT_S
) -> None:
    """``condition`` within ``timeout_s``, the job alive all along."""
    wait_until(lambda: running(proc, log) and condition(), timeout_s, f"{what}, see {log}")


def test_the_streaming_job_rides_out_outages_stops_on_a_permanent_error_and_loses_nothing(
    stack, alert_route, tmp_path
):
    """One streaming job, with records flowing, through every fault (sharing the job keeps the
    suite short):
    - S3 and Kinesis reach it only through a real HTTP proxy (their per-service endpoint
      variables), which answers about 30% of GetRecords calls with Kinesis's throttling error
      all along;
    - the test stack's real PostgreSQL is stopped until the job reports it degraded, then started;
    - S3's proxy refuses every connection while records keep arriving, and once a batch waits on
      its S3 writes Kinesis's does too, until the job reports S3 degraded.
    It never exits and reports the warehouse and S3 outages each degraded once and recovered once
    (Kinesis's may be reported too, by the source's polls, which the SDK retries first; reading
    only waits, and resumes at its position). Then a permanent
    error (a table the load writes is moved away): the job stops with one line, exit code 1 and
    a failed alert, committing nothing more; after the fix a restart from the same checkpoint
    loads the rest. Every record of both input files ends up exactly once in the warehouse or
    the bad records, checked against the files themselves."""
    from tests.integration.proxies import ServiceProxy

    name = f"outage_{uuid.uuid4().hex[:8]}"
    dsn = fresh_warehouse(stack, name)
    bucket = name.replace("_", "-")
    AwsSettings().client("s3").create_bucket(Bucket=bucket)
    stream = new_stream()
    csv_path, late_path = tmp_path / "movies.csv", tmp_path / "late.csv"
    generate(csv_path, rows=1500, seed=21, defect_rate=0.1)
    generate(late_path, rows=150, seed=25, defect_rate=0.1)
    expected = expected_from(csv_path)
    proxy = ServiceProxy(stack.localstack_port, "Kinesis_20131202.GetRecords", 0.3)  # Kinesis
    s3_proxy = ServiceProxy(stack.localstack_port)
    env = dict(os.environ) | {"AWS_ENDPOINT_URL_S3": s3_proxy.url, "AWS_ENDPOINT_URL_KINESIS": proxy.url}
    job_name = f"faults-{name}"
    log = tmp_path / "job.log"
    args = [
        "--stream-name", stream, "--bucket", bucket, "--job-name", job_name, "--warehouse-dsn", dsn,
        "--checkpoint", str(tmp_path / "checkpoint"), "--starting-position", "trim_horizon",
        "--max-records-per-batch", "200", "--trigger-seconds", "1",
        "--event-bus", alert_route.bus, "--failure-ratio-threshold", "1", "--degraded-after-seconds", "5",
    ]  # fmt: skip
    proc = start_local_job([*args, "--status-file", str(tmp_path / "s1.json")], log, env)
    postgres = Postgres(stack)

    def count(event: str) -> int:
        """Log lines of ``event`` about the warehouse and S3 (a Kinesis outage may or may not
        last past the degraded time: the SDK retries GetRecords by itself first)."""
        lines = [line for line in log.read_text(errors="replace").splitlines() if f'"{event}"' in line]
        return sum(1 for line in lines if json.loads(line).get("step") != "kinesis poll")

    def retried(step: str) -> bool:
        """Whether a step whose name starts with ``step`` was retried (an outage was met)."""
        lines = [line for line in log.read_text(errors="replace").splitlines() if '"step_retry"' in line]
        return any(json.loads(line).get("step", "").startswith(step) for line in lines)

    try:
        wait_for_status(proc, tmp_path / "s1.json")
        producer = replay(csv_path, stream, tmp_path, rate=20)  # up to 75 s of records (cut short below)
        wait_for(lambda: ledger_totals(dsn, job_name).records_in > 0, "first commit", proc, log)
        postgres.stop()
        try:  # down until the job has waited past its degraded time and said so
            wait_for(lambda: count("pipeline_degraded") == 1, "the warehouse outage reported", proc, log, 60)
        finally:
            postgres.start()
        wait_for(
            lambda: count("pipeline_recovered") == 1, "recovery from the warehouse outage", proc, log, 60
        )
        # S3 and Kinesis away while records keep arriving: the batch in flight waits on its S3
        # writes, degraded, the source keeps polling; both go on when the services are back.
        # Kinesis goes 2 s after S3, so that a batch with records is sure to be at its S3 step.
        s3_proxy.down()
        try:
            wait_for(lambda: retried("s3"), "a batch waiting on its S3 writes", proc, log, 60)
            proxy.down()
            wait_for(lambda: count("pipeline_degraded") == 2, "the S3 outage reported", proc, log, 60)
        finally:
            s3_proxy.up()
            proxy.up()
        wait_for(lambda: count("pipeline_recovered") == 2, "recovery from the S3 outage", proc, log, 60)
        # The outages are over: the rest of the file need not trickle in at 20 a second. The paced
        # producer is stopped with Ctrl-C (it flushes what is in flight and saves its checkpoint)
        # and resumed unpaced, as a user would; no row is sent twice or left out.
        if producer.poll() is None:
            producer.send_signal(signal.SIGINT)
            assert producer.wait(timeout=60) in (0, 130)
            producer = replay(csv_path, stream, tmp_path, resume=True)
        assert producer.wait(timeout=180) == 0
        everything = len(expected.movie_of_event)
        wait_for(lambda: ledger_totals(dsn, job_name).records_in >= everything, "every record", proc, log)
        assert count("pipeline_degraded") == 2 and count("pipeline_recovered") == 2, log

        # A permanent error: an SQL error no wait will fix.
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ALTER TABLE movies.movie_cast RENAME TO movie_cast_moved")
        late_work = tmp_path / "late"
        late_work.mkdir()
        assert replay(late_path, stream, late_work).wait(timeout=120) == 0
        assert proc.wait(timeout=JOB_TIMEOUT_S) == 1, (
            f"the job did not stop on the permanent error, see {log}"
        )
    finally:
        stop_job(proc)
        proxy.close()
        s3_proxy.close()
        if postgres.pid() is None:
            postgres.start()
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "warehouse failed: UndefinedTable" in lines[0], lines
    assert ledger_totals(dsn, job_name).records_in == everything  # the failed batch did not commit
    assert proxy.throttled > 0 and proxy.forwarded > 0  # GetRecords was throttled, and read on
    health = [
        (m["detail"]["state"], m["detail"]["step"])
        for m in alert_route.take()  # EventBridge's events, as the topic delivered them
        if m["detail"].get("job") == job_name
        and m["detail-type"] in ("Pipeline degraded", "Pipeline recovered", "Pipeline failed")
        and m["detail"]["step"] != "kinesis poll"  # health, not breaches or the views' refresh
    ]
    assert [state for state, _ in health] == ["degraded", "recovered", "degraded", "recovered", "failed"]
    assert [step.split()[0] for _, step in health[:4]] == ["ledger", "ledger", "s3", "s3"] or (
        health[0][1] in ("ledger check", "warehouse") and health[2][1].startswith("s3")
    ), health

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE movies.movie_cast_moved RENAME TO movie_cast")
    expected = Expected(expected.movie_of_event | expected_from(late_path).movie_of_event)
    restart_log = tmp_path / "restart.log"
    proxy = ServiceProxy(stack.localstack_port)  # a new proxy: the restarted job's S3 and Kinesis
    env = dict(os.environ) | {"AWS_ENDPOINT_URL_S3": proxy.url, "AWS_ENDPOINT_URL_KINESIS": proxy.url}
    proc = start_local_job([*args, "--status-file", str(tmp_path / "s2.json")], restart_log, env)
    try:
        wait_for_status(proc, tmp_path / "s2.json")
        everything = len(expected.movie_of_event)
        wait_until_settled(proc, restart_log, dsn, job_name, everything)
    finally:
        assert stop_job(proc) == 0, f"the restarted job did not stop cleanly, see {restart_log}"
        proxy.close()
    assert_exactly_once(expected, dsn, bucket, job_name)
