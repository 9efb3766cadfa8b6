"""Kinesis as a Spark 4 Python streaming data source (format ``moviestream_kinesis``).

Used by the local entry: open-source Spark has no Kinesis connector we can fetch here, and Glue
brings its own. Design:
- one input partition per shard;
- the offset is, per shard, the last sequence number delivered (or where to start), so Spark's
  checkpoint (offset log + commit log) records exactly how far each shard was consumed;
- ``latestOffset`` prefetches up to ``max_records_per_batch`` records (Spark 4.1 has no admission
  control for Python sources, so the reader enforces the cap) and keeps them in memory for
  ``partitions``; after a restart, a batch in the offset log is re-read from Kinesis between its
  start and end sequence numbers;
- new shards (resharding) are discovered on every batch and read from TRIM_HORIZON, closed shards
  are kept with ``closed: true`` so they are not read again.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.types import BinaryType, StringType, StructField, StructType, TimestampType

SOURCE_SCHEMA = StructType(
    [
        StructField("shard_id", StringType(), False),
        StructField("sequence_number", StringType(), False),
        StructField("partition_key", StringType(), True),
        StructField("approximate_arrival_timestamp", TimestampType(), True),
        StructField("data", BinaryType(), True),
    ]
)

GET_RECORDS_LIMIT = 10_000  # the Kinesis API maximum per call


def parse_starting_position(value: str) -> dict[str, Any]:
    """'trim_horizon' | 'latest' | 'at_timestamp:<ISO-8601 or epoch seconds>' -> a shard position."""
    text = value.strip().lower()
    if text == "trim_horizon":
        return {"type": "TRIM_HORIZON"}
    if text == "latest":
        # Resolved to "now" when the query starts, so a restart before any data keeps the same point.
        return {"type": "AT_TIMESTAMP", "ts": time.time()}
    if text.startswith("at_timestamp:"):
        raw = value.split(":", 1)[1].strip()
        try:
            ts = float(raw)
        except ValueError:
            try:
                ts = datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
            except ValueError as exc:
                raise ValueError(f"invalid timestamp in starting position: {raw!r}") from exc
        return {"type": "AT_TIMESTAMP", "ts": ts}
    raise ValueError(f"unknown starting position {value!r} (use trim_horizon, latest or at_timestamp:TIME)")


@dataclass
class ShardPartition(InputPartition):
    shard_id: str
    start: dict[str, Any]
    end_sequence: str | None
    # Records prefetched by latestOffset; None when they must be read from Kinesis (after restart).
    records: list[tuple] | None = None


def _iterator_args(position: dict[str, Any]) -> dict[str, Any]:
    kind = position["type"]
    if kind == "AFTER_SEQUENCE_NUMBER":
        return {"ShardIteratorType": kind, "StartingSequenceNumber": position["seq"]}
    if kind == "AT_TIMESTAMP":
        return {"ShardIteratorType": kind, "Timestamp": datetime.fromtimestamp(position["ts"], UTC)}
    return {"ShardIteratorType": "TRIM_HORIZON"}


def _row(shard_id: str, rec: dict[str, Any]) -> tuple:
    return (
        shard_id,
        rec["SequenceNumber"],
        rec.get("PartitionKey"),
        rec.get("ApproximateArrivalTimestamp"),
        bytes(rec["Data"]),
    )


class KinesisStreamReader(DataSourceStreamReader):
    def __init__(self, options: dict[str, str]) -> None:
        self.stream_name = options["stream_name"]
        self.region = options.get("region", "us-east-1")
        self.endpoint_url = options.get("endpoint_url") or None
        self.max_records = int(options.get("max_records_per_batch", "20000"))
        self.starting_position = json.loads(options.get("starting_position_json", '{"type": "TRIM_HORIZON"}'))
        self._client = None
        self._position: dict[str, Any] | None = None  # what has been planned so far
        self._prefetched: dict[str, tuple[dict, dict, dict[str, list[tuple]]]] = {}

    # -- Kinesis -------------------------------------------------------------------------------
    def client(self):  # noqa: ANN201
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "kinesis",
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                config=Config(retries={"mode": "standard", "max_attempts": 8}),
            )
        return self._client

    def _list_shard_ids(self) -> list[str]:
        shards, token = [], None
        while True:
            kwargs = {"NextToken": token} if token else {"StreamName": self.stream_name}
            resp = self.client().list_shards(**kwargs)
            shards.extend(s["ShardId"] for s in resp["Shards"])
            token = resp.get("NextToken")
            if not token:
                return shards

    def _fetch(self, shard_id: str, position: dict[str, Any], limit: int, until_seq: str | None = None):
        """Read up to ``limit`` records after ``position``; stop after ``until_seq`` if given.

        Returns (rows, new_position). new_position marks the shard closed when Kinesis says so.
        """
        client = self.client()
        iterator = client.get_shard_iterator(
            StreamName=self.stream_name, ShardId=shard_id, **_iterator_args(position)
        )["ShardIterator"]
        rows: list[tuple] = []
        new_position = dict(position)
        empty_reads = 0
        while iterator and len(rows) < limit:
            try:
                resp = client.get_records(
                    ShardIterator=iterator, Limit=min(GET_RECORDS_LIMIT, limit - len(rows))
                )
            except client.exceptions.ProvisionedThroughputExceededException:
                time.sleep(0.2)
                continue
            except client.exceptions.ExpiredIteratorException:
                iterator = client.get_shard_iterator(
                    StreamName=self.stream_name, ShardId=shard_id, **_iterator_args(new_position)
                )["ShardIterator"]
                continue
            for rec in resp["Records"]:
                rows.append(_row(shard_id, rec))
                new_position = {"type": "AFTER_SEQUENCE_NUMBER", "seq": rec["SequenceNumber"]}
                if until_seq is not None and int(rec["SequenceNumber"]) >= int(until_seq):
                    return rows, new_position
            iterator = resp.get("NextShardIterator")
            if iterator is None:
                new_position["closed"] = True
                break
            if until_seq is None and (not resp["Records"] and resp.get("MillisBehindLatest", 0) == 0):
                break
            if not resp["Records"]:
                empty_reads += 1
                if until_seq is None or empty_reads > 50:
                    break
        return rows, new_position

    # -- Spark streaming API -------------------------------------------------------------------
    def initialOffset(self) -> dict:
        return {"shards": {sid: dict(self.starting_position) for sid in sorted(self._list_shard_ids())}}

    def latestOffset(self) -> dict:
        start = self._position if self._position is not None else self.initialOffset()
        shards = {sid: dict(pos) for sid, pos in start["shards"].items()}
        for sid in self._list_shard_ids():  # shards created by resharding start at the beginning
            shards.setdefault(sid, {"type": "TRIM_HORIZON"})
        open_shards = [sid for sid in sorted(shards) if not shards[sid].get("closed")]
        budget = self.max_records
        rows_by_shard: dict[str, list[tuple]] = {}
        for i, sid in enumerate(open_shards):
            share = max(1, budget // (len(open_shards) - i))
            rows, shards[sid] = self._fetch(sid, shards[sid], share)
            rows_by_shard[sid] = rows
            budget -= len(rows)
        end = {"shards": shards}
        if any(rows_by_shard.values()):
            self._prefetched[json.dumps(end, sort_keys=True)] = (start, end, rows_by_shard)
        self._position = end
        return end

    def partitions(self, start: dict, end: dict) -> list[InputPartition]:
        if self._position is None:  # restart: continue after the batch being replayed
            self._position = end
        cached = self._prefetched.get(json.dumps(end, sort_keys=True))
        use_cache = cached is not None and json.dumps(cached[0], sort_keys=True) == json.dumps(
            start, sort_keys=True
        )
        parts: list[InputPartition] = []
        for sid, end_pos in sorted(end["shards"].items()):
            start_pos = start["shards"].get(sid, {"type": "TRIM_HORIZON"})
            end_seq = end_pos.get("seq")
            if end_seq is None or end_seq == start_pos.get("seq"):
                continue  # nothing new on this shard
            records = cached[2].get(sid, []) if use_cache else None
            parts.append(ShardPartition(sid, start_pos, end_seq, records))
        return parts

    def read(self, partition: ShardPartition):
        if partition.records is not None:
            yield from partition.records
            return
        rows, _ = self._fetch(partition.shard_id, partition.start, 10**9, until_seq=partition.end_sequence)
        yield from rows

    def commit(self, end: dict) -> None:
        if self._position is None:
            self._position = end
        key = json.dumps(end, sort_keys=True)
        # Drop everything planned up to and including this batch.
        for k in list(self._prefetched):
            del self._prefetched[k]
            if k == key:
                break


class KinesisDataSource(DataSource):
    """``spark.readStream.format("moviestream_kinesis").option("stream_name", ...)``."""

    @classmethod
    def name(cls) -> str:
        return "moviestream_kinesis"

    def schema(self) -> StructType:
        return SOURCE_SCHEMA

    def streamReader(self, schema: StructType) -> DataSourceStreamReader:
        return KinesisStreamReader(self.options)
