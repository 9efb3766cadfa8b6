"""The quarantine index's rows (movies.quarantine, migration 0009): one per bad record, built from
the record's line in its S3 bad-records file, the same way when a batch commits and when
``quarantine reindex`` reads the files back. Pure: no I/O.

A record's ``quarantine_id`` is the sha256 of ``<s3_uri>#<line_number>``: a batch always writes
its bad records under the same key (moviestream/pipeline/batch_pipeline.py, s3_batch_keys), so
the id is stable across a batch's retries, and it exists for the records that have no event id
(an unparseable payload, a backfill's unreadable row).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from moviestream.warehouse.contract import BadRecordsFile, BatchKey, ReplayVerdicts

STATUSES = ("open", "replayed", "still_bad", "superseded", "dismissed", "expired")

QUARANTINE_COLUMNS = (
    "quarantine_id",
    "event_id",
    "movie_id",
    "job_name",
    "stream_id",
    "batch_id",
    "ingest_date",
    "source",
    "row_number",
    "reasons",
    "failed_rules",
    "record_error",
    "s3_uri",
    "line_number",
    "quarantined_at",
    "status",
    "status_changed_at",
    "status_changed_by",
    "replay_id",
    "note",
)
CHANGE_COLUMNS = ("quarantine_id", "status", "changed_at", "changed_by", "replay_id", "reasons", "note")

# The index's text columns' widths (VARCHAR(n)): a value is cut to fit, never refused.
_WIDTH = {"event_id": 64, "movie_id": 64, "source": 1024, "reasons": 4096, "failed_rules": 4096,
          "record_error": 1024, "status_changed_by": 256}  # fmt: skip


def quarantine_id(s3_uri: str, line_number: int) -> str:
    return hashlib.sha256(f"{s3_uri}#{line_number}".encode()).hexdigest()


def _cut(column: str, value: Any) -> Any:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    return text[: _WIDTH[column]]


def _json_list(value: Any, column: str) -> str:
    items = value if isinstance(value, list) else [] if value is None else [value]
    text = json.dumps([str(v) for v in items], ensure_ascii=False)
    if len(text) <= _WIDTH[column]:
        return text
    kept: list[str] = []  # whole items that fit, then a marker: still a JSON array
    for item in items:
        if len(json.dumps([*kept, str(item), "..."], ensure_ascii=False)) > _WIDTH[column]:
            break
        kept.append(str(item))
    return json.dumps([*kept, "..."], ensure_ascii=False)


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def index_rows(
    file: BadRecordsFile, key: BatchKey, quarantined_at: datetime, by: str
) -> Iterator[tuple[Any, ...]]:
    """movies.quarantine rows (QUARANTINE_COLUMNS order), status ``open``, one per line. A line
    that is not a JSON object (never written so, but the files are outside input to reindex)
    still gets its row, with the reason that it could not be read."""
    for number, line in enumerate(file.lines, start=1):
        try:
            doc = json.loads(line)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            doc = {"reasons": ["quarantine: the bad-record line is not a JSON object"]}
        yield (
            quarantine_id(file.s3_uri, number),
            _cut("event_id", doc.get("event_id")),
            _cut("movie_id", doc.get("movie_id")),
            key.job_name,
            key.stream_id,
            key.batch_id,
            file.ingest_date,
            _cut("source", doc.get("source")),
            _int_or_none(doc.get("row_number")),
            _json_list(doc.get("reasons"), "reasons"),
            _json_list(doc.get("failed_rules"), "failed_rules"),
            _cut("record_error", doc.get("record_error")),
            file.s3_uri,
            number,
            quarantined_at,
            "open",
            quarantined_at,
            _cut("status_changed_by", by),
            None,
            None,
        )


def opening_changes(rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """movies.quarantine_changes rows for newly indexed records: their ``open``."""
    names = ("quarantine_id", "quarantined_at", "status_changed_by")
    qid, at, by = (QUARANTINE_COLUMNS.index(c) for c in names)
    return [(r[qid], "open", r[at], r[by], None, None, None) for r in rows]


# The temporary table a replay chunk's verdicts are staged in (stage_replay.sql), in order.
REPLAY_STAGE_COLUMNS = ("quarantine_id", "movie_id", "event_produced_at", "status", "reasons", "failed_rules",
                        "changed_at", "changed_by", "replay_id")  # fmt: skip


def replay_stage_rows(replay: ReplayVerdicts, at: datetime) -> list[tuple[Any, ...]]:
    """stage_replay rows (REPLAY_STAGE_COLUMNS order) for a chunk's verdicts; the new reasons and
    failed rules only for those that failed again (the others keep theirs)."""
    by = _cut("status_changed_by", replay.by)
    rows = []
    for v in replay.verdicts:
        if v.status not in ("replayed", "still_bad", "expired"):
            raise ValueError(f"a replay cannot give the status {v.status!r}")
        failed = v.status == "still_bad"
        rows.append(
            (
                v.quarantine_id,
                _cut("movie_id", v.movie_id),
                v.event_produced_at,
                v.status,
                _json_list(list(v.reasons), "reasons") if failed else None,
                _json_list(list(v.failed_rules), "failed_rules") if failed else None,
                at,
                by,
                replay.replay_id,
            )
        )
    return rows
