"""Replay a movies CSV into Kinesis as JSON envelopes (the record contract of docs/ARCHITECTURE.md).

Reading, envelope building and aggregation run on the caller's thread; sending runs on the sink's
per-shard threads. Every row read ends up counted exactly once: sent, rejected (rejects file),
dead-lettered (dead-letter file), or not yet read when the run was interrupted (resume checkpoint).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from moviestream.core.csv_source import (
    DEFAULT_LIMITS,
    InputError,
    ReadLimits,
    Reject,
    Row,
    open_input,
    read_rows,
)
from moviestream.core.envelope import EnvelopeEncoder, MillisecondClock
from moviestream.producer.aggregation import too_large
from moviestream.producer.parallel import Context, WorkerPool, split
from moviestream.producer.sink import KinesisSink


@dataclass
class ReplaySummary:
    source: str
    rows_read: int = 0
    rows_rejected: int = 0
    rows_skipped_resume: int = 0
    user_records_sent: int = 0
    kinesis_records: int = 0
    api_calls: int = 0
    retries: int = 0
    throttles: int = 0
    dead_lettered: int = 0
    bytes: int = 0
    seconds: float = 0.0
    loops: int = 0
    interrupted: bool = False
    last_acknowledged_row: int = 0
    rejects_file: str | None = None
    checkpoint: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class AckTracker:
    """The resume point: the highest row N such that every row <= N is handled (sent, rejected
    or dead-lettered). Rows are acknowledged out of order by the per-shard senders."""

    def __init__(self, start_after: int = 0) -> None:
        self._lock = threading.Lock()
        self.watermark = start_after
        self._done: set[int] = set()

    def done(self, rows: list[int]) -> None:
        with self._lock:
            self._done.update(rows)
            while self.watermark + 1 in self._done:
                self.watermark += 1
                self._done.discard(self.watermark)


class Pacer:
    """Paces rows at ``rate`` rows per second by row order (row i is due at t0 + i / rate)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.start = time.monotonic()
        self.count = 0

    def wait(self, stop: threading.Event) -> None:
        if not self.interval:
            return
        self.count += 1
        # Sleep in slices and poll: never Event.wait() here, because the Ctrl-C handler calls
        # stop.set(), and a handler that runs while this thread holds the Event's lock deadlocks.
        while (delay := self.start + self.count * self.interval - time.monotonic()) > 0 and not stop.is_set():
            time.sleep(min(delay, 0.05))


def source_name(location: str) -> str:
    return location.rsplit("/", 1)[-1]


def _file_identity(location: str) -> dict[str, Any]:
    if location.startswith("s3://"):
        return {"source": location}
    path = Path(location)
    return {"source": str(path.resolve()), "size": path.stat().st_size}


def load_checkpoint(path: Path, location: str) -> int:
    """The last acknowledged row of an earlier run of this same file (0 if none)."""
    if not path.exists():
        return 0
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read checkpoint {path}: {exc}") from exc
    identity = _file_identity(location)
    if any(saved.get(k) != v for k, v in identity.items()):
        raise InputError(
            f"checkpoint {path} belongs to another file or the file changed; remove it to start over"
        )
    return int(saved.get("last_acknowledged_row", 0))


