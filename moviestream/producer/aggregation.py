"""KPL aggregation: user records packed into Kinesis records per predicted shard.

The wire format is aws-kinesis-agg's (its generated protobuf ``AggregatedRecord``, its MAGIC
prefix and MD5 digest; its de-aggregator reads what we write, which the tests check). Instead of
calling ``RecordAggregator.add_user_record`` per record (about 7 us each, a third of the producer's
CPU budget), an aggregate's size is tracked with the protobuf encoding's arithmetic as records
arrive, and the message is built once when it is sent.

Like the KPL, records are aggregated per *predicted shard* (MD5 of the partition key against the
shards' hash-key ranges) and each aggregate is sent with an explicit hash key inside that shard,
so one movie's events stay in order on one shard.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Any

import aws_kinesis_agg
import aws_kinesis_agg.deaggregator  # puts the package's generated protobuf modules on sys.path
from aws_kinesis_agg import messages_pb2

from moviestream.core.deaggregate import deaggregate

RECORD_LIMIT = 1024 * 1024  # Kinesis: data + partition key of one record
MAGIC = aws_kinesis_agg.MAGIC
DIGEST_SIZE = aws_kinesis_agg.DIGEST_SIZE
_FRAME = len(MAGIC) + DIGEST_SIZE


def varint_size(value: int) -> int:
    return 1 if value < 0x80 else (value.bit_length() + 6) // 7


def _field_size(payload_len: int) -> int:
    """Bytes of one length-delimited protobuf field with a one-byte tag."""
    return 1 + (1 if payload_len < 0x80 else (payload_len.bit_length() + 6) // 7) + payload_len


@dataclass
class Entry:
    """One Kinesis record to send, and the file rows it carries (for acks and resume)."""

    data: bytes
    partition_key: str
    explicit_hash_key: str | None
    rows: list[int]

    @property
    def size(self) -> int:
        return len(self.data) + len(self.partition_key.encode("utf-8"))

    @property
    def user_records(self) -> int:
        return len(self.rows)

    def payloads(self) -> list[tuple[str, bytes]]:
        """The user records inside (only needed on the rare dead-letter path, so not kept)."""
        if self.explicit_hash_key is None:
            return [(self.partition_key, self.data)]
        return [(r.partition_key or self.partition_key, r.payload or b"") for r in deaggregate(self.data)]


class ShardMap:
    """Predicts the shard of a partition key the way Kinesis routes it (MD5 -> hash-key range)."""

    def __init__(self, shards: list[dict[str, Any]]) -> None:
        open_shards = [s for s in shards if "EndingSequenceNumber" not in s.get("SequenceNumberRange", {})]
        ranges = sorted(
            (int(s["HashKeyRange"]["StartingHashKey"]), s["ShardId"]) for s in (open_shards or shards)
        )
        self.starts = [r[0] for r in ranges]
        self.shard_ids = [r[1] for r in ranges]

    @classmethod
    def from_ranges(cls, starts: tuple[int, ...], shard_ids: tuple[str, ...]) -> ShardMap:
        """Rebuild a map from its (starting hash key, shard id) pairs, e.g. in a worker process."""
        shard_map = cls([])
        shard_map.starts, shard_map.shard_ids = list(starts), list(shard_ids)
        return shard_map

    @staticmethod
    def hash_key(partition_key: str) -> int:
        return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")

    def shard_for(self, partition_key: str) -> str:
        digest = hashlib.md5(partition_key.encode("utf-8")).digest()  # Kinesis's routing hash
        return self.shard_ids[max(0, bisect_right(self.starts, int.from_bytes(digest, "big")) - 1)]


@dataclass
class AggregateBuilder:
    """Collects user records for one aggregate, knowing its exact encoded size at every step."""

    limit: int = RECORD_LIMIT
    keys: dict[str, int] = field(default_factory=dict)
    records: list[tuple[int, bytes]] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)
    body_size: int = 0
    first_key_bytes: int = 0

    def __len__(self) -> int:
        return len(self.records)

    def try_add(self, partition_key: str, data: bytes, row: int) -> bool:
        """Add the record if the aggregate stays within the limit; False (nothing added) if not."""
        keys = self.keys
        index = keys.get(partition_key)
        if index is None:  # a new key: its entry in the key table is part of the cost
            index = len(keys)
            key_bytes = len(partition_key.encode("utf-8"))
            extra = _field_size(key_bytes)
        else:
            key_bytes = 0
            extra = 0
        n = len(data)
        # Record message: field 1 (key index, varint) and field 3 (data); then its own field 3 frame.
        record = (2 if index < 0x80 else 1 + varint_size(index)) + (2 if n < 0x80 else 1 + varint_size(n)) + n
        extra += (2 if record < 0x80 else 1 + varint_size(record)) + record
        # The aggregate is sent under its first record's key, which counts against the limit.
        first_key = self.first_key_bytes if self.records else key_bytes
        if _FRAME + self.body_size + extra + first_key > self.limit:
            return False
        if key_bytes:
            keys[partition_key] = index
        self.body_size += extra
        self.records.append((index, data))
        self.rows.append(row)
        self.first_key_bytes = first_key
        return True

    def size(self) -> int:
        """The Kinesis record size of the aggregate as it stands (data + partition key)."""
        return _FRAME + self.body_size + self.first_key_bytes

    def build(self) -> Entry:
        message = messages_pb2.AggregatedRecord()
        message.partition_key_table.extend(self.keys)  # dicts keep insertion order = index order
        add = message.records.add
        for index, data in self.records:
            add(partition_key_index=index, data=data)
        body = message.SerializeToString()
        digest = hashlib.md5(body).digest()  # the format's checksum
        first_key = next(iter(self.keys))
        # The explicit hash key pins the aggregate to the shard of its records (the first key's).
        return Entry(MAGIC + body + digest, first_key, str(ShardMap.hash_key(first_key)), self.rows)


def too_large(partition_key: str, data: bytes) -> str | None:
    """Why the record cannot be sent at all (over 1 MiB with its partition key), or None."""
    if len(data) + len(partition_key.encode("utf-8")) > RECORD_LIMIT:
        return f"record of {len(data)} bytes exceeds the Kinesis limit of 1 MiB"
    return None
