"""Expand Kinesis records that carry KPL aggregates into their user records.

The wire format (magic bytes, protobuf ``AggregatedRecord``, trailing MD5) is aws-kinesis-agg's.
We do not call its de-aggregator because it passes a broken aggregate through as if it were a
plain record; here a broken aggregate becomes one record with an error, so the job can report it
as a bad record with its reason instead of failing to parse garbage later.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass

import aws_kinesis_agg
import aws_kinesis_agg.deaggregator  # noqa: F401 - puts the package's generated protobuf modules on sys.path
from aws_kinesis_agg import messages_pb2
from google.protobuf.message import DecodeError

MAGIC = aws_kinesis_agg.MAGIC
DIGEST_SIZE = aws_kinesis_agg.DIGEST_SIZE


@dataclass(frozen=True, slots=True)
class UserRecord:
    sub_sequence_number: int
    partition_key: str | None
    payload: bytes | None
    error: str | None = None


def is_aggregated(data: bytes) -> bool:
    return len(data) > len(MAGIC) + DIGEST_SIZE and data[: len(MAGIC)] == MAGIC


def deaggregate(data: bytes, partition_key: str | None = None) -> Iterator[UserRecord]:
    """Yield the user records inside one Kinesis record (itself, when it is not an aggregate)."""
    if not is_aggregated(data):
        yield UserRecord(0, partition_key, data)
        return
    body, digest = data[len(MAGIC) : -DIGEST_SIZE], data[-DIGEST_SIZE:]
    if hashlib.md5(body).digest() != digest:  # noqa: S324 - MD5 is the format's checksum, not security
        yield UserRecord(0, partition_key, data, "KPL aggregate checksum (MD5) mismatch")
        return
    message = messages_pb2.AggregatedRecord()
    try:
        message.ParseFromString(body)
    except DecodeError as exc:
        yield UserRecord(0, partition_key, data, f"KPL aggregate is not a valid protobuf message: {exc}")
        return
    keys = list(message.partition_key_table)
    for index, record in enumerate(message.records):
        key = keys[record.partition_key_index] if record.partition_key_index < len(keys) else None
        yield UserRecord(index, key, bytes(record.data))