def save_checkpoint(path: Path, location: str, last_row: int, complete: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = _file_identity(location) | {
        "last_acknowledged_row": last_row,
        "complete": complete,
        "updated_at": datetime.now(UTC).isoformat(),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    tmp.replace(path)


def replay(
    location: str,
    sink_factory: Callable[[Callable[[list[int]], None]], KinesisSink],
    *,
    rejects_file: Path,
    checkpoint_file: Path | None = None,
    resume: bool = False,
    limit: int | None = None,
    rate: float | None = None,
    loop: bool = False,
    workers: int = 1,
    limits: ReadLimits = DEFAULT_LIMITS,
    stop: threading.Event | None = None,
    chunk_bytes: int = 0,
    on_progress: Callable[[ReplaySummary], None] | None = None,
) -> ReplaySummary:
    """Replay ``location`` through a sink made by ``sink_factory(on_done)``.

    With ``workers`` > 1 and no pacing, limit or loop, envelopes and aggregates are built by that
    many worker processes (moviestream.producer.parallel), each parsing chunks of about
    ``chunk_bytes`` of the file (0: parallel.BLOCK_BYTES); otherwise everything runs on this thread.
    """
    stop = stop or threading.Event()
    summary = ReplaySummary(source=location)
    start_after = load_checkpoint(checkpoint_file, location) if (resume and checkpoint_file) else 0
    tracker = AckTracker(start_after)
    bulk = workers > 1 and rate is None and limit is None and not loop
    # Workers are forked before the sink starts its threads (forking a threaded process is unsafe).
    pool = WorkerPool(workers) if bulk else None
    sink = sink_factory(tracker.done)
    run = _Run(
        location,
        sink,
        tracker,
        summary,
        rejects_file,
        append_rejects=resume,
        stop=stop,
        on_progress=on_progress,
        limits=limits,
    )
    started = time.monotonic()
    try:
        continue_after: int | None = start_after
        if pool is not None:
            continue_after = run.parallel(pool, start_after, chunk_bytes)
        if continue_after is not None:
            run.sequential(continue_after, resumed=start_after, limit=limit, rate=rate, loop=loop)
    finally:
        if pool is not None:
            pool.close()
        sink.close()  # flushes what is in flight, also on Ctrl-C
        run.close()
    _copy_stats(summary, sink)
    summary.interrupted = stop.is_set()
    summary.seconds = round(time.monotonic() - started, 3)
    summary.last_acknowledged_row = tracker.watermark
    summary.rejects_file = str(rejects_file) if summary.rows_rejected else None
    if checkpoint_file is not None and not loop:
        complete = not summary.interrupted and limit is None
        save_checkpoint(checkpoint_file, location, tracker.watermark, complete)
        summary.checkpoint = str(checkpoint_file)
    return summary


class _Run:
    """The state of one replay: counts, rejects file, progress."""

    def __init__(
        self,
        location: str,
        sink: KinesisSink,
        tracker: AckTracker,
        summary: ReplaySummary,
        rejects_file: Path,
        *,
        append_rejects: bool,
        stop: threading.Event,
        on_progress: Callable[[ReplaySummary], None] | None,
        limits: ReadLimits = DEFAULT_LIMITS,
    ) -> None:
        self.location = location
        self.limits = limits
        self.source = source_name(location)
        self.sink = sink
        self.tracker = tracker
        self.summary = summary
        self.rejects_file = rejects_file
        self.append_rejects = append_rejects
        self.stop = stop
        self.on_progress = on_progress
        self.started = time.monotonic()
        self.last_progress = self.started
        self._rejects: IO[bytes] | None = None

    def reject(self, line: dict[str, Any]) -> None:
        self.summary.rows_rejected += 1
        if self._rejects is None:
            self._rejects = _open_rejects(self.rejects_file, append=self.append_rejects)
        self._rejects.write(orjson.dumps(line | {"source": self.location}) + b"\n")
        self.tracker.done([line["row_number"]])

    def progress(self) -> None:
        if self.on_progress and time.monotonic() - self.last_progress >= 0.5:
            self.last_progress = time.monotonic()
            _copy_stats(self.summary, self.sink)
            self.summary.seconds = round(self.last_progress - self.started, 3)
            self.on_progress(self.summary)

    def parallel(self, pool: WorkerPool, start_after: int, chunk_bytes: int = 0) -> int | None:
        """Bulk path. Returns None when the file is done, or the row after which the sequential
        reader must continue (a chunk whose row boundaries the workers could not confirm)."""
        with open_input(self.location) as stream:
            header, chunks = split(stream, self.location, self.limits, chunk_bytes)
            ctx = Context(
                self.location,
                self.source,
                header,
                tuple(self.sink.shards.starts),
                tuple(self.sink.shards.shard_ids),
                self.sink.aggregate,
                start_after,
                self.limits,
            )
            for result in pool.map_in_order(chunks, ctx, self.stop):
                if result.mismatch:
                    return result.first_row - 1
                self.summary.rows_read += result.rows_read
                self.summary.rows_skipped_resume += result.rows_skipped
                for line in result.rejects:
                    self.reject(line)
                for shard, entry in result.entries:
                    self.sink.add_entry(shard, entry)
                self.progress()
                if self.stop.is_set():
                    break
        return None

    def sequential(
        self, start_after: int, *, resumed: int, limit: int | None, rate: float | None, loop: bool
    ) -> None:
        """Row by row on this thread. Rows up to ``start_after`` were handled already (by an
        earlier run when <= ``resumed``, else by the parallel path of this run)."""
        clock = MillisecondClock()
        pacer = Pacer(rate)
        summary = self.summary
        encoder: EnvelopeEncoder | None = None
        for item in _rows(self.location, loop, self.stop, self.limits):
            if isinstance(item, int):  # a new pass over the file
                summary.loops = item
                continue
            if item.row_number <= start_after and summary.loops == 1:
                summary.rows_skipped_resume += item.row_number <= resumed
                continue
            if isinstance(item, Reject):
                self.reject(asdict(item))
                continue
            summary.rows_read += 1
            if encoder is None or encoder.header is not item.header:
                encoder = EnvelopeEncoder(self.source, item.header)
            key, data = encoder.encode(item.row_number, item.values, clock.now())
            if reason := too_large(key, data):
                self.reject(
                    {"row_number": item.row_number, "line_number": item.line_number, "reason": reason}
                )
                continue
            pacer.wait(self.stop)
            self.sink.add(key, data, item.row_number)
            if summary.rows_read % 512 == 0:
                self.progress()
            if (limit is not None and summary.rows_read >= limit) or self.stop.is_set():
                break

    def close(self) -> None:
        if self._rejects is not None:
            self._rejects.close()


def _rows(
    location: str, loop: bool, stop: threading.Event, limits: ReadLimits
) -> Iterator[int | Row | Reject]:
    passes = 0
    while True:
        passes += 1
        yield passes
        with open_input(location) as stream:
            yield from read_rows(stream, location, limits)
        if not loop or stop.is_set():
            return


def resend_dead_letters(
    path: Path, sink_factory: Callable[[Callable[[list[int]], None]], KinesisSink]
) -> ReplaySummary:
    """Send the records of a dead-letter file again; those that fail again go to a new one."""
    if not path.is_file():
        raise InputError(f"dead-letter file not found: {path}")
    claimed = path.with_name(path.name + f".resending-{int(time.time())}")
    path.replace(claimed)  # new failures are appended to a fresh file at the same path
    summary = ReplaySummary(source=str(claimed))
    started = time.monotonic()
    sink = sink_factory(lambda rows: None)
    try:
        with open(claimed, "rb") as fh:
            for line in fh:
                if not line.strip():
                    continue
                record = orjson.loads(line)
                summary.rows_read += 1
                sink.add(
                    record["partition_key"], record["data"].encode("utf-8"), int(record.get("row_number", 0))
                )
    finally:
        sink.close()
    _copy_stats(summary, sink)
    summary.seconds = round(time.monotonic() - started, 3)
    if sink.stats.dead_lettered == 0:
        claimed.unlink()
    return summary


def _open_rejects(path: Path, append: bool):
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "ab" if append else "wb")  # closed by replay()


def _copy_stats(summary: ReplaySummary, sink: KinesisSink) -> None:
    for name, value in sink.stats.as_dict().items():
        setattr(summary, name, value)
