"""Replay a movies CSV into Kinesis as JSON envelopes (the record contract of docs/ARCHITECTURE.md)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from moviestream.movie_key import movie_id
from moviestream.record import Envelope, event_id_for, utc_now_ms
from producer.csv_source import Reject, Row, open_input, read_rows
from producer.kinesis_sink import KinesisSink


@dataclass
class ReplaySummary:
    source: str
    rows_read: int = 0
    rows_rejected: int = 0
    user_records_sent: int = 0
    kinesis_records: int = 0
    api_calls: int = 0
    retries: int = 0
    throttles: int = 0
    dead_lettered: int = 0
    bytes: int = 0
    seconds: float = 0.0
    rejects_file: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def envelope_json(source: str, row: Row) -> tuple[str, bytes]:
    """(partition key, JSON envelope) for one CSV row; the producer never cleans the values."""
    fields = dict(zip(row.header, row.values, strict=True))
    env = Envelope(
        event_id=event_id_for(source, row.row_number, row.values),
        source=source,
        row_number=row.row_number,
        produced_at=utc_now_ms(),
        fields=fields,
    )
    key = movie_id(fields["Series_Title"], fields["Released_Year"])
    return key, env.model_dump_json().encode("utf-8")


def replay(
    location: str,
    sink: KinesisSink,
    *,
    rejects_file: Path,
    limit: int | None = None,
    on_progress: Callable[[ReplaySummary], None] | None = None,
) -> ReplaySummary:
    source = Path(location).name if not location.startswith("s3://") else location.rsplit("/", 1)[-1]
    summary = ReplaySummary(source=location)
    started = time.monotonic()
    rejects = None
    try:
        with open_input(location) as stream:
            for item in read_rows(stream, location):
                if isinstance(item, Reject):
                    summary.rows_rejected += 1
                    rejects = rejects or _open_rejects(rejects_file)
                    rejects.write(json.dumps(asdict(item) | {"source": location}) + "\n")
                    continue
                summary.rows_read += 1
                key, data = envelope_json(source, item)
                if sink.too_large(key, data):
                    summary.rows_rejected += 1
                    rejects = rejects or _open_rejects(rejects_file)
                    reason = f"record of {len(data)} bytes exceeds the Kinesis limit of 1 MiB"
                    rejects.write(
                        json.dumps(
                            {
                                "row_number": item.row_number,
                                "line_number": item.line_number,
                                "reason": reason,
                                "source": location,
                            }
                        )
                        + "\n"
                    )
                    continue
                sink.add(key, data)
                if on_progress and summary.rows_read % 1000 == 0:
                    _copy_stats(summary, sink)
                    on_progress(summary)
                if limit is not None and summary.rows_read >= limit:
                    break
            sink.flush()
    finally:
        if rejects is not None:
            rejects.close()
    _copy_stats(summary, sink)
    summary.seconds = round(time.monotonic() - started, 3)
    summary.rejects_file = str(rejects_file) if summary.rows_rejected else None
    return summary


def _open_rejects(path: Path):  # noqa: ANN202
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed by replay()


def _copy_stats(summary: ReplaySummary, sink: KinesisSink) -> None:
    s = sink.stats
    summary.user_records_sent = s.user_records_sent
    summary.kinesis_records = s.kinesis_records
    summary.api_calls = s.api_calls
    summary.retries = s.retries
    summary.throttles = s.throttles
    summary.dead_lettered = s.dead_lettered
    summary.bytes = s.bytes_sent
