"""How tests/data/checkpoints/pre-move/ was made: the streaming job of the code before the package
move (commit d5d8157, `python -m glue_streaming.local_job`) read 40 records of a one-shard stream
in two batches of 20 and stopped; 20 more records were then put. Kept: its checkpoint, and every
record of the stream in order (data, partition key, the sequence number it had).

    git worktree add /tmp/pre-move d5d8157
    eval "$(moviestream stack env)"   # a local stack that is up
    PYTHONPATH=. python tests/data/checkpoints/make_pre_move_fixture.py /tmp/pre-move tests/data/checkpoints/pre-move

It runs the old code as it was; it is kept to show how the fixture came about, not to be run again.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import boto3
import psycopg

from tests.waiting import wait_for

OLD, OUT = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
STREAM = "pre-move-fixture"
SAMPLE = Path(__file__).parents[3] / "data" / "movies_sample.csv"


def put_rows(first: int, count: int) -> None:
    """Rows [first, first + count) of the sample, one Kinesis record each, by the old producer."""
    lines = SAMPLE.read_text().splitlines()
    part = OUT.parent / f"rows-{first}.csv"
    part.write_text("\n".join([lines[0], *lines[1 + first : 1 + first + count]]) + "\n")
    subprocess.run(
        [sys.executable, "-m", "producer", "replay", str(part), "--stream-name", STREAM, "--no-aggregate",
         "--workers", "1", "--json", "--checkpoint", str(OUT.parent / f"cp-{first}.json")],
        env=os.environ | {"PYTHONPATH": str(OLD)}, cwd=OLD, check=True, capture_output=True,
    )  # fmt: skip
    part.unlink()


def main() -> None:
    kinesis = boto3.client("kinesis")
    kinesis.create_stream(StreamName=STREAM, ShardCount=1)
    wait_for(
        lambda: kinesis.describe_stream_summary(StreamName=STREAM)["StreamDescriptionSummary"]["StreamStatus"]
        == "ACTIVE",
        60,
        "the stream is active",
    )
    dsn = os.environ["MOVIESTREAM_WAREHOUSE_DSN"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DELETE FROM movies.batch_ledger WHERE job_name = 'pre-move-fixture'")
    put_rows(0, 40)
    work = OUT.parent / "work"
    shutil.rmtree(work, ignore_errors=True)
    with (OUT.parent / "job.log").open("wb") as log:
        job = subprocess.Popen(
            [sys.executable, "-m", "glue_streaming.local_job", "--stream-name", STREAM, "--job-name", "pre-move-fixture",
             "--checkpoint", str(work / "checkpoint"), "--max-records-per-batch", "20", "--starting-position",
             "trim_horizon", "--warm-up-rounds", "0", "--metrics-namespace", ""],
            env=os.environ | {"PYTHONPATH": str(OLD)}, cwd=OLD, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

        def loaded() -> bool:
            with psycopg.connect(dsn, autocommit=True) as conn:
                done = conn.execute(
                    "SELECT COALESCE(SUM(records_in), 0) FROM movies.batch_ledger WHERE job_name = 'pre-move-fixture'"
                ).fetchone()[0]
            return done >= 40

        wait_for(loaded, 300, "the old job loaded the first 40 records", interval_s=1)
        os.killpg(job.pid, signal.SIGTERM)
        job.wait(60)
    put_rows(40, 20)
    shard = kinesis.list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=STREAM, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"]
    shutil.rmtree(OUT, ignore_errors=True)
    shutil.copytree(work / "checkpoint", OUT / "checkpoint")
    with open(OUT / "records.jsonl", "w") as out:
        for r in records:
            doc = {"sequence_number": r["SequenceNumber"], "partition_key": r["PartitionKey"],
                   "data": base64.b64encode(r["Data"]).decode()}  # fmt: skip
            out.write(json.dumps(doc) + "\n")
    print(f"{len(records)} records, checkpoint in {OUT / 'checkpoint'}")


if __name__ == "__main__":
    main()
