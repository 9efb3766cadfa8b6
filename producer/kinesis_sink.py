"""KPL-style aggregation and PutRecords with retries of only the failed entries.

Like the Kinesis Producer Library, user records are aggregated per *predicted shard* (from the
MD5 of the partition key and the shards' hash-key ranges) and each aggregate is sent with an
explicit hash key inside its shard, so one movie's events stay in order on one shard.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from bisect import bisect_right
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_kinesis_agg
from aws_kinesis_agg.aggregator import RecordAggregator

RECORD_LIMIT = 1024 * 1024  # Kinesis: data + partition key of one record
MAX_PARTITION_KEY = 256
# Room for the partition key the aggregate is sent with (it counts towards the 1 MiB).
AGGREGATE_LIMIT = RECORD_LIMIT - MAX_PARTITION_KEY
PUT_RECORDS_ENTRIES = 500
PUT_RECORDS_BYTES = 5 * 1024 * 1024


@dataclass
class SendStats:
    user_records_sent: int = 0
    kinesis_records: int = 0
    api_calls: int = 0
    retries: int = 0
    throttles: int = 0
    dead_lettered: int = 0
    bytes_sent: int = 0


@dataclass
class _Entry:
    data: bytes
    partition_key: str
    explicit_hash_key: str | None
    user_records: int
    payloads: list[tuple[str, bytes]] = field(default_factory=list)  # for the dead-letter file

    @property
    def size(self) -> int:
        return len(self.data) + len(self.partition_key.encode("utf-8"))


class ShardMap:
    """Predicts the shard of a partition key the way Kinesis routes it (MD5 -> hash-key range)."""

    def __init__(self, shards: list[dict[str, Any]]) -> None:
        open_shards = [s for s in shards if "EndingSequenceNumber" not in s.get("SequenceNumberRange", {})]
        ranges = sorted(
            (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]), s["ShardId"])
            for s in (open_shards or shards)
        )
        self._starts = [r[0] for r in ranges]
        self._ranges = ranges

    def shard_for(self, partition_key: str) -> str:
        h = int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")  # noqa: S324 - routing
        i = max(0, bisect_right(self._starts, h) - 1)
        return self._ranges[i][2]


class KinesisSink:
    def __init__(
        self,
        client: Any,
        stream_name: str,
        *,
        aggregate: bool = True,
        max_attempts: int = 8,
        max_buffer_ms: float = 100.0,
        dead_letter: Path | None = None,
        base_backoff_s: float = 0.1,
        max_backoff_s: float = 5.0,
    ) -> None:
        self.client = client
        self.stream_name = stream_name
        self.aggregate = aggregate
        self.max_attempts = max_attempts
        self.max_buffer_s = max_buffer_ms / 1000.0
        self.dead_letter = dead_letter
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        self.stats = SendStats()
        self._pending: list[_Entry] = []
        self._pending_bytes = 0
        self._pending_since = 0.0
        self._aggregators: dict[str, tuple[RecordAggregator, float, list[tuple[str, bytes]]]] = {}
        self._shards = ShardMap(self._list_shards()) if aggregate else None

    def _list_shards(self) -> list[dict[str, Any]]:
        shards, token = [], None
        while True:
            kwargs = {"NextToken": token} if token else {"StreamName": self.stream_name}
            resp = self.client.list_shards(**kwargs)
            shards.extend(resp["Shards"])
            token = resp.get("NextToken")
            if not token:
                return shards

    # -- adding records ------------------------------------------------------------------------
    @staticmethod
    def too_large(partition_key: str, data: bytes) -> bool:
        return len(data) + len(partition_key.encode("utf-8")) > RECORD_LIMIT

    def add(self, partition_key: str, data: bytes) -> None:
        """Queue one user record (the caller has already rejected records over the limit)."""
        if not self.aggregate:
            self._enqueue(_Entry(data, partition_key, None, 1, [(partition_key, data)]))
        else:
            assert self._shards is not None
            shard = self._shards.shard_for(partition_key)
            slot = self._aggregators.get(shard)
            if slot is None:
                slot = (RecordAggregator(max_size=AGGREGATE_LIMIT), time.monotonic(), [])
                self._aggregators[shard] = slot
            agg, _, payloads = slot
            full = agg.add_user_record(partition_key, data)
            if full is not None:
                # The record that did not fit starts the next aggregate (the library keeps it).
                self._emit(full, payloads[:])
                self._aggregators[shard] = (agg, time.monotonic(), [(partition_key, data)])
            else:
                payloads.append((partition_key, data))
        self.flush_expired()

    def _emit(self, agg_record: Any, payloads: list[tuple[str, bytes]]) -> None:
        pk, ehk, data = agg_record.get_contents()
        self._enqueue(_Entry(data, pk, ehk, agg_record.get_num_user_records(), payloads))

    def flush_expired(self) -> None:
        """Send aggregates whose oldest record has waited the maximum buffer time."""
        now = time.monotonic()
        for shard, (agg, opened, payloads) in list(self._aggregators.items()):
            if agg.get_num_user_records() and now - opened >= self.max_buffer_s:
                self._emit(agg.clear_and_get(), payloads)
                del self._aggregators[shard]
        if self._pending and now - self._pending_since >= self.max_buffer_s:
            self._send_pending()

    def flush(self) -> None:
        for agg, _, payloads in self._aggregators.values():
            if agg.get_num_user_records():
                self._emit(agg.clear_and_get(), payloads)
        self._aggregators.clear()
        while self._pending:
            self._send_pending()

    # -- sending -------------------------------------------------------------------------------
    def _enqueue(self, entry: _Entry) -> None:
        if self._pending and (
            len(self._pending) >= PUT_RECORDS_ENTRIES or self._pending_bytes + entry.size > PUT_RECORDS_BYTES
        ):
            self._send_pending()
        if not self._pending:
            self._pending_since = time.monotonic()
        self._pending.append(entry)
        self._pending_bytes += entry.size
        if len(self._pending) >= PUT_RECORDS_ENTRIES:
            self._send_pending()

    def _send_pending(self) -> None:
        batch, self._pending, self._pending_bytes = self._pending, [], 0
        attempt = 0
        while batch:
            attempt += 1
            self.stats.api_calls += 1
            request = []
            for e in batch:
                item = {"Data": e.data, "PartitionKey": e.partition_key}
                if e.explicit_hash_key:
                    item["ExplicitHashKey"] = e.explicit_hash_key
                request.append(item)
            try:
                resp = self.client.put_records(StreamName=self.stream_name, Records=request)
                results = resp["Records"]
            except self.client.exceptions.ProvisionedThroughputExceededException:
                results = [{"ErrorCode": "ProvisionedThroughputExceededException"}] * len(batch)
            failed = []
            for entry, result in zip(batch, results, strict=True):
                if "ErrorCode" in result and result["ErrorCode"]:
                    if result["ErrorCode"] == "ProvisionedThroughputExceededException":
                        self.stats.throttles += 1
                    failed.append(entry)
                else:
                    self.stats.kinesis_records += 1
                    self.stats.user_records_sent += entry.user_records
                    self.stats.bytes_sent += entry.size
            if not failed:
                return
            if attempt >= self.max_attempts:
                self._dead_letter(failed)
                return
            self.stats.retries += len(failed)
            # Exponential backoff with full jitter.
            time.sleep(random.uniform(0, min(self.max_backoff_s, self.base_backoff_s * 2 ** (attempt - 1))))
            batch = failed

    def _dead_letter(self, entries: list[_Entry]) -> None:
        for e in entries:
            self.stats.dead_lettered += e.user_records
        if self.dead_letter is None:
            return
        self.dead_letter.parent.mkdir(parents=True, exist_ok=True)
        with open(self.dead_letter, "a", encoding="utf-8") as fh:
            for e in entries:
                for pk, data in e.payloads:
                    fh.write(json.dumps({"partition_key": pk, "data": data.decode("utf-8")}) + "\n")


_ = aws_kinesis_agg  # the wire format comes from this package
