"""The streaming job's test runs, shared by the tests that need a run of the real job: one stream
holding a generated CSV replayed by the producer (KPL aggregates) plus poison records, read by the
local job from TRIM_HORIZON into a warehouse database and a bucket of the run's own, so a
crash-free reference run and each crashed-and-restarted run can be compared exactly (the session
fixtures are in conftest.py)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
from aws_kinesis_agg.aggregator import RecordAggregator

from moviestream.core.config import AwsSettings
from moviestream.core.failpoints import ENV as FAILPOINT_ENV
from moviestream.core.failpoints import POISON_ENV
from moviestream.core.generate import generate
from moviestream.devstack.jobs import kill_group, ledger_totals, start_local_job, stop_job, wait_for_status
from tests.helpers import envelope, movie_fields
from tests.integration.databases import fresh_warehouse
from tests.waiting import running, wait_for

JOB_TIMEOUT_S = 240
MOVIE_COLUMNS = (
    "movie_id, series_title, released_year, certificate, runtime_minutes, genres, imdb_rating, overview,"
    " meta_score, director, star1, star2, star3, star4, no_of_votes, gross_usd, poster_link, event_id,"
    " event_produced_at"
)


# Records whose judging raises (moviestream/core/failpoints.py): every run of the job sets it, so the
# batch holding them is bisected, in the crash-free run and in the run killed in that batch.
POISON_MARK = "Poison-Mark-Raises"


def _aggregate(keys: list[bytes], records: list[tuple[int, bytes]]) -> bytes:
    from tests.hostile_files import aggregate_of

    return aggregate_of(keys, records)


def _poison_records() -> list[tuple[str, bytes]]:
    """(partition key, data): one of each kind of record the job must survive (the last five
    kinds are at the end of the stream, the others at its start, between valid records)."""
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


def _sentinel(n: int) -> bytes:
    return envelope(
        f"sentinel-{n}", movie_fields(Series_Title=f"Sentinel {n}", Released_Year="1990"), row_number=n
    )


def hostile_records() -> list[tuple[str, str, bytes]]:
    """(kind, partition key, data): hostile Kinesis records of many kinds, each after a valid
    sentinel record (titles "Sentinel N"), which must all reach the warehouse."""
    title = movie_fields(Series_Title="TITLE")
    nested = b'{"schema_version":1,"event_id":"poison-nested","source":"t.csv","row_number":1,' + (
        b'"produced_at":"2026-11-22T10:00:00.000Z","fields":{"Series_Title":'
        + b"[" * 300
        + b"]" * 300
        + b',"Released_Year":"1999"}}'
    )
    kinds = [
        (
            "aggregate key not UTF-8",
            _aggregate([b"ok", b"\xff\xfe"], [(0, _sentinel(101)), (1, envelope("poison-badkey", title))]),
        ),
        ("aggregate without records", _aggregate([b"k"], [])),
        (
            "aggregate key index out of range",
            _aggregate([b"k"], [(0, _sentinel(102)), (5, envelope("poison-index", title))]),
        ),
        ("aggregate framing over garbage", _aggregate_garbage()),
        ("title nested 300 deep", nested),
        ("NUL in a title", envelope("poison-nul", movie_fields(Series_Title="Nul\x00Title"))),
        ("invalid UTF-8 in a value", envelope("poison-utf8", title).replace(b"TITLE", b"T\xffT")),
        ("event_id over 64 bytes", envelope("e" * 65, movie_fields(Series_Title="Long Id"))),
        ("a JSON array", b"[1, 2, 3]"),
        ("JSON nested 20,000 deep", b"[" * 20_000 + b"]" * 20_000),
        ("a single space", b" "),
        ("judging raises (plain)", envelope("poison-raises", movie_fields(Series_Title=f"{POISON_MARK} A"))),
        (
            "judging raises (inside an aggregate)",
            _aggregate(
                [b"k1", b"k2"],
                [
                    (0, _sentinel(103)),
                    (1, envelope("poison-raises-agg", movie_fields(Series_Title=f"{POISON_MARK} B"))),
                    (0, _sentinel(104)),
                ],
            ),
        ),
    ]
    out = []
    for n, (kind, data) in enumerate(kinds, start=1):
        out.append(("valid", f"sentinel-{n}", _sentinel(n)))
        out.append((kind, f"hostile-{n}", data))
    out.append(("valid", "sentinel-last", _sentinel(99)))
    return out


def _aggregate_garbage() -> bytes:
    from moviestream.core.deaggregate import MAGIC

    body = b"\xff\xff\xff\xff"
    return MAGIC + body + hashlib.md5(body).digest()  # the format's checksum


# User records in the hostile records (an aggregate's each, except a broken one: one), and the
# sentinels among them that must be loaded.
SENTINELS = [f"Sentinel {n}" for n in (*range(1, 14), 99, 101, 102, 103, 104)]


def _user_records(data: bytes) -> int:
    from moviestream.core.deaggregate import deaggregate

    return len(list(deaggregate(data, "k")))


@dataclass(frozen=True)
class Loaded:
    stream: str
    records: int  # user records in the stream (a broken aggregate is one record)


def load_stream(tmp_path_factory) -> Loaded:
    """A stream holding two replayed CSVs (KPL aggregates, then plain records) and poison."""
    aws = AwsSettings()
    kinesis = aws.client("kinesis")
    stream = f"moviestream-jobtest-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.5})
    work = tmp_path_factory.mktemp("job-data")
    sent = 0
    # Hostile records first, between valid ones: they land in the first batches, which the crash
    # chain's first kill interrupts.
    for _, key, data in hostile_records():
        kinesis.put_record(StreamName=stream, PartitionKey=key, Data=data)
        sent += _user_records(data)
    # Plain records, then KPL aggregates, so that the job, capped at 60 Kinesis records per
    # batch, cuts the stream into many batches. Plain records first keep the poisoned batch 0
    # small in user records (about 60, not the 350 of a few aggregates): its isolation bisects
    # in about half the probes, and three runs bisect it.
    for part, rows, aggregate in (("b", 500, "--no-aggregate"), ("a", 300, "--aggregate")):
        csv_path = work / f"movies-{part}.csv"
        generate(csv_path, rows=rows, seed=5 if part == "a" else 6, defect_rate=0.15)
        replay = subprocess.run(
            [sys.executable, "-m", "moviestream", "replay", str(csv_path), "--stream-name", stream, "--json"]
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
    env = dict(os.environ) | {POISON_ENV: POISON_MARK}
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
        wait_until_settled(proc, log, dsn, job_name, loaded.records)
    finally:
        code = stop_job(proc)
    assert code == 0, f"the job did not stop cleanly on SIGTERM, see {log}"
    return RunResult(job_name, dsn, bucket, log)


def went_idle_after_the_last_batch(log: Path, dsn: str, job_name: str) -> bool:
    """Whether the job's query found nothing new at a trigger after finishing the newest batch
    the ledger has: everything it read is committed, and no later batch is coming."""
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT MAX(batch_id) FROM movies.batch_ledger WHERE job_name = %s", (job_name,)
        ).fetchone()
    last = row[0] if row else None
    events = [
        json.loads(line) for line in log.read_text(errors="replace").splitlines() if line.startswith("{")
    ]
    done = [
        i for i, e in enumerate(events) if e.get("event") == "batch_progress" and e.get("batch_id") == last
    ]
    return bool(done) and any(e.get("event") == "query_idle" for e in events[done[-1] :])


def wait_until_settled(proc: subprocess.Popen, log: Path, dsn: str, job_name: str, records: int) -> None:
    """Every record accounted for in the ledger, then the query idle after its last batch: a
    batch that would (wrongly) load records again would have come before the idle, so counting
    now sees it."""
    wait_for(lambda: running(proc, log) and ledger_totals(dsn, job_name).records_in >= records,
             JOB_TIMEOUT_S, f"every record accounted for, see {log}")  # fmt: skip
    wait_for(lambda: running(proc, log) and went_idle_after_the_last_batch(log, dsn, job_name),
             60, f"the query idle after its last batch, see {log}")  # fmt: skip


def snapshot(run: RunResult) -> dict:
    """Everything a run leaves behind, independent of how the stream was cut into batches."""
    with psycopg.connect(run.dsn) as conn:
        movies = conn.execute(
            f"SELECT {MOVIE_COLUMNS} FROM movies.imdb_movies_rating ORDER BY movie_id"
        ).fetchall()
        genres = conn.execute("SELECT movie_id, genre FROM movies.movie_genres ORDER BY 1, 2").fetchall()
        batches = conn.execute("SELECT batch_id FROM movies.batch_ledger ORDER BY batch_id").fetchall()
        history = _history_by_batch(conn, run.job_name)
        measured = _outcome_metrics_by_batch(conn, run.job_name)
    totals = ledger_totals(run.dsn, run.job_name)
    s3 = AwsSettings().client("s3")
    keys = sorted(
        o["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=run.bucket, Prefix="bad_records/")
        for o in page.get("Contents", [])
    )
    lines = {
        (f"s3://{run.bucket}/{key}", number): json.loads(line)
        for key in keys
        for number, line in enumerate(
            s3.get_object(Bucket=run.bucket, Key=key)["Body"].read().splitlines(), start=1
        )
    }
    bad = sorted(
        json.dumps(
            {k: d.get(k) for k in ("event_id", "row_number", "record_error", "reasons")}, sort_keys=True
        )
        for d in lines.values()
    )
    with psycopg.connect(run.dsn) as conn:
        indexed = {
            (uri, number): (event_id, json.loads(reasons), status, changes)
            for uri, number, event_id, reasons, status, changes in conn.execute(
                "SELECT q.s3_uri, q.line_number, q.event_id, q.reasons, q.status,"
                " (SELECT COUNT(*) FROM movies.quarantine_changes c WHERE c.quarantine_id = q.quarantine_id)"
                " FROM movies.quarantine q WHERE q.job_name = %s",
                (run.job_name,),
            )
        }
    digest = hashlib.sha256(repr(movies).encode()).hexdigest()[:12]
    return {
        "movies": movies,
        "movies_digest": digest,
        "genres": genres,
        "totals": (totals.records_in, totals.good, totals.bad, totals.duplicates),
        "ledger_batches_unique": len(batches) == len(set(batches)),
        "bad_records": bad,
        "bad_record_keys_per_ledger_batch": len(keys) <= totals.batches,
        # The quarantine index has each S3 bad-record line once, as it is there (an event id cut
        # to the index's 64 characters), open, with its one change (its opening), however often
        # the run crashed: what differs, if anything.
        "quarantine_vs_s3": _differences(
            indexed,
            {
                k: ((d.get("event_id") or None) and d["event_id"][:64], d.get("reasons"), "open", 1)
                for k, d in lines.items()
            },  # fmt: skip
        )
        + ([] if len(indexed) == totals.bad else [f"{len(indexed)} indexed, {totals.bad} bad"]),
        # Every committed batch's metrics are in the history once, equal to what its rule
        # outcomes measured (both are written in the batch's transaction).
        "history_once_per_batch": sorted(history) == sorted(b for (b,) in batches) and history == measured,
    }


def _differences(got: dict, want: dict) -> list[str]:
    """What differs between two dicts, one line each (the first ten)."""
    keys = sorted(set(got) | set(want), key=str)
    return [f"{k}: {got.get(k)!r} != {want.get(k)!r}" for k in keys if got.get(k) != want.get(k)][:10]


def _history_by_batch(conn, job_name: str) -> dict[int, dict[str, float]]:
    rows = conn.execute(
        "SELECT batch_id, metric, value FROM movies.metric_history WHERE context = %s AND job_name = %s",
        (job_name, job_name),
    ).fetchall()
    runs: dict[int, dict[str, float]] = {}
    for batch_id, metric, value in rows:
        runs.setdefault(batch_id, {})[metric] = value
    return runs


def _outcome_metrics_by_batch(conn, job_name: str) -> dict[int, dict[str, float]]:
    rows = conn.execute(
        "SELECT batch_id, evaluated_metrics FROM movies.rule_outcomes WHERE job_name = %s", (job_name,)
    ).fetchall()
    runs: dict[int, dict[str, float]] = {}
    for batch_id, metrics in rows:
        runs.setdefault(batch_id, {}).update(json.loads(metrics))
    return runs
