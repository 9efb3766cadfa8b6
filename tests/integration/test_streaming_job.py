"""The streaming job on the real local stack: exactly once under SIGKILL, poison records, alerts.

One Kinesis stream holds a generated CSV replayed by the producer (KPL aggregates) plus poison
records. Every run reads it from TRIM_HORIZON into its own warehouse database and its own bucket,
so a crash-free reference run and each crashed-and-restarted run can be compared exactly.
"""

from __future__ import annotations

import hashlib
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
from aws_kinesis_agg.aggregator import RecordAggregator

from devstack.jobs import kill_group, ledger_totals, start_local_job, stop_job, wait_for_status
from glue_streaming.alerts import dataset_level_rules
from glue_streaming.local_job import DEFAULT_RULESET
from moviestream.config import AwsSettings, resource_names
from moviestream.failpoints import ENV as FAILPOINT_ENV
from moviestream.quality.dqdl import read_ruleset
from producer.generate import generate
from tests.helpers import envelope, movie_fields
from tests.integration.cloudwatch import statistic
from tests.integration.databases import fresh_warehouse

JOB_TIMEOUT_S = 240
MOVIE_COLUMNS = (
    "movie_id, series_title, released_year, certificate, runtime_minutes, genres, imdb_rating, overview,"
    " meta_score, director, star1, star2, star3, star4, no_of_votes, gross_usd, poster_link, event_id,"
    " event_produced_at"
)


def _poison_records() -> list[tuple[str, bytes]]:
    """(partition key, data): one of each kind of record the job must survive."""
    agg = RecordAggregator()
    agg.add_user_record("pk", envelope("poison-in-aggregate", movie_fields(Series_Title="Agg")))
    broken = bytearray(agg.clear_and_get().get_contents()[2])
    broken[-1] ^= 0xFF  # the trailing MD5 no longer matches
    huge = movie_fields(Series_Title="Huge Overview", Released_Year="2001", Overview="x" * 1_000_000)
    return [
        ("p1", b"this is not JSON {"),
        ("p2", bytes(broken)),
        ("p3", envelope("poison-version", movie_fields(Series_Title="Future"), schema_version=99)),
        ("p4", envelope("poison-huge", huge, row_number=1)),
        ("p5", b'{"hello": "world"}'),  # JSON, but not an envelope
    ]


@dataclass(frozen=True)
class Loaded:
    stream: str
    records: int  # user records in the stream (a broken aggregate is one record)


