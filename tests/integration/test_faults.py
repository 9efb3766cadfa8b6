"""The pipeline rides out real faults (moviestream/failure.py) and loses nothing.

- The streaming job while the test stack's real PostgreSQL is stopped for 30 s and started again:
  it never exits, reports degraded once and recovered once, and every record sent ends up exactly
  once in the warehouse or the bad records, checked against the input file itself.
- The backfill while the warehouse goes away in the middle of a file: it pauses and completes
  with the same warehouse as a run without the fault.
- A permanent error (a table the load needs is gone): the job exits with one line and an alert,
  its checkpoint does not pass the batch, and after the fix a restart loads everything once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from devstack.jobs import ledger_totals, start_local_job, stop_job, wait_for_status
from devstack.stack import Postgres
from moviestream.config import AwsSettings
from producer.csv_source import Row, read_rows
from producer.envelope import EnvelopeEncoder
from producer.generate import generate
from tests.integration.databases import fresh_warehouse

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
def alert_tap(stack):
    """An alert topic of the test's own with a queue subscribed: (topic ARN, read messages)."""
    aws = AwsSettings()
    name = f"faults-{uuid.uuid4().hex[:8]}"
    topic = aws.client("sns").create_topic(Name=name)["TopicArn"]
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("sns").subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
    )

    def messages() -> list[dict]:
        found = []
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []
            )
            if not got:
                return found
            found += [json.loads(m["Body"]) for m in got]
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)],
            )

    return topic, messages


def new_stream() -> str:
    kinesis = AwsSettings().client("kinesis")
    name = f"faults-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=name, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.5})
    return name


