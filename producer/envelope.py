"""One CSV row as a Kinesis user record: (partition key, JSON envelope bytes)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import orjson

from moviestream.movie_key import movie_id
from moviestream.record import SCHEMA_VERSION, event_id_for
from producer.csv_source import Row


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
