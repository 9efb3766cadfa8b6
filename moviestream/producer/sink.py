"""Sending to Kinesis: per-shard buffers, PutRecords within the API limits, retries, dead letters.

Threads: the caller (reading, building envelopes, aggregating) adds records; one sender thread
per shard takes full PutRecords batches from a small queue (so sending overlaps reading, and a
slow endpoint applies back-pressure), and a ticker thread sends whatever has waited the maximum
buffer time. Only the failed entries of a partial failure are resent, with exponential backoff
and full jitter, up to ``max_attempts``; what still fails goes to the dead-letter file.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import orjson

from moviestream.producer.aggregation import AggregateBuilder, Entry, ShardMap

PUT_RECORDS_ENTRIES = 500
PUT_RECORDS_BYTES = 5 * 1024 * 1024
THROTTLE_CODES = frozenset({"ProvisionedThroughputExceededException", "ThrottlingException"})


@dataclass
class SendStats:
    user_records_sent: int = 0
    kinesis_records: int = 0
    api_calls: int = 0
    retries: int = 0
    throttles: int = 0
    dead_lettered: int = 0
    bytes: int = 0

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class DeadLetterFile:
    """Append-only JSON lines: one user record per line, enough to resend it."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, entries: list[Entry], reason: str) -> None:
        if self.path is None:
            return
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab") as fh:
                for e in entries:
                    for row, (key, data) in zip(e.rows, e.payloads(), strict=True):
                        line = {
                            "row_number": row,
                            "partition_key": key,
                            "data": data.decode("utf-8"),
                            "reason": reason,
                        }
                        fh.write(orjson.dumps(line) + b"\n")


class _ShardBuffer:
    def __init__(self) -> None:
        self.aggregate = AggregateBuilder()
        self.aggregate_since = 0.0
        self.entries: list[Entry] = []
        self.entries_bytes = 0
        self.entries_since = 0.0


