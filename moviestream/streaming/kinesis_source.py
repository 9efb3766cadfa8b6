"""Kinesis as a Spark 4 Python streaming data source (format ``moviestream_kinesis``).

Used by the local entry: open-source Spark has no Kinesis connector we can fetch here, and Glue
brings its own. Design:
- one input partition per shard;
- the offset is, per shard, the last sequence number delivered (or where to start), so Spark's
  checkpoint (offset log + commit log) records exactly how far each shard was consumed;
- a background thread polls every shard (one long-lived shard iterator each) into a bounded
  buffer while Spark processes the previous batch, so reading Kinesis overlaps processing instead
  of adding to it; ``latestOffset`` takes up to ``max_records_per_batch`` records and
  ``max_bytes_per_batch`` bytes from the buffer (Spark 4.1 has no admission control for Python
  sources, so the reader enforces the caps) and
  hands them to ``partitions``; after a restart, a batch in the offset log is re-read from
  Kinesis between its start and end sequence numbers;
- new shards (resharding) are discovered periodically and read from TRIM_HORIZON; closed shards
  are kept with ``closed: true`` so they are not read again.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.types import StructType

from moviestream.core.failure import report
from moviestream.core.transform import SOURCE_SCHEMA

# The name the source registers under. Spark keeps it in a checkpoint's metadata, so a checkpoint
# written by an earlier version resumes only under the same name: never change it.
SOURCE_FORMAT = "moviestream_kinesis"

GET_RECORDS_LIMIT = 10_000  # the Kinesis API maximum per call
POLL_INTERVAL_S = 0.25  # idle wait between polls of a shard that had nothing new (5 reads/s/shard max)
SHARD_DISCOVERY_S = 10.0  # how often the prefetcher looks for shards created by resharding
BUFFER_BYTES = 128 * 1024 * 1024  # prefetched data held at most (a Kinesis record is up to 1 MB)
# Per micro-batch: KPL aggregates make a record count alone a poor bound (20,000 records of 1 MB).
DEFAULT_BATCH_BYTES = 64 * 1024 * 1024
FIRST_POLL_WAIT_S = 5.0  # latestOffset waits this long at most for a poll when its buffer is empty

log = logging.getLogger("moviestream.kinesis_source")


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


class _ShardCursor:
    """Reads one shard forward with one long-lived iterator; renews it from the last position."""

    def __init__(self, client_factory, stream_name: str, shard_id: str, position: dict[str, Any]) -> None:
        self._client = client_factory
        self.stream_name = stream_name
        self.shard_id = shard_id
        self.position = dict(position)  # after the last record read
        self.closed = bool(position.get("closed"))
        self._iterator: str | None = None

    def poll(self, limit: int = GET_RECORDS_LIMIT) -> list[tuple]:
        """One GetRecords call: the records after the position (possibly none)."""
        if self.closed:
            return []
        client = self._client()
        if self._iterator is None:
            self._iterator = client.get_shard_iterator(
                StreamName=self.stream_name, ShardId=self.shard_id, **_iterator_args(self.position)
            )["ShardIterator"]
        try:
            resp = client.get_records(ShardIterator=self._iterator, Limit=limit)
        except client.exceptions.ExpiredIteratorException:
            self._iterator = None  # renewed from the position on the next poll
            return []
        except client.exceptions.ProvisionedThroughputExceededException:
            time.sleep(0.2)  # the shard's read limit (5 calls/s, 2 MB/s): back off, same iterator
            return []
        rows = [_row(self.shard_id, rec) for rec in resp["Records"]]
        if rows:
            self.position = {"type": "AFTER_SEQUENCE_NUMBER", "seq": rows[-1][1]}
        self._iterator = resp.get("NextShardIterator")
        if self._iterator is None:
            self.closed = True
        return rows


class _Prefetcher:
    """Polls every open shard in a daemon thread into per-shard buffers, within BUFFER_BYTES."""

    def __init__(self, reader: KinesisStreamReader, positions: dict[str, dict[str, Any]]) -> None:
        self._reader = reader
        self._cursors = {
            sid: _ShardCursor(reader.client, reader.stream_name, sid, pos) for sid, pos in positions.items()
        }
        self._buffers: dict[str, deque[tuple]] = {sid: deque() for sid in positions}
        self._buffered_bytes = 0
        self._passes = 0  # completed polling rounds over all shards
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kinesis-prefetch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        discovered_at = time.monotonic()
        while not self._stop.is_set():
            got = 0
            try:
                if time.monotonic() - discovered_at > self._reader.shard_discovery_s:
                    self._discover()
                    discovered_at = time.monotonic()
                for sid, cursor in list(self._cursors.items()):
                    if self._buffered_bytes >= BUFFER_BYTES:
                        break  # Spark is behind: stop reading until it takes some
                    rows = cursor.poll()
                    got += len(rows)
                    with self._changed:
                        self._buffers[sid].extend(rows)
                        self._buffered_bytes += sum(len(r[4]) for r in rows)
            except Exception as exc:  # throttling, endpoint down: keep polling
                log.warning(
                    "kinesis poll failed, retrying: %s", str(exc).splitlines()[0] if str(exc) else exc
                )
                report("kinesis poll", exc, "kinesis")  # counts toward a degraded outage
                self._stop.wait(1.0)
            else:
                report("kinesis poll", None, "kinesis")
            with self._changed:
                self._passes += 1
                self._changed.notify_all()
            if not got:
                self._stop.wait(POLL_INTERVAL_S)

    def _discover(self) -> None:
        for sid in self._reader._list_shard_ids():
            if sid not in self._cursors:
                cursor = _ShardCursor(
                    self._reader.client, self._reader.stream_name, sid, {"type": "TRIM_HORIZON"}
                )
                with self._changed:
                    self._buffers[sid] = deque()
                    self._cursors[sid] = cursor

    def take(
        self, positions: dict[str, dict[str, Any]], limit: int, limit_bytes: int
    ) -> dict[str, list[tuple]]:
        """Up to ``limit`` buffered records and about ``limit_bytes`` of data (at least one
        record per shard that has any), shared fairly between shards; ``positions`` (the planned
        offset) is advanced past them, and new or finished shards are noted in it."""
        with self._changed:
            # Nothing yet, or no whole polling round yet: wait for one more. The first batch thus
            # starts with every shard read, not only the first one polled, so a pre-filled stream
            # is cut into the same batches every run.
            if self._passes == 0 or not any(self._buffers.values()):
                seen = self._passes
                self._changed.wait_for(lambda: self._passes > seen, timeout=FIRST_POLL_WAIT_S)
            taken: dict[str, list[tuple]] = {}
            shard_ids = sorted(self._buffers)
            budget, budget_bytes = limit, limit_bytes
            for i, sid in enumerate(shard_ids):
                buffer = self._buffers[sid]
                share = max(1, budget // (len(shard_ids) - i))
                share_bytes = max(1, budget_bytes // (len(shard_ids) - i))
                rows: list[tuple] = []
                size = 0
                while buffer and len(rows) < share and (not rows or size + len(buffer[0][4]) <= share_bytes):
                    rows.append(buffer.popleft())
                    size += len(rows[-1][4])
                budget -= len(rows)
                budget_bytes -= size
                self._buffered_bytes -= size
                position = positions.setdefault(sid, {"type": "TRIM_HORIZON"})
                if rows:
                    taken[sid] = rows
                    position.clear()
                    position.update({"type": "AFTER_SEQUENCE_NUMBER", "seq": rows[-1][1]})
                if self._cursors[sid].closed and not buffer:
                    position["closed"] = True
            return taken

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


class KinesisStreamReader(DataSourceStreamReader):
    def __init__(self, options: dict[str, str]) -> None:
        self.stream_name = options["stream_name"]
        self.region = options.get("region") or None  # None: boto3's chain
        self.endpoint_url = options.get("endpoint_url") or None
        self.max_records = int(options.get("max_records_per_batch", "20000"))
        self.max_bytes = int(options.get("max_bytes_per_batch", str(DEFAULT_BATCH_BYTES)))
        self.shard_discovery_s = float(options.get("shard_discovery_seconds", str(SHARD_DISCOVERY_S)))
        self.starting_position = json.loads(options.get("starting_position_json", '{"type": "TRIM_HORIZON"}'))
        self._client = None
        self._client_lock = threading.Lock()
        self._position: dict[str, Any] | None = None  # what has been planned so far
        self._prefetcher: _Prefetcher | None = None
        self._prefetched: dict[str, tuple[dict, dict, dict[str, list[tuple]]]] = {}

    def __getstate__(self) -> dict[str, Any]:
        # Spark pickles the reader to run ``read`` in its Python workers: what the planner side
        # holds (client, lock, prefetch thread and buffers) stays behind.
        state = dict(self.__dict__)
        state.update(_client=None, _client_lock=None, _prefetcher=None, _prefetched={})
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._client_lock = threading.Lock()

    # -- Kinesis -------------------------------------------------------------------------------
    def client(self):
        with self._client_lock:  # created once; boto3 clients may then be shared between threads
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
        shards: list[str] = []
        token = None
        while True:
            kwargs = {"NextToken": token} if token else {"StreamName": self.stream_name}
            resp = self.client().list_shards(**kwargs)
            shards.extend(s["ShardId"] for s in resp["Shards"])
            token = resp.get("NextToken")
            if not token:
                return shards

    def _fetch_range(self, shard_id: str, start: dict[str, Any], until_seq: str) -> list[tuple]:
        """The records after ``start`` up to and including ``until_seq`` (re-reading a planned batch)."""
        cursor = _ShardCursor(self.client, self.stream_name, shard_id, start)
        rows: list[tuple] = []
        empty_reads = 0
        while not cursor.closed:
            polled = cursor.poll()
            for row in polled:
                rows.append(row)
                if int(row[1]) >= int(until_seq):
                    return rows
            empty_reads = 0 if polled else empty_reads + 1
            if empty_reads > 50:  # the range's end is gone (trimmed by retention): return what exists
                break
        return rows

    # -- Spark streaming API -------------------------------------------------------------------
    def initialOffset(self) -> dict:
        return {"shards": {sid: dict(self.starting_position) for sid in sorted(self._list_shard_ids())}}

    def latestOffset(self) -> dict:
        start = self._position if self._position is not None else self.initialOffset()
        shards = {sid: dict(pos) for sid, pos in start["shards"].items()}
        if self._prefetcher is None:
            for sid in self._list_shard_ids():  # shards created by resharding start at the beginning
                shards.setdefault(sid, {"type": "TRIM_HORIZON"})
            self._prefetcher = _Prefetcher(self, shards)
        rows_by_shard = self._prefetcher.take(shards, self.max_records, self.max_bytes)
        end = {"shards": dict(sorted(shards.items()))}
        if rows_by_shard:
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
            records = cached[2].get(sid, []) if use_cache and cached is not None else None
            parts.append(ShardPartition(sid, start_pos, end_seq, records))
        return parts

    def read(self, partition: InputPartition) -> Iterator[tuple]:
        assert isinstance(partition, ShardPartition) and partition.end_sequence is not None  # partitions'
        if partition.records is not None:
            yield from partition.records
            return
        yield from self._fetch_range(partition.shard_id, partition.start, partition.end_sequence)

    def commit(self, end: dict) -> None:
        if self._position is None:
            self._position = end
        key = json.dumps(end, sort_keys=True)
        # Drop everything planned up to and including this batch.
        for k in list(self._prefetched):
            del self._prefetched[k]
            if k == key:
                break

    def stop(self) -> None:
        if self._prefetcher is not None:
            self._prefetcher.stop()


class KinesisDataSource(DataSource):
    """``spark.readStream.format("moviestream_kinesis").option("stream_name", ...)``."""

    @classmethod
    def name(cls) -> str:
        return SOURCE_FORMAT

    def schema(self) -> StructType:
        return SOURCE_SCHEMA

    def streamReader(self, schema: StructType) -> DataSourceStreamReader:
        return KinesisStreamReader(self.options)
