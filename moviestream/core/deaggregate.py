"""Expand Kinesis records that carry KPL aggregates into their user records.

The wire format (magic bytes, protobuf ``AggregatedRecord``, trailing MD5) is aws-kinesis-agg's.
We do not call its de-aggregator because it passes a broken aggregate through as if it were a
plain record; here a broken aggregate becomes one record with an error, so the job can report it
as a bad record with its reason instead of failing to parse garbage later.

``deaggregate`` is total: whatever the bytes, it raises nothing and every user record it can find
comes out once, with ``error`` set when it cannot be trusted; a Kinesis record that yields no
user record (an empty aggregate) comes out as one error record, so it is counted too. Partition
keys arrive as bytes inside an aggregate (protobuf does not check a proto2 string's UTF-8) and
are validated here, the one place they are turned into text.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import aws_kinesis_agg
import aws_kinesis_agg.deaggregator  # puts the package's generated protobuf modules on sys.path
from aws_kinesis_agg import messages_pb2

MAGIC = aws_kinesis_agg.MAGIC
DIGEST_SIZE = aws_kinesis_agg.DIGEST_SIZE
# Kinesis: a partition key is 1 to 256 Unicode characters. The KPL refuses others when it
# aggregates, so a key outside that range inside an aggregate was not written by a KPL.
PARTITION_KEY_CHARS = 256


@dataclass(frozen=True, slots=True)
class UserRecord:
    sub_sequence_number: int
    partition_key: str | None
    payload: bytes | None
    error: str | None = None


def is_aggregated(data: bytes) -> bool:
    return len(data) > len(MAGIC) + DIGEST_SIZE and data[: len(MAGIC)] == MAGIC


def partition_key_text(raw: str | bytes | None) -> tuple[str | None, str | None]:
    """(the key as text, the reason it cannot be trusted or None). Bad bytes are shown as U+FFFD,
    so the bad record still says which key it was."""
    if raw is None:
        return None, None
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.decode("utf-8", "replace")[:PARTITION_KEY_CHARS], "partition key is not valid UTF-8"
    else:
        text = raw
    if not text:
        return text, "partition key is empty"
    if len(text) > PARTITION_KEY_CHARS:
        return text[:PARTITION_KEY_CHARS], f"partition key is longer than {PARTITION_KEY_CHARS} characters"
    return text, None


def deaggregate(data: bytes, partition_key: str | bytes | None = None) -> Iterator[UserRecord]:
    """Yield the user records inside one Kinesis record (itself, when it is not an aggregate)."""
    outer_key, outer_error = partition_key_text(partition_key)
    if not is_aggregated(data):
        yield UserRecord(0, outer_key, data, outer_error)
        return
    body, digest = data[len(MAGIC) : -DIGEST_SIZE], data[-DIGEST_SIZE:]
    if hashlib.md5(body).digest() != digest:  # MD5 is the format's checksum, not security
        yield UserRecord(0, outer_key, data, "KPL aggregate checksum (MD5) mismatch")
        return
    message = messages_pb2.AggregatedRecord()
    try:
        message.ParseFromString(body)
        keys = list(message.partition_key_table)
        records = [(r.partition_key_index, bytes(r.data)) for r in message.records]
    except Exception as exc:  # DecodeError and whatever else the parser may raise
        yield UserRecord(0, outer_key, data, f"KPL aggregate is not a valid protobuf message: {exc}")
        return
    if not records:
        yield UserRecord(0, outer_key, data, "KPL aggregate holds no user records")
        return
    for index, (key_index, payload) in enumerate(records):
        if key_index >= len(keys):
            error = f"partition_key_index {key_index} is out of range: the aggregate has {len(keys)} keys"
            yield UserRecord(index, outer_key, payload, error)
            continue
        text, reason = partition_key_text(keys[key_index])
        yield UserRecord(index, text, payload, reason)
