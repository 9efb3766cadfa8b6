"""The exactly-once load of one batch, written once for every warehouse.

``load(session, batch)`` runs LOAD_STEPS in one transaction; a ``LoadSession`` (PostgreSQL's in
postgres.py, Redshift's in redshift.py) says how each step is done on its database:

1. lock the ledger: one batch load at a time, whichever job (the stream and a backfill may run
   together). The newer-wins DELETE and the MERGE are two statements, and a movie committed by
   another load between them would be overwritten by an older event; a second attempt at the
   same batch waits, then finds the ledger row. Redshift does not enforce primary keys, so the
   lock is what serialises two attempts there;
2. skip the batch (roll back, return None) if the ledger has it;
3. ``stage``: create the temporary staging tables (stage.sql) and fill them;
   A replay's chunk also stages its records' verdicts (stage_replay.sql) and applies them to the
   quarantine index (replay_verdicts.sql) here, before the MERGE overwrites what they compare;
4. ``merge``: merge_movies.sql; ``bridges``: refresh_bridges.sql;
5. ``ledger``: the ledger row, the rule outcomes and the metric history, then commit.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from moviestream.core.failpoints import failpoint
from moviestream.warehouse.contract import (
    HISTORY_COLUMNS,
    OUTCOME_COLUMNS,
    BatchKey,
    BatchLoad,
    history_rows,
    ledger_row,
    outcome_rows,
)
from moviestream.warehouse.quarantine import (
    CHANGE_COLUMNS,
    QUARANTINE_COLUMNS,
    index_rows,
    opening_changes,
    replay_stage_rows,
)

LOAD_STEPS = ("stage", "merge", "bridges", "ledger")


class LoadSession(Protocol):
    """One open transaction on a warehouse, and how each load step is done there."""

    def lock_ledger(self) -> None: ...

    def committed(self, key: BatchKey) -> bool: ...

    def run_file(self, name: str) -> None:
        """Run one of the SQL files (stage.sql, merge_movies.sql, refresh_bridges.sql)."""

    def fill_stage(self, load: BatchLoad) -> None:
        """Put the batch's movies and genres into the staging tables stage.sql created."""

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """INSERT rows into movies.<table> (values as parameters)."""

    def fill_replay(self, rows: Sequence[Sequence[Any]]) -> None:
        """Put a replay chunk's verdicts (REPLAY_STAGE_COLUMNS) into stage_replay."""

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class StepClock:
    """Seconds since the previous lap, recorded by step name (nothing when not asked for)."""

    def __init__(self, into: dict[str, float] | None) -> None:
        self.into = into
        self.started = self.last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        if self.into is not None:
            self.into[step] = now - self.last
        self.last = now


def load(session: LoadSession, batch: BatchLoad, clock: StepClock) -> datetime | None:
    """Load one batch exactly once. Returns the ledger's ``committed_at`` (UTC, taken after the
    MERGE, just before the commit), or None (and changes nothing) if it was already loaded.
    ``clock`` receives the seconds of each of LOAD_STEPS."""
    try:
        session.lock_ledger()
        if session.committed(batch.key):
            session.rollback()
            return None
        session.run_file("stage.sql")
        session.fill_stage(batch)
        if batch.replay is not None:  # before the MERGE, which would overwrite what it compares
            session.run_file("stage_replay.sql")
            session.fill_replay(replay_stage_rows(batch.replay, datetime.now(UTC).replace(tzinfo=None)))
            session.run_file("replay_verdicts.sql")
        clock.lap("stage")
        session.run_file("merge_movies.sql")
        clock.lap("merge")
        session.run_file("refresh_bridges.sql")
        clock.lap("bridges")
        ledger = ledger_row(batch, clock.started)
        committed_at: datetime = ledger["committed_at"]
        session.insert("batch_ledger", list(ledger), [list(ledger.values())])
        session.insert("rule_outcomes", OUTCOME_COLUMNS, outcome_rows(batch))
        session.insert("metric_history", HISTORY_COLUMNS, history_rows(batch, committed_at))
        if batch.bad_records is not None:  # the quarantine index, with the ledger row: they agree
            rows = list(index_rows(batch.bad_records, batch.key, committed_at, batch.key.job_name))
            session.insert("quarantine", QUARANTINE_COLUMNS, rows)
            session.insert("quarantine_changes", CHANGE_COLUMNS, opening_changes(rows))
        failpoint("in_transaction", batch.key.batch_id)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    clock.lap("ledger")  # with the commit
    return committed_at
