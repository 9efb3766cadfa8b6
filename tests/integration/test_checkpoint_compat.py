"""A checkpoint written by the streaming job of the code before the package move is resumed by
today's `moviestream job` where it stopped, and nothing it had processed is processed again.

The fixture (tests/data/checkpoints/pre-move/, made by make_pre_move_fixture.py with the old
code): the old job read 40 records of a one-shard stream in two batches of 20, then 20 more
records were put. Here the same 60 records go, in the same order, into a new one-shard stream.
Kinesis sequence numbers depend on when a stream was made, so each one the checkpoint holds is
swapped for the same record's number in the new stream (Hadoop's .crc files go with the edit);
everything else in the checkpoint is as the old code wrote it.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import uuid
from pathlib import Path

import psycopg
import pytest

from moviestream.core.config import AwsSettings
from moviestream.devstack.jobs import ledger_totals, start_local_job, stop_job, wait_for_status
from tests.integration.databases import fresh_warehouse
from tests.waiting import running, wait_for

pytestmark = pytest.mark.integration

FIXTURE = Path(__file__).parents[1] / "data" / "checkpoints" / "pre-move"
OLD_QUERY_ID = "918af651-4469-4669-b940-47363a458935"  # the old checkpoint's stream id (metadata)


def put_in_order(records: list[dict]) -> tuple[str, list[str]]:
    """The records into a new one-shard stream, one by one; (stream, their sequence numbers)."""
    kinesis = AwsSettings().client("kinesis")
    stream = f"compat-{uuid.uuid4().hex[:8]}"
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.5})
    numbers = [
        kinesis.put_record(
            StreamName=stream, Data=base64.b64decode(r["data"]), PartitionKey=r["partition_key"]
        )["SequenceNumber"]
        for r in records
    ]
    return stream, numbers


def checkpoint_for(stream_numbers: dict[str, str], into: Path) -> Path:
    """The fixture's checkpoint with each old sequence number swapped for the new one."""
    checkpoint = into / "checkpoint"
    shutil.copytree(FIXTURE / "checkpoint", checkpoint)
    for path in checkpoint.rglob("*"):
        if path.name.endswith(".crc"):
            path.unlink()  # checksums of the files as written; Hadoop reads files without them
        elif path.is_file():
            text = path.read_text()
            for old, new in stream_numbers.items():
                text = text.replace(old, new)
            path.write_text(text)
    return checkpoint


def test_a_checkpoint_from_before_the_move_resumes_without_reprocessing(stack, tmp_path):
    records = [json.loads(line) for line in (FIXTURE / "records.jsonl").read_text().splitlines()]
    assert len(records) == 60
    assert json.loads((FIXTURE / "checkpoint" / "metadata").read_text())["id"] == OLD_QUERY_ID
    stream, numbers = put_in_order(records)
    checkpoint = checkpoint_for(
        {r["sequence_number"]: n for r, n in zip(records, numbers, strict=True)}, tmp_path
    )
    offsets = (checkpoint / "offsets" / "1").read_text()
    assert numbers[39] in offsets and numbers[40] not in offsets  # stopped after the 40th record

    dsn = fresh_warehouse(stack)
    job_name = "pre-move-fixture"
    status = tmp_path / "status.json"
    args = ["--stream-name", stream, "--job-name", job_name, "--checkpoint", str(checkpoint)]
    args += ["--warehouse-dsn", dsn, "--max-records-per-batch", "20", "--warm-up-rounds", "0"]
    args += ["--metrics-namespace", "", "--status-file", str(status), "--trigger-seconds", "0.5"]
    job = start_local_job(args, tmp_path / "job.log", dict(os.environ))
    try:
        assert wait_for_status(job, status) == OLD_QUERY_ID  # the same stream: the same ledger key
        log = tmp_path / "job.log"
        wait_for(
            lambda: running(job, log) and ledger_totals(dsn, job_name).records_in >= 20, 180, "20 records"
        )
    finally:
        stop_job(job)

    with psycopg.connect(dsn) as conn:
        ledger = conn.execute(
            "SELECT stream_id, batch_id, records_in FROM movies.batch_ledger WHERE job_name = %s ORDER BY batch_id",
            (job_name,),
        ).fetchall()
        titles = {row[0] for row in conn.execute("SELECT series_title FROM movies.imdb_movies_rating")}
    # One new batch, numbered after the old job's two, holding exactly the 20 records put after it.
    assert ledger == [(OLD_QUERY_ID, 2, 20)]
    unread = {json.loads(base64.b64decode(r["data"]))["fields"]["Series_Title"] for r in records[40:]}
    read_before = {json.loads(base64.b64decode(r["data"]))["fields"]["Series_Title"] for r in records[:40]}
    assert titles and titles <= unread and not titles & (read_before - unread)