@pytest.fixture(scope="module")
def loaded_stream(stack, tmp_path_factory) -> Loaded:
    aws = AwsSettings()
    kinesis = aws.client("kinesis")
    stream = f"moviestream-jobtest-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.5})
    work = tmp_path_factory.mktemp("job-data")
    sent = 0
    # KPL aggregates first (a few Kinesis records), then plain records, so that the job, capped
    # at 60 Kinesis records per batch, cuts the stream into many batches.
    for part, rows, aggregate in (("a", 300, "--aggregate"), ("b", 500, "--no-aggregate")):
        csv_path = work / f"movies-{part}.csv"
        generate(csv_path, rows=rows, seed=5 if part == "a" else 6, defect_rate=0.15)
        replay = subprocess.run(
            [sys.executable, "-m", "producer", "replay", str(csv_path), "--stream-name", stream, "--json"]
            + [aggregate, "--workers", "1", "--checkpoint", str(work / f"cp-{part}.json")]
            + [
                "--rejects",
                str(work / f"rejects-{part}.jsonl"),
                "--dead-letter",
                str(work / f"dead-{part}.jsonl"),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        summary = json.loads(replay.stdout.strip().splitlines()[-1])
        assert summary["dead_lettered"] == 0
        sent += summary["user_records_sent"]
    poison = _poison_records()
    for key, data in poison:
        kinesis.put_record(StreamName=stream, PartitionKey=key, Data=data)
    return Loaded(stream, sent + len(poison))


@dataclass
class RunResult:
    job_name: str
    dsn: str
    bucket: str
    log: Path


def _fresh_target(stack, name: str) -> tuple[str, str]:
    """A warehouse database and a bucket of this run's own."""
    dsn = fresh_warehouse(stack, name)
    AwsSettings().client("s3").create_bucket(Bucket=name)
    return dsn, name


def run_job(stack, loaded: Loaded, tmp_path: Path, failpoints: tuple[str, ...] = ()) -> RunResult:
    """Run the job over the whole stream; with failpoints, let it kill itself at the first, restart
    it from the same checkpoint with the next, and so on, then restart it without one. Stops it
    when every record is accounted for."""
    name = f"run-{'crashed' if failpoints else 'clean'}-{uuid.uuid4().hex[:6]}"
    dsn, bucket = _fresh_target(stack, name)
    job_name = f"jobtest-{name}"
    status = tmp_path / "status.json"
    log = tmp_path / "job.log"
    args = [
        "--stream-name", loaded.stream, "--bucket", bucket, "--job-name", job_name,
        "--warehouse-dsn", dsn, "--checkpoint", str(tmp_path / "checkpoint"),
        "--starting-position", "trim_horizon", "--max-records-per-batch", "60",
        "--trigger-seconds", "0.5", "--status-file", str(status),
        "--failure-ratio-threshold", "0.05",
    ]  # fmt: skip
    env = dict(os.environ)
    for crashes, failpoint in enumerate(failpoints, start=1):
        proc = start_local_job(args, log, env | {FAILPOINT_ENV: failpoint})
        try:
            proc.wait(timeout=JOB_TIMEOUT_S)
        finally:
            kill_group(proc)
        assert proc.returncode == -9, f"expected the job to kill itself at {failpoint}, see {log}"
        assert log.read_text(errors="replace").count('"failpoint_reached"') == crashes
        status.unlink(missing_ok=True)
    proc = start_local_job(args, log, env)
    try:
        wait_for_status(proc, status)
        deadline = time.monotonic() + JOB_TIMEOUT_S
        while ledger_totals(dsn, job_name).records_in < loaded.records:
            assert proc.poll() is None, f"the job exited with {proc.returncode}, see {log}"
            assert time.monotonic() < deadline, f"records not all accounted for, see {log}"
            time.sleep(0.5)
        time.sleep(1.5)  # a batch that would (wrongly) load records twice has time to commit
    finally:
        code = stop_job(proc)
    assert code == 0, f"the job did not stop cleanly on SIGTERM, see {log}"
    return RunResult(job_name, dsn, bucket, log)


def snapshot(run: RunResult) -> dict:
    """Everything a run leaves behind, independent of how the stream was cut into batches."""
    with psycopg.connect(run.dsn) as conn:
        movies = conn.execute(
            f"SELECT {MOVIE_COLUMNS} FROM movies.imdb_movies_rating ORDER BY movie_id"
        ).fetchall()
        genres = conn.execute("SELECT movie_id, genre FROM movies.movie_genres ORDER BY 1, 2").fetchall()
        batches = conn.execute("SELECT batch_id FROM movies.batch_ledger ORDER BY batch_id").fetchall()
    totals = ledger_totals(run.dsn, run.job_name)
    s3 = AwsSettings().client("s3")
    keys = sorted(
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=run.bucket, Prefix="bad_records/")
        for o in page.get("Contents", [])
    )
    bad = sorted(
        json.dumps(
            {k: d.get(k) for k in ("event_id", "row_number", "record_error", "reasons")}, sort_keys=True
        )
        for key in keys
        for d in map(json.loads, s3.get_object(Bucket=run.bucket, Key=key)["Body"].read().splitlines())
    )
    digest = hashlib.sha256(repr(movies).encode()).hexdigest()[:12]
    return {
        "movies": movies,
        "movies_digest": digest,
        "genres": genres,
        "totals": (totals.records_in, totals.good, totals.bad, totals.duplicates),
        "ledger_batches_unique": len(batches) == len(set(batches)),
        "bad_records": bad,
        "bad_record_keys_per_ledger_batch": len(keys) <= totals.batches,
    }


@pytest.fixture(scope="module")
def reference(stack, loaded_stream, tmp_path_factory) -> tuple[RunResult, dict]:
    run = run_job(stack, loaded_stream, tmp_path_factory.mktemp("reference"))
    return run, snapshot(run)


def test_poison_records_are_bad_records_with_reasons_and_the_query_keeps_running(reference, loaded_stream):
    run, snap = reference
    records_in, good, bad, duplicates = snap["totals"]
    assert records_in == loaded_stream.records == good + bad + duplicates
    reasons = {}
    for line in snap["bad_records"]:
        doc = json.loads(line)
        reasons[doc["event_id"] or doc["record_error"]] = doc["reasons"]
    assert reasons["payload is not a JSON envelope"] == ["payload is not a JSON envelope"]
    assert reasons["KPL aggregate checksum (MD5) mismatch"] == ["KPL aggregate checksum (MD5) mismatch"]
    assert reasons["poison-version"] == ["unknown schema_version 99"]
    assert reasons["poison-huge"] == ["overview is 1000000 bytes, over the warehouse limit of 65535"]
    missing = "envelope is missing event_id, schema_version or fields"
    assert reasons[missing] == [missing]
    assert snap["movies"], "good records were loaded around the poison"
    log = run.log.read_text(errors="replace")
    assert "query_failed" not in log and "Traceback" not in log


def test_a_job_sigkilled_at_each_point_restarts_to_exactly_the_crash_free_result(
    stack, loaded_stream, reference, tmp_path
):
    """One job killed three times, at each crash point in turn (after its S3 writes in batch 2,
    inside batch 4's warehouse transaction, after batch 6's commit but before Spark's checkpoint),
    each time restarted from its checkpoint: one chain of restarts instead of three runs saves
    two job starts, and each restart recovers from the state the previous crash left."""
    _, expected = reference
    run = run_job(
        stack, loaded_stream, tmp_path, failpoints=("after_s3@2", "in_transaction@4", "after_commit@6")
    )
    got = snapshot(run)
    assert got["ledger_batches_unique"] and got["bad_record_keys_per_ledger_batch"]
    assert got["totals"] == expected["totals"]
    assert got["movies_digest"] == expected["movies_digest"]
    assert got["movies"] == expected["movies"]
    assert got["genres"] == expected["genres"]
    assert got["bad_records"] == expected["bad_records"]


def _drain(queue_name: str, want, timeout_s: float = 30.0) -> list[dict]:
    sqs = AwsSettings().client("sqs")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    found: list[dict] = []
    deadline = time.monotonic() + timeout_s
    while not found and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            body = json.loads(m["Body"])
            if want(body):
                found.append(body)
    return found


def test_a_breaching_batch_alerts_through_sns_and_eventbridge(reference):
    run, snap = reference
    names = resource_names()
    alerts = _drain(names["alert_queue_name"], lambda b: b.get("job") == run.job_name)
    assert alerts, "no SNS alert for the reference run reached the subscribed queue"
    alert = alerts[0]
    assert alert["failure_ratio"] > 0.05 or any("dataset-level" in b for b in alert["breaches"])
    assert alert["counts"]["bad"] >= 1 and alert["rule_outcomes_uri"].startswith(
        f"s3://{run.bucket}/rule_outcomes/"
    )
    assert alert["alert_id"] == f"{run.job_name}/{alert['stream_id']}/{alert['batch_id']}"
    events = _drain(
        names["event_queue_name"],
        lambda b: b.get("source") == names["event_source"] and b.get("detail", {}).get("job") == run.job_name,
    )
    assert events and events[0]["detail-type"] == "Data quality breach"


def _metric_sum(
    job_name: str, metric: str, extra_dims: tuple[dict, ...] = (), stat: str = "Sum"
) -> list[float]:
    return statistic(resource_names()["metrics_namespace"], job_name, metric, stat, extra_dims, period=60)


def test_each_batch_publishes_its_metrics_to_cloudwatch_and_its_health_to_the_ledger(reference):
    """Read back from CloudWatch (LocalStack's): the per-batch counts add up to the ledger's, every
    rule has its pass/fail, and the streaming lag is there; the ledger has the same batches'
    lags, warehouse seconds and breaches (one breach per alerted batch)."""
    run, snap = reference
    records_in, good, bad, duplicates = snap["totals"]
    assert sum(_metric_sum(run.job_name, "RecordsIn")) == records_in
    assert sum(_metric_sum(run.job_name, "GoodRecords")) == good
    assert sum(_metric_sum(run.job_name, "BadRecords")) == bad
    assert sum(_metric_sum(run.job_name, "DuplicatesDropped")) == duplicates
    with psycopg.connect(run.dsn) as conn:
        batches = conn.execute("SELECT count(*) FROM movies.batch_ledger").fetchone()[0]
        rules = [r for (r,) in conn.execute("SELECT DISTINCT rule FROM movies.rule_outcomes")]
        health = conn.execute(
            "SELECT count(*) FILTER (WHERE lag_p50_s IS NULL OR lag_p95_s IS NULL OR lag_max_s IS NULL),"
            " count(*) FILTER (WHERE NOT lag_p50_s <= lag_p95_s AND lag_p95_s <= lag_max_s),"
            " count(*) FILTER (WHERE seconds_warehouse IS NULL OR seconds_warehouse <= 0),"
            " sum(retried_errors), array_agg(batch_id ORDER BY batch_id) FILTER (WHERE breached)"
            " FROM movies.batch_ledger"
        ).fetchone()
    assert health[:4] == (0, 0, 0, 0)
    assert sum(_metric_sum(run.job_name, "BatchSeconds", stat="SampleCount")) == batches
    assert len(_metric_sum(run.job_name, "LagP50Seconds", stat="Maximum")) >= 1
    for rule in rules:
        verdicts = _metric_sum(run.job_name, "RulePassed", ({"Name": "Rule", "Value": rule},), "SampleCount")
        assert sum(verdicts) == batches, rule
    # Breached: over the 5% threshold, or a dataset-level rule failed.
    dataset_rules = dataset_level_rules(read_ruleset(DEFAULT_RULESET))
    with psycopg.connect(run.dsn) as conn:
        ledger = conn.execute("SELECT batch_id, good_records, bad_records, breached FROM movies.batch_ledger")
        failed = conn.execute("SELECT batch_id, rule FROM movies.rule_outcomes WHERE outcome <> 'Passed'")
        failed_dataset = {b for b, rule in failed.fetchall() if rule in dataset_rules}
        rows = ledger.fetchall()
    breached = {b: flag for b, _, _, flag in rows}
    expected = {b: bad / (good + bad) > 0.05 or b in failed_dataset for b, good, bad, _ in rows}
    assert any(breached.values()), "the defective input breaches in some batch"
    assert breached == expected
