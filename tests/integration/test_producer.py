"""The producer against LocalStack: round trip, faults, resume, dead letters, and malformed input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import orjson
import pytest

from moviestream.core.config import AwsSettings
from moviestream.core.csv_source import Row, read_rows
from moviestream.core.generate import generate
from moviestream.core.movie_key import movie_id
from moviestream.core.record import Envelope, event_id_for
from tests.integration.kinesis_reading import payload, read_all
from tests.waiting import running, wait_for

ROOT = Path(__file__).parents[2]


@pytest.fixture(scope="module")
def movies_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("producer") / "movies.csv"
    generate(path, rows=1500, seed=5, defect_rate=0.2)
    return path


def replay(*args: str, env: dict | None = None, check_json: bool = True) -> tuple[int, dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "moviestream", "replay", *args, "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env or os.environ.copy(),
        timeout=300,
        check=False,
    )
    summary = json.loads(proc.stdout.strip().splitlines()[-1]) if (check_json and proc.stdout.strip()) else {}
    return proc.returncode, summary | {"_stderr": proc.stderr}


def expected_rows(path: Path) -> list[Row]:
    with open(path, "rb") as fh:
        return [r for r in read_rows(fh, str(path)) if isinstance(r, Row)]


@pytest.mark.parametrize("aggregate", [True, False])
def test_round_trip_every_envelope_in_per_key_order(stream, movies_csv, tmp_path, aggregate):
    name, client = stream
    flag = "--aggregate" if aggregate else "--no-aggregate"
    code, summary = replay(
        str(movies_csv),
        "--stream-name",
        name,
        flag,
        "--checkpoint",
        str(tmp_path / "c.json"),
        "--rejects",
        str(tmp_path / "r.jsonl"),
    )
    assert code == 0, summary["_stderr"]
    rows = expected_rows(movies_csv)
    assert summary["user_records_sent"] == summary["rows_read"] == len(rows)
    assert (
        (summary["kinesis_records"] < len(rows) / 100)
        if aggregate
        else summary["kinesis_records"] == len(rows)
    )

    per_shard = read_all(client, name)
    got = [(shard, r) for shard, records in per_shard.items() for r in records]
    assert len(got) == len(rows)
    by_event = {}
    for shard, r in got:
        env = Envelope.model_validate_json(payload(r))
        assert r["kinesis"]["partitionKey"] == movie_id(
            env.fields["Series_Title"], env.fields["Released_Year"]
        )
        by_event[env.event_id] = (shard, env)
    for row in rows:  # exactly the envelopes produced: every field, unchanged
        shard, env = by_event[event_id_for(movies_csv.name, row.row_number, row.values)]
        assert env.row_number == row.row_number
        assert env.fields == dict(zip(row.header, row.values, strict=True))
    # per-key order: one key's events are on one shard, in the order of the file
    order: dict[str, list[tuple[str, int]]] = {}
    for shard, r in got:
        env = Envelope.model_validate_json(payload(r))
        order.setdefault(r["kinesis"]["partitionKey"], []).append((shard, env.row_number))
    for events in order.values():
        assert len({s for s, _ in events}) == 1
        assert [n for _, n in events] == sorted(n for _, n in events)


@pytest.fixture
def faulty_stream(faulty_kinesis):
    """A fresh stream on the LocalStack that fails PutRecords calls with probability 0.3."""
    import boto3

    client = boto3.client(
        "kinesis",
        endpoint_url=faulty_kinesis,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    name = f"faulty-{uuid.uuid4().hex[:8]}"
    client.create_stream(StreamName=name, ShardCount=2)
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
    yield name, client
    client.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


SAMPLE = ROOT / "data" / "movies_sample.csv"


@pytest.mark.parametrize("aggregate", ["--aggregate", "--no-aggregate"])
def test_faults_deliver_every_row_once_after_dedup(faulty_kinesis, faulty_stream, tmp_path, aggregate):
    name, client = faulty_stream
    env = os.environ | {"AWS_ENDPOINT_URL": faulty_kinesis}
    code, summary = replay(
        str(SAMPLE),
        "--stream-name",
        name,
        aggregate,
        "--max-attempts",
        "20",
        # Paced into many small PutRecords calls: LocalStack fails whole calls with p=0.3, so
        # retries are all but certain. The pace, not the buffer, sets the number of calls: one call
        # is in flight at a time, and a call to LocalStack takes 30-80 ms on these machines, so at
        # 2,000 rows/s a run made only ~19 calls (0.7**19 = 0.1%; fewer on a slow day, and CI once
        # saw none fail). At 250 rows/s the 4.8 s run makes >= 50 calls even at 100 ms a call.
        "--rate",
        "250",
        "--max-buffer-ms",
        "5",
        "--checkpoint",
        str(tmp_path / "c.json"),
        "--dead-letter",
        str(tmp_path / "dl.jsonl"),
        env=env,
    )
    assert code == 0, summary["_stderr"]
    # Enough calls that one failing is all but certain: 0.7 ** 25 = 0.013% that none does. (How
    # many the paced run makes depends on the machine: 34 on a heavily loaded one.)
    assert summary["api_calls"] >= 25, summary
    assert summary["retries"] > 0 and summary["throttles"] > 0, summary
    assert summary["dead_lettered"] == 0 and not (tmp_path / "dl.jsonl").exists()
    records = [r for rs in read_all(client, name).values() for r in rs]
    ids = [Envelope.model_validate_json(payload(r)).event_id for r in records]
    expected = {event_id_for(SAMPLE.name, r.row_number, r.values) for r in expected_rows(SAMPLE)}
    assert set(ids) == expected  # every row delivered...
    assert len(ids) == len(expected)  # ...exactly once: only failed entries are resent


def test_exhausted_retries_go_to_the_dead_letter_file_and_can_be_resent(
    faulty_kinesis, faulty_stream, stream, movies_csv, tmp_path
):
    dead = tmp_path / "dl.jsonl"
    faulty_name, _ = faulty_stream
    env = os.environ | {"AWS_ENDPOINT_URL": faulty_kinesis}
    code, summary = replay(
        str(movies_csv),
        "--stream-name",
        faulty_name,
        "--limit",
        "300",
        # Many small calls (paced, 5 ms buffer): LocalStack fails whole calls with p=0.3, so with
        # >= 30 calls some fail (P(none) = 0.7**30). One call is in flight at a time and takes
        # 30-80 ms here, so the pace sets the number of calls: 3 s at 100 rows/s.
        "--rate",
        "100",
        "--max-buffer-ms",
        "5",
        "--no-aggregate",
        "--max-attempts",
        "1",
        "--checkpoint",
        str(tmp_path / "c.json"),
        "--dead-letter",
        str(dead),
        env=env,
    )
    assert code == 1, summary  # documented: some records dead-lettered
    assert summary["api_calls"] >= 30, summary
    assert summary["dead_lettered"] > 0
    assert summary["user_records_sent"] + summary["dead_lettered"] == 300
    lines = [orjson.loads(line) for line in dead.read_bytes().splitlines()]
    assert len(lines) == summary["dead_lettered"]
    assert all(line["reason"].startswith("still failing after 1 attempts") for line in lines)

    name, client = stream  # resend to the healthy stack
    code, resent = replay("--from-dead-letter", str(dead), "--stream-name", name, "--dead-letter", str(dead))
    assert code == 0, resent["_stderr"]
    assert resent["user_records_sent"] == len(lines)
    delivered = {
        Envelope.model_validate_json(payload(r)).row_number
        for rs in read_all(client, name).values()
        for r in rs
    }
    assert delivered == {line["row_number"] for line in lines}
    assert not list(tmp_path.glob("dl.jsonl.resending-*"))  # consumed


def test_interrupt_flushes_and_resume_sends_exactly_the_rest(stream, movies_csv, tmp_path):
    name, client = stream
    checkpoint = tmp_path / "c.json"
    args = [
        str(movies_csv),
        "--stream-name",
        name,
        "--checkpoint",
        str(checkpoint),
        "--rejects",
        str(tmp_path / "r.jsonl"),
        "--json",
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moviestream", "replay", *args, "--rate", "150"],  # ~10 s for the file
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    # Interrupted once records are in the stream: the replay is under way, with more to send.
    wait_for(lambda: running(proc) and any(read_all(client, name).values()), 60, "records in the stream")
    proc.send_signal(signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGABRT)
        out, err = proc.communicate()
        raise AssertionError(err) from None
    assert proc.returncode == 130, err
    first = json.loads(out.strip().splitlines()[-1])
    assert first["interrupted"] and 0 < first["last_acknowledged_row"] < 1500
    saved = json.loads(checkpoint.read_text())
    assert saved["last_acknowledged_row"] == first["last_acknowledged_row"] and not saved["complete"]

    code, second = replay(*args[:-1], "--resume")
    assert code == 0, second["_stderr"]
    assert second["rows_skipped_resume"] == first["last_acknowledged_row"]
    ids = [
        Envelope.model_validate_json(payload(r)).event_id
        for rs in read_all(client, name).values()
        for r in rs
    ]
    expected = {event_id_for(movies_csv.name, r.row_number, r.values) for r in expected_rows(movies_csv)}
    assert len(ids) == len(expected) and set(ids) == expected  # nothing lost, nothing twice
    assert json.loads(checkpoint.read_text())["complete"]


def test_replay_from_s3(stream, movies_csv, tmp_path):
    name, client = stream
    s3 = AwsSettings().client("s3")
    s3.create_bucket(Bucket="producer-input")
    s3.upload_file(str(movies_csv), "producer-input", "raw/movies.csv")
    code, summary = replay(
        "s3://producer-input/raw/movies.csv", "--stream-name", name, "--checkpoint", str(tmp_path / "c.json")
    )
    assert code == 0, summary["_stderr"]
    assert summary["user_records_sent"] == len(expected_rows(movies_csv))
    code, missing = replay("s3://producer-input/raw/nope.csv", "--stream-name", name, check_json=False)
    assert code == 2 and missing["_stderr"].strip().startswith(
        "error: cannot read s3://producer-input/raw/nope.csv"
    )


def _stray_quotes_file(path: Path, base: Path) -> Path:
    """A file whose row boundaries the quote-parity scanner gets wrong: a quote character inside
    an unquoted field (csv reads it literally) in a chunk after the first, then quoted multi-line fields."""
    lines = base.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    stray = rows[900].split(",")
    stray[1] = "The 5'11\" Man"  # unquoted field with a literal quote
    rows[900] = ",".join(stray)
    multiline = rows[903].replace('"A ', '"A\nmulti-line\n', 1)
    rows[903] = multiline
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _bad_rows_file(path: Path, base: Path) -> Path:
    """Unreadable rows inside the workers' chunks: undecodable bytes, a short row, an extra field."""
    rows = base.read_bytes().split(b"\n")
    rows[300] = rows[300].replace(b",", b",\xff\xfe", 1)
    rows[950] = b",".join(rows[950].split(b",")[:5])
    rows[1700] = rows[1700] + b",extra"
    path.write_bytes(b"\n".join(rows))
    return path


