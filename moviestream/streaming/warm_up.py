"""The streaming job's warm-up: synthetic micro-batches through a streaming query of their own,
before the real query starts, until judging a record costs what it will in a warm job.

A new JVM runs Spark's generated code interpreted until it has run often enough to be compiled,
and a new job's Python workers import their modules on first use. Synthetic batches judged from an
in-memory frame left the first real batches 3 to 25 times slower per record than later ones
(bench/README.md): the real batches take another path, a Python streaming data source read by a
micro-batch query. So the rehearsal takes that path: a streaming source of this module yields
synthetic raw Kinesis rows, and each micro-batch goes through ``BatchPipeline.rehearse`` (every
step of a batch but the warehouse and S3). Rounds stop when the cost per record levels off
(``leveled``), or at the round limit or the time budget.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
from pyspark.sql.types import StructType

from moviestream.core import logs
from moviestream.core.failure import root_cause
from moviestream.core.transform import SOURCE_SCHEMA
from moviestream.pipeline.batch_pipeline import WARM_UP_ARRIVAL, warm_up_envelope

WARM_UP_FORMAT = "moviestream_warm_up"

log = logs.get("moviestream.warm_up")


@dataclass(frozen=True)
class WarmUpPlan:
    """How long to rehearse: at least ``min_rounds``, at most ``max_rounds`` and ``budget_s``;
    stop once a round's cost per record is within a factor ``settle`` of the best round before it."""

    max_rounds: int = 12
    records: int = 10_000  # per round: enough rows for the JIT to compile the per-row code
    # Per-record cost still fell by a tenth a round after 5 rounds (bench/README.md); after 5
    # the first real batch of a 15,000-record drain judged at 1.7x the steady cost, after 10, 1.4x.
    min_rounds: int = 8
    settle: float = 1.1
    budget_s: float = 120.0


def leveled(per_record: list[float], plan: WarmUpPlan) -> bool:
    """Whether the cost per record has levelled off: after ``min_rounds``, the last round's is
    within a factor ``settle`` of the best earlier round's, either way (still falling faster
    than that, the JIT is still at work; far above it, a pause such as a collection)."""
    if len(per_record) < max(plan.min_rounds, 2):
        return False
    last, best = per_record[-1], min(per_record[:-1])
    return max(last, best) <= plan.settle * min(last, best)


class _Slice(InputPartition):
    def __init__(self, rows: list[tuple]) -> None:
        self.rows = rows


def synthetic_rows(shard: int, first: int, count: int) -> list[tuple]:
    """Raw Kinesis rows of user records ``first`` to ``first + count - 1`` on one shard, as a
    producer sends them: KPL aggregates of up to 1 MB (the producer's default), every 50th
    record plain."""
    from aws_kinesis_agg.aggregator import RecordAggregator

    name = f"warm-up-{shard}"
    aggregator = RecordAggregator()
    payloads: list[bytes] = []
    for i in range(first, first + count):
        if i % 50 == 0:
            payloads.append(warm_up_envelope(i))
            continue
        full = aggregator.add_user_record(f"pk-{i}", warm_up_envelope(i))
        if full is not None:
            payloads.append(full.get_contents()[2])
    if aggregator.get_num_user_records():
        payloads.append(aggregator.clear_and_get().get_contents()[2])
    return [(name, str(first + n + 1), "warm-up", WARM_UP_ARRIVAL, data) for n, data in enumerate(payloads)]


