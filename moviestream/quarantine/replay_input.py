"""What a replay judges, and what it made of each record. Pure: no I/O, no Spark.

``replay_input`` turns a quarantined record (its index row, its line in the S3 bad-records file,
its correction if any) into the row the pipeline judges (EXPANDED_SCHEMA, as the backfill builds
them), or into a verdict straight away when there is nothing to judge. Each row carries the
record's quarantine_id as its sequence number, so ``verdicts_of`` can map the pipeline's
bad-record lines and read-out back to the records they are about.

The envelope rebuilt for a record keeps what the original had: its event id, source, row and
``produced_at``, so a replayed record loads with its original event time and never beats a newer
event for its movie. A correction replaces fields before judging (the movie id is then the one
the corrected title and year give); a record with no fields of its own (an unparseable payload, a
CSV row the backfill could not read) is built from its correction alone.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

from moviestream.core.envelope import envelope_json, iso_millis
from moviestream.core.record import event_id_for
from moviestream.core.transform import movie_key
from moviestream.warehouse.contract import Verdict

REPLAY_SHARD = "replay"  # the shard_id of every replayed record

# Reasons a replay gives without judging (the record's new reasons, kept in the index).
NEEDS_FIX = "replay: a CSV row the backfill could not read needs its corrected fields (--fixes) to replay"
WHOLE_FILE = (
    "replay: a file that could not be read replays by backfilling it again: moviestream backfill {uri}"
)
NOTHING_TO_JUDGE = "replay: its bad-records line holds neither fields nor a payload"
NOT_READ_BACK = "replay: the pipeline returned no verdict for it"


def _when(text: Any) -> datetime | None:
    """An ISO-8601 time from a bad-record line as naive UTC, or None."""
    if not isinstance(text, str):
        return None
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _row_number(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _corrected(fields: Mapping[str, Any], fix: Mapping[str, str | None] | None) -> dict[str, Any]:
    out = dict(fields)
    for name, value in (fix or {}).items():
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
    return out


def _derived_event_id(quarantine_id: str) -> str:
    """An event id for a corrected record that never had one (its payload did not parse)."""
    return hashlib.blake2b(f"quarantine\x1e{quarantine_id}".encode(), digest_size=16).hexdigest()


def replay_input(
    record: Mapping[str, Any], line: Mapping[str, Any] | None, fix: Mapping[str, str | None] | None
) -> tuple[Any, ...] | Verdict:
    """The EXPANDED_SCHEMA row to judge for ``record`` (an index row: quarantine_id, ingest_date),
    or its verdict when there is nothing to judge. ``line`` is the record's line in its S3 file
    (None: the file is gone, the record expired)."""
    qid: str = record["quarantine_id"]
    if line is None:
        return Verdict(qid, "expired")
    day: date = record["ingest_date"]
    arrival = _when(line.get("approximate_arrival_timestamp")) or datetime.combine(day, time())
    if line.get("failure_scope") == "file":
        return Verdict(qid, "still_bad", reasons=[WHOLE_FILE.format(uri=line.get("source_uri"))])
    raw_fields = line.get("raw_fields")
    if isinstance(raw_fields, dict):  # the envelope parsed: rebuilt as it was, corrected
        original: Any = line  # its event id, source, row and time as they were, even if wrong
        payload = envelope_json(
            original.get("event_id"),
            original.get("source"),
            original.get("row_number"),
            original.get("produced_at_raw"),
            _corrected(raw_fields, fix),
        )
    elif "raw_line" in line:  # a CSV row the backfill could not read
        if not fix:
            return Verdict(qid, "still_bad", reasons=[NEEDS_FIX])
        produced = _when(line.get("produced_at_raw")) or datetime.combine(day, time())
        arrival = produced
        fields = _corrected({}, fix)
        source, row_number = _text(line.get("source")) or "quarantine", _row_number(line.get("row_number"))
        # The event id the backfill would have given the row, had it been readable.
        event_id = event_id_for(source, row_number, tuple(fields.values()))
        payload = envelope_json(event_id, source, row_number, iso_millis(produced), fields)
    elif isinstance(line.get("payload_base64"), str):  # the payload did not parse
        if fix:  # built from the correction, at the time the pipeline gave it (its arrival)
            payload = envelope_json(
                _text(line.get("event_id")) or _derived_event_id(qid),
                _text(line.get("source")) or "quarantine",
                _row_number(line.get("row_number")),
                iso_millis(arrival),
                _corrected({}, fix),
            )
        else:  # judged again as it came: it fails again, with today's reasons
            try:
                payload = base64.b64decode(line["payload_base64"], validate=True)
            except (binascii.Error, ValueError):
                return Verdict(qid, "still_bad", reasons=[NOTHING_TO_JUDGE])
    else:
        return Verdict(qid, "still_bad", reasons=[NOTHING_TO_JUDGE])
    key = movie_key(payload)
    # Aware: Spark would read a naive time in the driver's local zone.
    return (REPLAY_SHARD, qid, 0, key or qid, arrival.replace(tzinfo=UTC), payload, None, key)


def _naive(when: Any) -> datetime | None:
    if not isinstance(when, datetime):
        return None
    return when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when


def verdicts_of(judged_ids: Sequence[str], bad_lines: Sequence[str], read_out: Any) -> list[Verdict]:
    """A verdict for each judged record: ``still_bad`` with its new reasons when the pipeline
    wrote a bad-record line for it, ``replayed`` with its movie and event time when its read-out
    is good. ``read_out`` is the batch's read-out (a pyarrow Table; None: nothing was judged)."""
    failed: dict[str, Verdict] = {}
    for line in bad_lines:
        doc = json.loads(line)
        qid = doc.get("sequence_number")
        failed[qid] = Verdict(
            qid, "still_bad", reasons=doc.get("reasons") or [], failed_rules=doc.get("failed_rules") or []
        )
    passed: dict[str, Verdict] = {}
    if read_out is not None and read_out.num_rows:
        columns = ("is_good", "is_duplicate", "sequence_number", "movie_id", "event_produced_at")
        values = [read_out.column(c).to_pylist() for c in columns]
        for good, duplicate, qid, movie, produced in zip(*values, strict=True):
            if good and not duplicate:
                passed[qid] = Verdict(qid, "replayed", movie_id=movie, event_produced_at=_naive(produced))
    lost = Verdict("", "still_bad", reasons=[NOT_READ_BACK])
    return [
        failed.get(q) or passed.get(q) or Verdict(q, lost.status, reasons=lost.reasons) for q in judged_ids
    ]
