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
from typing import Any

import orjson

from moviestream.movie_key import movie_id
from moviestream.record import SCHEMA_VERSION, event_id_for
from producer.aggregation import too_large
from producer.csv_source import InputError, Reject, Row, open_input, read_rows
from producer.sink import KinesisSink


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


class MillisecondClock:
    """UTC ISO-8601 timestamps with milliseconds, formatted once per millisecond."""

    def __init__(self) -> None:
        self._ms = -1
        self._text = ""

    def now(self) -> str:
        ms = time.time_ns() // 1_000_000
        if ms != self._ms:
            self._ms = ms
            dt = datetime.fromtimestamp(ms / 1000, UTC)
            self._text = dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"
        return self._text


def envelope_bytes(source: str, row: Row, produced_at: str) -> tuple[str, bytes]:
    """(partition key, JSON envelope) for one CSV row; the producer never cleans the values.

    The shape is moviestream.record.Envelope's (tests validate the bytes against the model);
    building the dict directly keeps pydantic off the per-row path.
    """
    fields = dict(zip(row.header, row.values, strict=True))
    body = {
        "schema_version": SCHEMA_VERSION,
        "event_id": event_id_for(source, row.row_number, row.values),
        "source": source,
        "row_number": row.row_number,
        "produced_at": produced_at,
        "fields": fields,
    }
    return movie_id(fields["Series_Title"], fields["Released_Year"]), orjson.dumps(body)


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
    stop: threading.Event | None = None,
    on_progress: Callable[[ReplaySummary], None] | None = None,
) -> ReplaySummary:
    """Replay ``location`` through a sink made by ``sink_factory(on_done)``."""
    stop = stop or threading.Event()
    source = source_name(location)
    summary = ReplaySummary(source=location)
    start_after = load_checkpoint(checkpoint_file, location) if (resume and checkpoint_file) else 0
    tracker = AckTracker(start_after)
    sink = sink_factory(tracker.done)
    clock = MillisecondClock()
    pacer = Pacer(rate)
    started = time.monotonic()
    last_progress = started
    rejects = None
    try:
        for item in _rows(location, loop, stop):
            if isinstance(item, int):  # a new pass over the file
                summary.loops = item
                continue
            if item.row_number <= start_after and summary.loops == 1:
                summary.rows_skipped_resume += 1
                continue
            if isinstance(item, Reject):
                summary.rows_rejected += 1
                rejects = rejects or _open_rejects(rejects_file, append=resume)
                rejects.write(orjson.dumps(asdict(item) | {"source": location}) + b"\n")
                tracker.done([item.row_number])
                continue
            summary.rows_read += 1
            key, data = envelope_bytes(source, item, clock.now())
            if too_large(key, data):
                summary.rows_rejected += 1
                rejects = rejects or _open_rejects(rejects_file, append=resume)
                reason = f"record of {len(data)} bytes exceeds the Kinesis limit of 1 MiB"
                line = {"row_number": item.row_number, "line_number": item.line_number, "reason": reason}
                rejects.write(orjson.dumps(line | {"source": location}) + b"\n")
                tracker.done([item.row_number])
                continue
            pacer.wait(stop)
            sink.add(key, data, item.row_number)
            if on_progress and summary.rows_read % 512 == 0 and time.monotonic() - last_progress >= 0.5:
                last_progress = time.monotonic()
                _copy_stats(summary, sink)
                summary.seconds = round(last_progress - started, 3)
                on_progress(summary)
            if (limit is not None and summary.rows_read >= limit) or stop.is_set():
                break
    finally:
        sink.close()  # flushes what is in flight, also on Ctrl-C
        if rejects is not None:
            rejects.close()
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


def _rows(location: str, loop: bool, stop: threading.Event) -> Iterator[int | Row | Reject]:
    passes = 0
    while True:
        passes += 1
        yield passes
        with open_input(location) as stream:
            yield from read_rows(stream, location)
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


def _open_rejects(path: Path, append: bool):  # noqa: ANN202
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "ab" if append else "wb")  # noqa: SIM115 - closed by replay()


def _copy_stats(summary: ReplaySummary, sink: KinesisSink) -> None:
    for name, value in sink.stats.as_dict().items():
        setattr(summary, name, value)
