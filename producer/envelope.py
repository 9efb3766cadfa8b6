"""One CSV row as a Kinesis user record: (partition key, JSON envelope bytes)."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

import orjson

from moviestream.movie_key import movie_id
from moviestream.record import EVENT_ID_PERSON, SCHEMA_VERSION
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


class EnvelopeEncoder:
    """Builds (partition key, JSON envelope) for the rows of one file; the producer never cleans values.

    The shape is moviestream.record.Envelope's (tests validate the bytes against the model) and the
    event id is ``event_id_for``'s (tests compare them). This is the producer's hottest loop, so
    what is constant per file is computed once, the dict goes straight to orjson (no pydantic),
    and the event id is one hash call over one string.
    """

    def __init__(self, source: str, header: tuple[str, ...]) -> None:
        self.source = source
        self.header = header
        self._id_prefix = f"{source}\x1e"
        self._title = header.index("Series_Title")
        self._year = header.index("Released_Year")

    def encode(
        self, row_number: int, values: tuple[str, ...] | list[str], produced_at: str
    ) -> tuple[str, bytes]:
        material = f"{self._id_prefix}{row_number}\x1e{'\x1f'.join(values)}".encode()
        body = {
            "schema_version": SCHEMA_VERSION,
            "event_id": hashlib.blake2b(material, digest_size=16, person=EVENT_ID_PERSON).hexdigest(),
            "source": self.source,
            "row_number": row_number,
            "produced_at": produced_at,
            "fields": dict(zip(self.header, values, strict=True)),
        }
        return movie_id(values[self._title], values[self._year]), orjson.dumps(body)


def envelope_bytes(source: str, row: Row, produced_at: str) -> tuple[str, bytes]:
    """(partition key, JSON envelope) for one CSV row."""
    return EnvelopeEncoder(source, row.header).encode(row.row_number, row.values, produced_at)
