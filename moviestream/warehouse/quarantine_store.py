"""The quarantine index in the warehouse (movies.quarantine, movies.quarantine_changes): adding
records that are not indexed yet, reading them back, and changing their status, each change
kept with when, by whom and in which replay. The statements are SQL both warehouses run as
written; the rows come from quarantine.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from moviestream.warehouse.quarantine import CHANGE_COLUMNS, QUARANTINE_COLUMNS, STATUSES, opening_changes
from moviestream.warehouse.sql_files import multi_row_inserts
from moviestream.warehouse.targets import query_rows, transaction

_IDS_PER_QUERY = 500  # ids per IN (...) list


def _chunks(items: Sequence[Any], size: int = _IDS_PER_QUERY):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def add_missing(dsn: str, rows: Sequence[Sequence[Any]]) -> int:
    """Index the rows (QUARANTINE_COLUMNS order) whose quarantine_id is not indexed yet, with
    their opening change; returns how many were added. Idempotent: the table is locked, so two
    reindexes (or a reindex and a batch) never index a record twice."""
    ids = [r[0] for r in rows]
    with transaction(dsn) as cur:
        cur.execute("LOCK movies.quarantine")
        known: set[str] = set()
        for chunk in _chunks(ids):
            marks = ", ".join(["%s"] * len(chunk))
            cur.execute(
                f"SELECT quarantine_id FROM movies.quarantine WHERE quarantine_id IN ({marks})", list(chunk)
            )
            known.update(r[0] for r in cur.fetchall())
        new = [r for r in rows if r[0] not in known]
        for statement, params in [
            *multi_row_inserts("quarantine", QUARANTINE_COLUMNS, new),
            *multi_row_inserts("quarantine_changes", CHANGE_COLUMNS, opening_changes(new)),
        ]:
            cur.execute(statement, params)
    return len(new)


@dataclass(frozen=True)
class Selection:
    """Which records: every field set narrows it (None: any)."""

    job: str | None = None
    status: str | None = None
    since: datetime | None = None  # quarantined at or after
    until: datetime | None = None  # quarantined before
    rule: str | None = None  # a failed rule's text contains this
    reason: str | None = None  # a reason contains this
    ids: tuple[str, ...] = ()
    id_prefix: str | None = None  # the records whose id starts with this (hex digits)
    # The records the replay with this id has still to judge: open, or still bad after another.
    pending_for_replay: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = ["1 = 1"]
        params: list[Any] = []
        if self.job is not None:
            clauses.append("job_name = %s")
            params.append(self.job)
        if self.status is not None:
            if self.status not in STATUSES:
                raise ValueError(f"unknown status {self.status!r}; expected one of {', '.join(STATUSES)}")
            clauses.append("status = %s")
            params.append(self.status)
        if self.since is not None:
            clauses.append("quarantined_at >= %s")
            params.append(self.since)
        if self.until is not None:
            clauses.append("quarantined_at < %s")
            params.append(self.until)
        if self.rule is not None:
            clauses.append("STRPOS(failed_rules, %s) > 0")
            params.append(self.rule)
        if self.reason is not None:
            clauses.append("STRPOS(reasons, %s) > 0")
            params.append(self.reason)
        if self.id_prefix is not None:
            if not self.id_prefix or any(c not in "0123456789abcdef" for c in self.id_prefix):
                raise ValueError(f"{self.id_prefix!r} is not the start of a quarantine id (hex digits)")
            clauses.append("quarantine_id LIKE %s")
            params.append(f"{self.id_prefix}%")
        if self.pending_for_replay is not None:
            clauses.append(
                "(status = 'open' OR (status = 'still_bad' AND (replay_id IS NULL OR replay_id <> %s)))"
            )
            params.append(self.pending_for_replay)
        if self.ids:
            clauses.append(f"quarantine_id IN ({', '.join(['%s'] * len(self.ids))})")
            params.extend(self.ids)
        return " AND ".join(clauses), params


LIST_COLUMNS = ("quarantine_id", "status", "quarantined_at", "job_name", "batch_id", "ingest_date",
                "event_id", "movie_id", "reasons", "failed_rules", "record_error", "s3_uri", "line_number",
                "status_changed_at", "status_changed_by", "replay_id", "note")  # fmt: skip


def select(dsn: str, selection: Selection, limit: int | None = None) -> list[dict[str, Any]]:
    """The selected records, oldest first, as dicts of LIST_COLUMNS."""
    where, params = selection.where()
    order = "quarantined_at, s3_uri, line_number"
    sql = f"SELECT {', '.join(LIST_COLUMNS)} FROM movies.quarantine WHERE {where} ORDER BY {order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    _, rows = query_rows(dsn, sql, params)
    return [dict(zip(LIST_COLUMNS, row, strict=True)) for row in rows]


def replay_totals(dsn: str, replay_id: str) -> dict[str, int]:
    """How many records the replay left in each status (all its runs: a rerun resumes it)."""
    _, rows = query_rows(
        dsn,
        "SELECT status, COUNT(*) FROM movies.quarantine WHERE replay_id = %s GROUP BY status",
        (replay_id,),
    )
    return {str(status): int(count) for status, count in rows}


def open_count(dsn: str, job: str) -> int:
    """How many of the job's records are open."""
    _, rows = query_rows(
        dsn, "SELECT COUNT(*) FROM movies.quarantine WHERE job_name = %s AND status = 'open'", (job,)
    )
    return int(rows[0][0])


def set_status(
    dsn: str,
    ids: Sequence[str],
    status: str,
    by: str,
    at: datetime,
    *,
    replay_id: str | None = None,
    note: str | None = None,
    reasons: str | None = None,
) -> int:
    """Move the records to ``status`` and keep the change; returns how many changed."""
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}")
    changed = 0
    with transaction(dsn) as cur:
        cur.execute("LOCK movies.quarantine")
        for chunk in _chunks(list(ids)):
            marks = ", ".join(["%s"] * len(chunk))
            cur.execute(
                "UPDATE movies.quarantine SET status = %s, status_changed_at = %s, status_changed_by = %s,"
                f" replay_id = %s, note = %s WHERE quarantine_id IN ({marks})",
                [status, at, by[:256], replay_id, note, *chunk],
            )
            changed += max(cur.rowcount, 0)
            changes = [(qid, status, at, by[:256], replay_id, reasons, note) for qid in chunk]
            for statement, params in multi_row_inserts("quarantine_changes", CHANGE_COLUMNS, changes):
                cur.execute(statement, params)
    return changed