class WarmUpStreamReader(DataSourceStreamReader):
    """A new round of ``records`` synthetic rows at every trigger, spread over ``shards``
    partitions as a stream's shards are; nothing is ever exhausted: the query is stopped. The
    rows travel inside the partitions, as the Kinesis source's prefetched records do."""

    def __init__(self, options: dict[str, str]) -> None:
        self.records = int(options.get("records", str(WarmUpPlan().records)))
        self.shards = max(1, int(options.get("shards", "2")))
        self._round = 0

    def initialOffset(self) -> dict:
        return {"round": 0}

    def latestOffset(self) -> dict:
        self._round += 1
        return {"round": self._round}

    def partitions(self, start: dict, end: dict) -> list[InputPartition]:
        per_shard = -(-self.records // self.shards)
        base = end["round"] * self.records
        return [
            _Slice(
                synthetic_rows(
                    shard, base + shard * per_shard, min(per_shard, self.records - shard * per_shard)
                )
            )
            for shard in range(self.shards)
            if shard * per_shard < self.records
        ]

    def read(self, partition: InputPartition) -> Iterator[tuple]:
        assert isinstance(partition, _Slice)
        yield from partition.rows

    def commit(self, end: dict) -> None:
        pass


class WarmUpDataSource(DataSource):
    """``spark.readStream.format("moviestream_warm_up")``: synthetic raw Kinesis rows."""

    @classmethod
    def name(cls) -> str:
        return WARM_UP_FORMAT

    def schema(self) -> StructType:
        return SOURCE_SCHEMA

    def streamReader(self, schema: StructType) -> DataSourceStreamReader:
        return WarmUpStreamReader(self.options)


@dataclass
class _Rounds:
    plan: WarmUpPlan
    rehearse: Callable[[DataFrame], tuple[int, float]]
    per_record_ms: list[float] = field(default_factory=list)
    done: threading.Event = field(default_factory=threading.Event)

    def batch(self, frame: DataFrame, _batch_id: int) -> None:
        if self.done.is_set():  # a trigger that fired before the query was stopped
            return
        records, seconds = self.rehearse(frame)
        self.per_record_ms.append(round(1000 * seconds / max(records, 1), 4))
        log.info(
            "warm_up_round",
            round=len(self.per_record_ms),
            records=records,
            seconds=round(seconds, 3),
            ms_per_record=self.per_record_ms[-1],
        )
        if leveled(self.per_record_ms, self.plan) or len(self.per_record_ms) >= self.plan.max_rounds:
            self.done.set()


def warm_up_stream(
    spark: SparkSession, rehearse: Callable[[DataFrame], tuple[int, float]], plan: WarmUpPlan
) -> dict[str, Any]:
    """Rehearse synthetic micro-batches (see the module's docstring); returns what it did. A
    failure here, of a round or of the query's start, is logged and returned, and the job goes on
    cold: the warm-up only ever saves time."""
    started = time.monotonic()
    rounds = _Rounds(plan, rehearse)
    error: BaseException | None = None
    try:
        error = _rehearse_rounds(spark, rounds, plan, started + plan.budget_s)
    except Exception as exc:  # the query could not start: nothing to stop
        error = exc
    message = None
    if error is not None:  # a round's error reaches here wrapped by Spark
        message = root_cause(str(error))[:500] or repr(error)
        log.warning("warm_up_failed", error=message)
    return {
        "rounds": len(rounds.per_record_ms),
        "ms_per_record": rounds.per_record_ms,
        "leveled": bool(rounds.per_record_ms) and leveled(rounds.per_record_ms, plan),
        "seconds": round(time.monotonic() - started, 3),
        "error": message,
    }


def _rehearse_rounds(
    spark: SparkSession, rounds: _Rounds, plan: WarmUpPlan, deadline: float
) -> BaseException | None:
    """Run the warm-up query until the rounds are done, the query ends or the deadline passes;
    what the query ended with, if it failed."""
    spark.dataSource.register(WarmUpDataSource)
    with tempfile.TemporaryDirectory(prefix="moviestream-warm-up-") as checkpoint:
        query = (
            spark.readStream.format(WARM_UP_FORMAT)
            .option("records", str(plan.records))
            .option("shards", str(spark.sparkContext.defaultParallelism))
            .load()
            .writeStream.foreachBatch(rounds.batch)
            .option("checkpointLocation", checkpoint)
            .trigger(processingTime="0 seconds")
            .queryName("moviestream_warm_up")
            .start()
        )
        try:
            while not rounds.done.wait(0.1) and query.isActive and time.monotonic() < deadline:
                pass
            return None if query.isActive else query.exception()
        finally:
            query.stop()
