"""Our aggregate builder writes aws-kinesis-agg's format, sized exactly, read back by its de-aggregator."""

import base64
import random

import pytest
from aws_kinesis_agg.deaggregator import deaggregate_records

from moviestream.producer.aggregation import RECORD_LIMIT, AggregateBuilder, Entry, ShardMap, too_large


def lambda_record(entry):
    data = base64.b64encode(entry.data)
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "sequenceNumber": "1",
            "approximateArrivalTimestamp": 0,
            "partitionKey": entry.partition_key,
            "data": data,
        }
    }


@pytest.mark.parametrize("n", [1, 2, 50, 700])
def test_size_is_exact_and_the_library_reads_it_back(n):
    rng = random.Random(n)
    builder = AggregateBuilder()
    records = []
    for i in range(n):
        key = f"movie-{rng.randint(0, 40)}"
        data = bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 127, 128, 300, 1_200])))
        assert builder.try_add(key, data, row=i + 1)
        records.append((key, data))
        entry = builder.build()
        assert builder.size() == entry.size  # data + the aggregate's partition key, exactly
    out = deaggregate_records([lambda_record(entry)])
    assert [(r["kinesis"]["partitionKey"], base64.b64decode(r["kinesis"]["data"])) for r in out] == records
    assert entry.payloads() == records
    assert entry.rows == list(range(1, n + 1))
    assert entry.partition_key == records[0][0]
    assert int(entry.explicit_hash_key) == ShardMap.hash_key(records[0][0])


def test_an_aggregate_never_exceeds_the_record_limit():
    builder = AggregateBuilder()
    added = 0
    while builder.try_add(f"k{added % 7}", b"x" * 100_000, added):
        added += 1
    assert added == 10  # the 11th 100 kB record would cross 1 MiB
    assert builder.size() <= RECORD_LIMIT < builder.size() + 100_000
    assert builder.build().size == builder.size()


def test_a_record_too_large_for_the_stream_is_detected():
    assert not too_large("k", b"x" * (RECORD_LIMIT - 100))
    assert too_large("k", b"x" * RECORD_LIMIT)
    assert Entry(b"plain", "k", None, [1]).payloads() == [("k", b"plain")]


def test_shard_map_follows_hash_key_ranges():
    half = 2**127
    shards = [
        {
            "ShardId": "s0",
            "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(half - 1)},
            "SequenceNumberRange": {"StartingSequenceNumber": "1"},
        },
        {
            "ShardId": "s1",
            "HashKeyRange": {"StartingHashKey": str(half), "EndingHashKey": str(2**128 - 1)},
            "SequenceNumberRange": {"StartingSequenceNumber": "1"},
        },
        {
            "ShardId": "closed",
            "HashKeyRange": {"StartingHashKey": "0", "EndingHashKey": str(2**128 - 1)},
            "SequenceNumberRange": {"StartingSequenceNumber": "1", "EndingSequenceNumber": "9"},
        },
    ]
    m = ShardMap(shards)
    assert m.shard_ids == ["s0", "s1"]
    for key in (f"k{i}" for i in range(200)):
        assert m.shard_for(key) == ("s0" if ShardMap.hash_key(key) < half else "s1")