class KinesisSink:
    def __init__(
        self,
        client: Any,
        stream_name: str,
        *,
        aggregate: bool = True,
        max_buffer_ms: float = 100.0,
        max_attempts: int = 8,
        base_backoff_s: float = 0.1,
        max_backoff_s: float = 5.0,
        dead_letter: Path | None = None,
        on_done: Callable[[list[int]], None] | None = None,
        queue_batches: int = 4,
    ) -> None:
        self.client = client
        self.stream_name = stream_name
        self.aggregate = aggregate
        self.max_buffer_s = max_buffer_ms / 1000.0
        self.max_attempts = max_attempts
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        self.dead_letter = DeadLetterFile(dead_letter)
        self.on_done = on_done or (lambda rows: None)
        self.stats = SendStats()
        self._stats_lock = threading.Lock()
        self._lock = threading.Lock()
        self.shards = ShardMap(self._list_shards())
        self._buffers = {sid: _ShardBuffer() for sid in self.shards.shard_ids}
        self._queues: dict[str, queue.Queue[list[Entry] | None]] = {
            sid: queue.Queue(maxsize=queue_batches) for sid in self.shards.shard_ids
        }
        self._idle = {sid: threading.Event() for sid in self.shards.shard_ids}
        for event in self._idle.values():
            event.set()
        self._senders = [
            threading.Thread(target=self._sender, args=(sid,), name=f"sender-{sid}", daemon=True)
            for sid in self.shards.shard_ids
        ]
        self._closing = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="flush-ticker", daemon=True)
        for t in (*self._senders, self._ticker):
            t.start()

    def _list_shards(self) -> list[dict[str, Any]]:
        shards, token = [], None
        while True:
            kwargs = {"NextToken": token} if token else {"StreamName": self.stream_name}
            resp = self.client.list_shards(**kwargs)
            shards.extend(resp["Shards"])
            token = resp.get("NextToken")
            if not token:
                return shards

    # -- adding ------------------------------------------------------------------------------
    def add(self, partition_key: str, data: bytes, row: int) -> None:
        """Queue one user record (the caller rejects records over the 1 MiB limit first)."""
        shard = self.shards.shard_for(partition_key)
        with self._lock:
            buf = self._buffers[shard]
            if not self.aggregate:
                self._stage(shard, buf, Entry(data, partition_key, None, [row]))
                return
            agg = buf.aggregate
            if not len(agg):
                buf.aggregate_since = time.monotonic()
            if agg.try_add(partition_key, data, row):
                return
            if len(agg):  # full: send it and start the next aggregate with this record
                self._stage(shard, buf, agg.build())
                agg = buf.aggregate = AggregateBuilder()
                buf.aggregate_since = time.monotonic()
                if agg.try_add(partition_key, data, row):
                    return
            # Fits only unaggregated (the KPL sends such records as they are).
            self._stage(shard, buf, Entry(data, partition_key, None, [row]))

    def add_entry(self, shard: str, entry: Entry) -> None:
        """Queue a Kinesis record built elsewhere (a worker's aggregate) for its shard."""
        with self._lock:
            self._stage(shard, self._buffers[shard], entry)

    def _stage(self, shard: str, buf: _ShardBuffer, entry: Entry) -> None:
        """Add a Kinesis record to the shard's PutRecords batch; hand the batch over when full."""
        if buf.entries and (
            len(buf.entries) >= PUT_RECORDS_ENTRIES or buf.entries_bytes + entry.size > PUT_RECORDS_BYTES
        ):
            self._hand_over(shard, buf)
        if not buf.entries:
            buf.entries_since = time.monotonic()
        buf.entries.append(entry)
        buf.entries_bytes += entry.size
        if len(buf.entries) >= PUT_RECORDS_ENTRIES:
            self._hand_over(shard, buf)

    def _hand_over(self, shard: str, buf: _ShardBuffer) -> None:
        batch, buf.entries, buf.entries_bytes = buf.entries, [], 0
        self._queues[shard].put(batch)  # blocks when the sender is behind: back-pressure

    def _flush_shard(self, shard: str, buf: _ShardBuffer, now: float | None) -> None:
        if len(buf.aggregate) and (now is None or now - buf.aggregate_since >= self.max_buffer_s):
            self._stage(shard, buf, buf.aggregate.build())
            buf.aggregate = AggregateBuilder()
        # A batch due by the timer goes to an idle sender only: while the sender is busy the
        # records would wait anyway, so they keep filling the batch up to the API limits
        # (fewer, fuller PutRecords calls).
        due = now is None or (now - buf.entries_since >= self.max_buffer_s and self._idle[shard].is_set())
        if buf.entries and due:
            self._hand_over(shard, buf)

    def _tick(self) -> None:
        interval = max(0.005, self.max_buffer_s / 4)
        while not self._closing.wait(interval):
            with self._lock:
                now = time.monotonic()
                for shard, buf in self._buffers.items():
                    self._flush_shard(shard, buf, now)

    def close(self) -> None:
        """Send everything buffered, wait for the senders, stop the threads."""
        self._closing.set()
        self._ticker.join()
        with self._lock:
            for shard, buf in self._buffers.items():
                self._flush_shard(shard, buf, None)
        for q in self._queues.values():
            q.put(None)
        for t in self._senders:
            t.join()

    # -- sending -----------------------------------------------------------------------------
    def _count(self, **deltas: int) -> None:
        with self._stats_lock:
            for name, delta in deltas.items():
                setattr(self.stats, name, getattr(self.stats, name) + delta)

    def _sender(self, shard: str) -> None:
        q, idle = self._queues[shard], self._idle[shard]
        while (batch := q.get()) is not None:
            idle.clear()
            self._send(batch)
            if q.empty():
                idle.set()

    def _send(self, batch: list[Entry]) -> None:
        attempt = 0
        while batch:
            attempt += 1
            request = []
            for e in batch:
                item: dict[str, Any] = {"Data": e.data, "PartitionKey": e.partition_key}
                if e.explicit_hash_key:
                    item["ExplicitHashKey"] = e.explicit_hash_key
                request.append(item)
            error = None
            try:
                results = self.client.put_records(StreamName=self.stream_name, Records=request)["Records"]
            except Exception as exc:  # any failed call is retried like a failed entry
                error = type(exc).__name__
                code = getattr(exc, "response", {}).get("Error", {}).get("Code", error)
                results = [{"ErrorCode": code}] * len(batch)
            self._count(api_calls=1)
            failed, throttles, ok_records, ok_users, ok_bytes = [], 0, 0, 0, 0
            done_rows: list[int] = []
            for entry, result in zip(batch, results, strict=True):
                code = result.get("ErrorCode")
                if code:
                    throttles += code in THROTTLE_CODES
                    failed.append(entry)
                else:
                    ok_records += 1
                    ok_users += entry.user_records
                    ok_bytes += entry.size
                    done_rows.extend(entry.rows)
            self._count(
                kinesis_records=ok_records, user_records_sent=ok_users, bytes=ok_bytes, throttles=throttles
            )
            if done_rows:
                self.on_done(done_rows)
            if not failed:
                return
            if attempt >= self.max_attempts:
                reason = f"still failing after {attempt} attempts ({error or results[0].get('ErrorCode')})"
                self.dead_letter.write(failed, reason)
                self._count(dead_lettered=sum(e.user_records for e in failed))
                self.on_done([row for e in failed for row in e.rows])
                return
            self._count(retries=len(failed))
            # Exponential backoff with full jitter.
            time.sleep(random.uniform(0, min(self.max_backoff_s, self.base_backoff_s * 2 ** (attempt - 1))))
            batch = failed
