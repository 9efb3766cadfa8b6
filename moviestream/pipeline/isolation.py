"""Poison isolation: judging a batch raised twice, so the error is taken to be caused by some of its
records, and those records (never the whole batch) become bad records.

The batch's records (the copy cached at the retry, so no new read of the stream), read out as
Arrow in a fixed order, are expanded on the driver record by record, then judged in halves down
to the single user records that raise. Those become bad records ``internal error: <type>:
<message>``; the rest are judged again together, so dataset-level rules see only them. Past
``bound`` isolated records the original error is raised: the batch fails as before.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Sequence, Set
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from moviestream.core import logs
from moviestream.core.failure import GaveUp, PermanentFailure, one_line
from moviestream.core.spark import log_level
from moviestream.core.transform import ARROW_EXPANDED, expand_batches
from moviestream.pipeline.read_out import BAD_RECORD_FIELDS
from moviestream.quality.reference_sources import ReferenceLoadError
from moviestream.warehouse.contract import BatchKey

log = logs.get("pipeline")

_PLACE = "_isolation_place"  # a user record's place in a batch being bisected

# Errors of the I/O around judging, which the failure policy handles: never a record's fault.
NOT_DATA = (PermanentFailure, GaveUp, ReferenceLoadError)

# judge(records, expanded, redelivery) -> (read-out table, rule results): the whole judging.
JudgeBatch = Callable[[DataFrame, bool, bool], tuple[pa.Table, Any]]
# judge_rows(records, redelivery): the row-level judging and read-out only (one Spark job).
JudgeRows = Callable[[DataFrame, bool], object]


class Isolation:
    """One batch's isolation (``run``); ``isolated`` holds the isolated records' bad-record lines."""

    def __init__(self, judge: JudgeBatch, judge_rows: JudgeRows, bound: int) -> None:
        self.judge, self.judge_rows, self.bound = judge, judge_rows, bound
        self.isolated: list[str] = []
        self.bad: list[int] = []  # places of the isolated user records
        self.probes = 0

    def run(
        self, source: DataFrame, file_records: bool, error: BaseException, key: BatchKey
    ) -> tuple[pa.Table, Any, list[str]]:
        """(read-out table, rule results, isolated lines) of the batch without its poison, or
        ``error`` raised again past the bound."""
        spark = source.sparkSession
        raw = source.toArrow()
        order = [("shard_id", "ascending"), ("sequence_number", "ascending")]
        if file_records:
            order.append(("sub_sequence_number", "ascending"))
        raw = raw.sort_by(order)
        log.error("batch_poisoned", batch_id=key.batch_id, records=raw.num_rows, error=root_error(error))
        self.expanded = raw if file_records else expand_each(raw, self.isolated)
        self.redelivery = not file_records
        # Each user record gets its place; probes filter one cached copy by place (no new copy of
        # the batch per probe).
        places = pa.array(range(self.expanded.num_rows), pa.int64())
        self.base = spark.createDataFrame(self.expanded.append_column(_PLACE, places)).persist()
        # Halves are cut at a Kinesis record's edge where one is near the middle: one Kinesis
        # record's user records are looked at together first.
        keys = pc.binary_join_element_wise(
            self.expanded["shard_id"], self.expanded["sequence_number"], pa.scalar("/")
        ).to_pylist()
        self.edges = [i for i in range(1, len(keys)) if keys[i] != keys[i - 1]]
        # Spark logs every failed task with its traceback at ERROR: a bisection fails dozens on
        # purpose, so its log is quiet meanwhile (the cause is in batch_poisoned, once).
        spark.sparkContext.setLogLevel("OFF")
        try:
            table, results = self._bisect()
        finally:
            spark.sparkContext.setLogLevel(log_level())
            self.base.unpersist()
        if self._over_bound():
            log.error(
                "batch_isolation_gave_up",
                batch_id=key.batch_id,
                isolated=len(self.isolated),
                bound=self.bound,
            )
            raise error
        log.warning("batch_isolated", batch_id=key.batch_id, isolated=len(self.isolated), probes=self.probes)
        return table, results, self.isolated

    def _over_bound(self) -> bool:
        return len(self.isolated) > self.bound

    def _bisect(self) -> tuple[Any, Any]:
        # The row-level read-out first (cheap probes); the rules too only if that was not it.
        everything = self.expanded.num_rows
        self._search(0, everything, full=False)
        if self._over_bound():
            return None, None
        try:
            return self._judged()
        except NOT_DATA:
            raise
        except Exception as exc:  # raised by dataset-level rules: bisect with them
            self._search(0, everything, full=True, failure=exc)
            return (None, None) if self._over_bound() else self._judged()

    def _part(self, lo: int, hi: int) -> DataFrame:
        """Places [lo, hi) without those already isolated: a later search (with the rules) does
        not find them again."""
        inside = (F.col(_PLACE) >= lo) & (F.col(_PLACE) < hi)
        if self.bad:
            inside &= ~F.col(_PLACE).isin(self.bad)
        return self.base.where(inside).drop(_PLACE)

    def _raises(self, lo: int, hi: int, full: bool) -> BaseException | None:
        """What judging places [lo, hi) raises, if anything: the row-level read-out alone (one
        Spark job), or, ``full``, the rule results too."""
        self.probes += 1
        try:
            if full:
                self.judge(self._part(lo, hi), True, self.redelivery)
            else:
                self.judge_rows(self._part(lo, hi), self.redelivery)
        except NOT_DATA:
            raise
        except Exception as exc:  # what isolation looks for
            return exc
        return None

    def _search(self, lo: int, hi: int, full: bool, failure: BaseException | None = None) -> None:
        """Isolate the single places in [lo, hi) judging raises for; ``failure``: what the range
        is already known to raise."""
        budget = self.bound - len(self.isolated)  # what expansion isolated counts too
        found = find_poison(
            lo, hi, self.edges, lambda a, b: self._raises(a, b, full), budget, failure, skip=set(self.bad)
        )
        for place, error in found:
            self.bad.append(place)
            self.isolated.append(isolated_line(self.expanded.slice(place, 1).to_pylist()[0], error))

    def _judged(self) -> tuple[pa.Table, Any]:
        kept = self.base.where(~F.col(_PLACE).isin(self.bad)) if self.bad else self.base
        return self.judge(kept.drop(_PLACE), True, self.redelivery)


def find_poison(
    lo: int,
    hi: int,
    edges: Sequence[int],
    raises: Callable[[int, int], BaseException | None],
    budget: int,
    failure: BaseException | None = None,
    skip: Set[int] = frozenset(),
) -> list[tuple[int, BaseException]]:
    """(place, error) of each single place in [lo, hi) that ``raises(a, b)`` reports an error for,
    in place order, found by halving: a range that raises is split in two, at the ``edges``
    entry (a Kinesis record's first user record) nearest its middle if it has one. Each probe is
    a Spark job, so none is made twice: when the left half judges fine, the right half is known
    to raise. ``failure``: what [lo, hi) is known to raise. ``skip``: places already isolated,
    which the probes leave out. Stops once more than ``budget`` places are found."""
    found: list[tuple[int, BaseException]] = []

    def search(lo: int, hi: int, failure: BaseException | None) -> None:
        while lo < hi and lo in skip:  # a range of skipped places only holds nothing to find
            lo += 1
        if len(found) > budget or lo >= hi:
            return
        failure = failure or raises(lo, hi)
        if failure is None:
            return
        if hi - lo == 1 or all(place in skip for place in range(lo + 1, hi)):
            found.append((lo, failure))
            return
        inside = [e for e in edges if lo < e < hi]
        mid = min(inside, key=lambda e: abs(2 * e - lo - hi)) if inside else (lo + hi) // 2
        left = raises(lo, mid)
        if left is not None:
            search(lo, mid, left)
        search(mid, hi, None if left is not None else failure)

    search(lo, hi, failure)
    return found


def expand_each(raw: pa.Table, isolated: list[str]) -> pa.Table:
    """The Kinesis records as user records (EXPANDED_SCHEMA), expanded on the driver one by one:
    a record whose expansion raises is isolated whole (one bad record for the Kinesis record)."""
    columns = ["shard_id", "sequence_number", "partition_key", "approximate_arrival_timestamp", "data"]
    source = raw.select(columns)
    parts: list[pa.RecordBatch] = []
    for i in range(source.num_rows):
        row = source.slice(i, 1)
        try:
            parts.extend(expand_batches(iter(row.to_batches())))
        except Exception as exc:  # isolated, like a user record that raises
            record = raw.slice(i, 1).to_pylist()[0]
            record["payload"] = record.get("data")
            isolated.append(isolated_line(record, exc))
    return pa.Table.from_batches(parts, schema=ARROW_EXPANDED)


def isolated_line(record: dict[str, Any], error: BaseException) -> str:
    """An isolated record's bad-record line: the same document as any bad record's, with what
    can be known without judging it (its envelope's identity, when its payload is JSON)."""
    reason = f"internal error: {root_error(error)}"[:2000]
    payload = record.get("payload")
    envelope: dict[str, Any] = {}
    try:
        parsed = json.loads(payload) if payload else None
        envelope = parsed if isinstance(parsed, dict) else {}
    except (ValueError, RecursionError):
        pass
    if payload is None and "event_id" in record:  # a file row handed over as columns: no JSON
        envelope = record
    arrival = record.get("approximate_arrival_timestamp")
    doc = dict.fromkeys(BAD_RECORD_FIELDS)
    doc.update(
        reasons=[reason],
        failed_rules=[],
        event_id=_text(envelope.get("event_id")),
        source=_text(envelope.get("source")),
        row_number=envelope.get("row_number") if isinstance(envelope.get("row_number"), int) else None,
        movie_id=record.get("movie_id"),
        shard_id=record.get("shard_id"),
        sequence_number=record.get("sequence_number"),
        sub_sequence_number=record.get("sub_sequence_number"),
        partition_key=record.get("partition_key"),
        approximate_arrival_timestamp=arrival.isoformat() if arrival is not None else None,
        record_error=reason,
        parse_errors=[],
        missing_fields=[],
        payload_base64=base64.b64encode(payload).decode() if payload else None,
    )
    return json.dumps(doc)


def root_error(error: BaseException) -> str:
    """``Type: message`` of what raised. An error raised in a Python worker reaches the driver as
    PySpark's PythonException holding the worker's traceback: its last line names the cause."""
    if type(error).__name__ == "PythonException":
        lines = [line for line in str(error).splitlines() if line.strip()]
        causes = [line for line in lines if re.match(r"^[A-Za-z_][\w.]*: ", line)]
        if causes:
            return causes[-1].strip()
    return one_line(error)


def _text(value: Any) -> str | None:  # whatever the JSON held
    return value if isinstance(value, str) else None
