"""The Kinesis stream reader against LocalStack: caps, offsets, and re-reading after a restart."""

from __future__ import annotations

import json

import pytest

from moviestream.core.config import AwsSettings
from moviestream.streaming.kinesis_source import KinesisStreamReader, parse_starting_position
from tests.waiting import wait_for


@pytest.fixture(autouse=True)
def _stop_readers():
    """Readers poll in a background thread: stop every one a test made."""
    yield
    while _READERS:
        _READERS.pop().stop()


_READERS: list[KinesisStreamReader] = []


def reader(
    name: str, cap: int, cap_bytes: int = 64 * 1024 * 1024, discovery_s: float = 10
) -> KinesisStreamReader:
    aws = AwsSettings()
    made = KinesisStreamReader(
        {
            "stream_name": name,
            "region": aws.region,
            "endpoint_url": aws.endpoint_url,
            "max_records_per_batch": str(cap),
            "max_bytes_per_batch": str(cap_bytes),
            "shard_discovery_seconds": str(discovery_s),
            "starting_position_json": json.dumps({"type": "TRIM_HORIZON"}),
        }
    )
    _READERS.append(made)
    return made


def put(client, name, n, start=0):
    records = [{"Data": f"r{i}".encode(), "PartitionKey": f"k{i}"} for i in range(start, start + n)]
    assert client.put_records(StreamName=name, Records=records)["FailedRecordCount"] == 0


def read_batch(r: KinesisStreamReader, start: dict, end: dict) -> list[bytes]:
    return [row[4] for p in r.partitions(start, end) for row in r.read(p)]


def test_batches_respect_the_cap_and_cover_every_record_once(stream):
    name, client = stream
    put(client, name, 50)
    r = reader(name, cap=20)
    start = r.initialOffset()
    seen: list[bytes] = []
    for _ in range(10):
        end = r.latestOffset()
        batch = read_batch(r, start, end)
        assert len(batch) <= 20
        seen.extend(batch)
        r.commit(end)
        start = end
    assert sorted(seen) == sorted(f"r{i}".encode() for i in range(50))
    assert r.latestOffset() == start  # nothing new: the offset does not move


def test_batches_respect_the_byte_cap(stream):
    name, client = stream
    records = [{"Data": bytes([65 + i]) * 1000, "PartitionKey": f"k{i}"} for i in range(12)]
    assert client.put_records(StreamName=name, Records=records)["FailedRecordCount"] == 0
    r = reader(name, cap=1000, cap_bytes=2500)
    start = r.initialOffset()
    seen: list[bytes] = []
    for _ in range(20):
        end = r.latestOffset()
        batch = read_batch(r, start, end)
        assert sum(len(b) for b in batch) <= 2500
        seen.extend(batch)
        r.commit(end)
        start = end
    assert sorted(seen) == sorted(rec["Data"] for rec in records)


def test_resharding_reads_parents_to_the_end_and_children_from_the_start(stream):
    name, client = stream
    put(client, name, 40)
    r = reader(name, cap=1000, discovery_s=0.5)
    start = r.initialOffset()
    parents = set(start["shards"])
    seen: list[bytes] = []
    end = r.latestOffset()
    seen.extend(read_batch(r, start, end))
    r.commit(end)
    start = end

    client.update_shard_count(StreamName=name, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    summary = lambda: client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]  # noqa: E731
    wait_for(lambda: summary()["StreamStatus"] == "ACTIVE", 60, "the stream done resharding")
    put(client, name, 40, start=40)  # these go to the child shards

    expected = sorted(f"r{i}".encode() for i in range(80))

    def read_on() -> bool:
        nonlocal start
        if sorted(seen) == expected and all(start["shards"][p].get("closed") for p in parents):
            return True
        end = r.latestOffset()
        seen.extend(read_batch(r, start, end))
        r.commit(end)
        start = end
        return False

    wait_for(read_on, 60, "all 80 records read and the parents closed")
    assert sorted(seen) == expected  # every record once: nothing lost or repeated across the split
    assert set(start["shards"]) > parents  # the children were found and read


def test_a_restarted_reader_re_reads_a_planned_batch_from_kinesis(stream):
    name, client = stream
    put(client, name, 30)
    first = reader(name, cap=1000)
    start = first.initialOffset()
    end = first.latestOffset()
    planned = sorted(read_batch(first, start, end))
    put(client, name, 10, start=30)  # arrives after the batch was planned

    restarted = reader(name, cap=1000)  # no prefetched data: must read start..end from Kinesis
    parts = restarted.partitions(start, end)
    assert all(p.records is None for p in parts)
    assert sorted(row[4] for p in parts for row in restarted.read(p)) == planned
    # ...and carries on after that batch with exactly the new records.
    nxt = restarted.latestOffset()
    assert sorted(read_batch(restarted, end, nxt)) == sorted(f"r{i}".encode() for i in range(30, 40))


def test_starting_positions():
    assert parse_starting_position("trim_horizon") == {"type": "TRIM_HORIZON"}
    assert parse_starting_position("at_timestamp:2026-11-22T10:00:00Z")["ts"] == 1795341600.0
    assert parse_starting_position("latest")["type"] == "AT_TIMESTAMP"
    with pytest.raises(ValueError, match="unknown starting position"):
        parse_starting_position("earliest")
