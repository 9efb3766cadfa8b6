"""One CSV row as a Kinesis user record: (partition key, JSON envelope bytes)."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

import orjson

from moviestream.core.csv_source import Row
from moviestream.core.movie_key import movie_id
from moviestream.core.record import EVENT_ID_PERSON, SCHEMA_VERSION


def envelope_document(
    event_id: str,
    source: str,
    row_number: int,
    produced_at: str,
    fields: dict[str, str],
    schema_version: int = SCHEMA_VERSION,
) -> dict[str, object]:
    """The envelope one CSV row travels in (moviestream.core.record.Envelope's shape): built here
    only, by the producer, the pipeline's warm-up and the tests alike."""
    return {
        "schema_version": schema_version,
        "event_id": event_id,
        "source": source,
        "row_number": row_number,
        "produced_at": produced_at,
        "fields": fields,
    }


def envelope_json(
    event_id: str,
    source: str,
    row_number: int,
    produced_at: str,
    fields: dict[str, str],
    schema_version: int = SCHEMA_VERSION,
) -> bytes:
    """envelope_document as the JSON bytes of a Kinesis user record."""
    return orjson.dumps(envelope_document(event_id, source, row_number, produced_at, fields, schema_version))


def iso_millis(when: datetime) -> str:
    """A naive UTC time as the envelope's ``produced_at`` writes it: ISO-8601, milliseconds, Z."""
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


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

    The shape is moviestream.core.record.Envelope's (tests validate the bytes against the model) and the
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

    def event_id(self, row_number: int, values: tuple[str, ...] | list[str]) -> str:
        """The row's event id (``event_id_for``'s, computed with what is constant per file)."""
        material = f"{self._id_prefix}{row_number}\x1e{'\x1f'.join(values)}".encode()
        return hashlib.blake2b(material, digest_size=16, person=EVENT_ID_PERSON).hexdigest()

    def movie_key(self, values: tuple[str, ...] | list[str]) -> str:
        """The row's movie_id, also its partition key."""
        return movie_id(values[self._title], values[self._year])

    def encode(
        self, row_number: int, values: tuple[str, ...] | list[str], produced_at: str
    ) -> tuple[str, bytes]:
        fields = dict(zip(self.header, values, strict=True))
        body = envelope_json(self.event_id(row_number, values), self.source, row_number, produced_at, fields)
        return self.movie_key(values), body


def envelope_bytes(source: str, row: Row, produced_at: str) -> tuple[str, bytes]:
    """(partition key, JSON envelope) for one CSV row."""
    return EnvelopeEncoder(source, row.header).encode(row.row_number, row.values, produced_at)