def replay(csv_path: Path, stream: str, work: Path, rate: int | None = None) -> subprocess.Popen:
    argv = [sys.executable, "-m", "producer", "replay", str(csv_path), "--stream-name", stream, "--json"]
    argv += ["--no-aggregate", "--workers", "1", "--checkpoint", str(work / "cp.json")]
    argv += ["--rejects", str(work / "rejects.jsonl"), "--dead-letter", str(work / "dead.jsonl")]
    if rate:
        argv += ["--rate", str(rate)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def test_the_streaming_job_waits_out_a_warehouse_outage_and_loses_nothing(stack, alert_tap, tmp_path):
    topic, alerts = alert_tap
    name = f"outage_{uuid.uuid4().hex[:8]}"
    dsn = fresh_warehouse(stack, name)
    bucket = name.replace("_", "-")
    AwsSettings().client("s3").create_bucket(Bucket=bucket)
    stream = new_stream()
    csv_path = tmp_path / "movies.csv"
    generate(csv_path, rows=900, seed=21, defect_rate=0.1)
    expected = expected_from(csv_path)
    job_name = f"faults-{name}"
    status, log = tmp_path / "status.json", tmp_path / "job.log"
    args = [
        "--stream-name", stream, "--bucket", bucket, "--job-name", job_name, "--warehouse-dsn", dsn,
        "--checkpoint", str(tmp_path / "checkpoint"), "--starting-position", "trim_horizon",
        "--max-records-per-batch", "200", "--trigger-seconds", "1", "--status-file", str(status),
        "--alert-topic-arn", topic, "--failure-ratio-threshold", "1",
        "--degraded-after-seconds", "5",
    ]  # fmt: skip
    proc = start_local_job(args, log, dict(os.environ))
    postgres = Postgres(stack)
    try:
        wait_for_status(proc, status)
        producer = replay(csv_path, stream, tmp_path, rate=30)  # about 30 s of records
        deadline = time.monotonic() + 60
        while ledger_totals(dsn, job_name).records_in == 0:  # records flow: then the outage
            assert time.monotonic() < deadline, f"nothing loaded before the outage, see {log}"
            time.sleep(0.5)
        postgres.stop()
        try:
            outage_end = time.monotonic() + 30
            while time.monotonic() < outage_end:
                assert proc.poll() is None, f"the job exited during the outage ({proc.returncode}), see {log}"
                time.sleep(1)
        finally:
            postgres.start()
        assert producer.wait(timeout=120) == 0
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while ledger_totals(dsn, job_name).records_in < len(expected.movie_of_event):
            assert proc.poll() is None, f"the job exited after the outage ({proc.returncode}), see {log}"
            assert time.monotonic() < deadline, f"records not all accounted for, see {log}"
            time.sleep(0.5)
        time.sleep(1.5)  # a batch that would (wrongly) load records twice has time to commit
    finally:
        code = stop_job(proc)
        if postgres.pid() is None:
            postgres.start()
    assert code == 0, f"the job did not stop cleanly, see {log}"
    assert_exactly_once(expected, dsn, bucket, job_name)
    text = log.read_text(errors="replace")
    assert text.count('"pipeline_degraded"') == 1 and text.count('"pipeline_recovered"') == 1, log
    health = [m["state"] for m in alerts() if m.get("job") == job_name and "state" in m]
    assert health == ["degraded", "recovered"]


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
    argv = [sys.executable, "-m", "batch_backfill", str(csv_path), "--warehouse-dsn", dsn, "--bucket", bucket]
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
                deadline = time.monotonic() + 180
                while ledger_totals(dsn, "backfill-outage").batches == 0:  # the first chunk is in
                    assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
                    assert time.monotonic() < deadline, "no chunk committed"
                    time.sleep(0.2)
                postgres.stop()
                try:
                    time.sleep(10)
                    assert proc.poll() is None, "the backfill ended during the outage"
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
    assert results["outage"] == results["clean"]
    assert len(results["clean"]["ledger"]) >= 5 and results["clean"]["movies"]


def test_a_permanent_error_stops_the_job_with_one_line_and_a_restart_loads_everything_once(
    stack, alert_tap, tmp_path
):
    topic, alerts = alert_tap
    name = f"perm_{uuid.uuid4().hex[:8]}"
    dsn = fresh_warehouse(stack, name)
    bucket = name.replace("_", "-")
    AwsSettings().client("s3").create_bucket(Bucket=bucket)
    stream = new_stream()
    csv_path = tmp_path / "movies.csv"
    generate(csv_path, rows=250, seed=23, defect_rate=0.1)
    expected = expected_from(csv_path)
    assert replay(csv_path, stream, tmp_path).wait(timeout=120) == 0
    job_name = f"faults-{name}"
    args = [
        "--stream-name", stream, "--bucket", bucket, "--job-name", job_name, "--warehouse-dsn", dsn,
        "--checkpoint", str(tmp_path / "checkpoint"), "--starting-position", "trim_horizon",
        "--max-records-per-batch", "100", "--trigger-seconds", "1", "--alert-topic-arn", topic,
        "--failure-ratio-threshold", "1",
    ]  # fmt: skip
    # A table the load writes is gone: an SQL error no wait will fix.
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE movies.movie_cast RENAME TO movie_cast_moved")
    log = tmp_path / "first.log"
    proc = start_local_job([*args, "--status-file", str(tmp_path / "s1.json")], log, dict(os.environ))
    try:
        assert proc.wait(timeout=JOB_TIMEOUT_S) == 1, log.read_text(errors="replace")[-3000:]
    finally:
        stop_job(proc)
    lines = [line for line in log.read_text(errors="replace").splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "warehouse failed: UndefinedTable" in lines[0], lines
    assert ledger_totals(dsn, job_name).records_in == 0  # the failed batch did not commit
    assert "failed" in [m.get("state") for m in alerts() if m.get("job") == job_name]

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("ALTER TABLE movies.movie_cast_moved RENAME TO movie_cast")
    log = tmp_path / "second.log"
    status = tmp_path / "s2.json"
    proc = start_local_job([*args, "--status-file", str(status)], log, dict(os.environ))
    try:
        wait_for_status(proc, status)
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while ledger_totals(dsn, job_name).records_in < len(expected.movie_of_event):
            assert proc.poll() is None, f"the restarted job exited, see {log}"
            assert time.monotonic() < deadline, f"records not all accounted for, see {log}"
            time.sleep(0.5)
        time.sleep(1.5)
    finally:
        assert stop_job(proc) == 0
    assert_exactly_once(expected, dsn, bucket, job_name)