@pytest.mark.parametrize("kind", ["generated", "stray_quotes_and_bad_rows"])
def test_parallel_and_sequential_replays_send_the_same_records(stack, tmp_path, kind):
    base = tmp_path / "base.csv"
    # About 540 KB: with --chunk-kib 64, eight or nine chunks, so both workers parse several.
    generate(base, rows=2_000, seed=8, defect_rate=0.1)
    # One file for both hard cases: stray quotes around row 900 and unreadable rows at 300, 950
    # and 1,700, each in a chunk after the first.
    path = {
        "generated": lambda: base,
        "stray_quotes_and_bad_rows": lambda: _bad_rows_file(
            tmp_path / "bad.csv", _stray_quotes_file(tmp_path / "stray.csv", base)
        ),
    }[kind]()
    client = AwsSettings().client("kinesis")
    results = {}
    for workers in ("1", "2"):
        name = f"equiv-{workers}-{uuid.uuid4().hex[:6]}"
        client.create_stream(StreamName=name, ShardCount=2)
        client.get_waiter("stream_exists").wait(
            StreamName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60}
        )
        rejects = tmp_path / f"rejects-{workers}.jsonl"
        code, summary = replay(
            str(path),
            "--stream-name",
            name,
            "--workers",
            workers,
            "--chunk-kib",
            "64",
            "--rejects",
            str(rejects),
            "--checkpoint",
            str(tmp_path / f"c{workers}.json"),
        )
        assert code == 0, summary["_stderr"]
        envelopes = {}
        for records in read_all(client, name).values():
            for r in records:
                env = Envelope.model_validate_json(payload(r))
                envelopes[env.row_number] = (env.event_id, env.fields, r["kinesis"]["partitionKey"])
        client.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
        reject_lines = sorted(rejects.read_text().splitlines()) if rejects.exists() else []
        counts = {
            k: summary[k]
            for k in ("rows_read", "rows_rejected", "user_records_sent", "last_acknowledged_row")
        }
        results[workers] = (counts, envelopes, reject_lines)
    assert results["1"][0] == results["2"][0]
    assert results["1"][1] == results["2"][1]
    assert results["1"][2] == results["2"][2]
    if kind == "stray_quotes_and_bad_rows":
        assert results["2"][0]["rows_rejected"] == 3
        assert any("'11\"" in fields["Series_Title"] for _, fields, _ in results["2"][1].values())
