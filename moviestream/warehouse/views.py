"""Refreshing the warehouse's materialized views, one refresher at a time, the same way on
Redshift and on the local PostgreSQL.

Why the pipeline refreshes them: Redshift's AUTO REFRESH runs when the workgroup has spare
capacity and may pause in favour of user workloads, and a MERGE every few seconds is a steady
workload, so an auto-refreshed view can lag by an unknown amount. The views are created with
AUTO REFRESH NO, and the jobs refresh them after batches commit (moviestream/pipeline/
views_refresher.py), at most every ``--views-refresh-seconds``.

One refresh:
1. **Claim the lease** (movies.views_refresh_lease, one row) in a short transaction that locks
   the table: free (or run out) and, unless forced, the last refresh ended at least the cadence
   ago. Redshift has no advisory locks, so a locked row is the lock; a killed refresher's lease
   runs out. Within one process, a lock keeps its threads to one refresh at a time, so a lease
   the process's own holder still has (its release failed: the warehouse went away mid-refresh)
   is stale, and is taken over rather than waited out.
2. **Refresh**, outside any transaction of the load and outside the claim's: each ``REFRESH
   MATERIALIZED VIEW`` in autocommit, which on Redshift is a transaction of its own. Redshift
   refreshes incrementally whenever a view's definition allows it (010_views.sql keeps the
   materialized ones to such constructs); PostgreSQL recomputes. A view that fails (dropped by
   hand) does not stop the others; the refresh is then recorded as failed.
3. **Record and release** in one transaction: a movies.views_refreshes row (when, how long, the
   newest batch included) and the lease freed.

Only a view's owner may refresh it: on Redshift the schema apply makes the loader's ``IAMR:``
user the owner of the materialized views (moviestream/warehouse/data_api.py).

The statements are plain SQL both databases run as written (``%s`` parameters, DB-API).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from moviestream.warehouse.sql_files import materialized_views

LOCK_LEASE = "LOCK movies.views_refresh_lease"
READ_LEASE = "SELECT holder, lease_until, last_finished_at FROM movies.views_refresh_lease WHERE lease_id = 1"
TAKE_LEASE = "UPDATE movies.views_refresh_lease SET holder = %s, lease_until = %s WHERE lease_id = 1"
NEWEST_COMMITTED = "SELECT MAX(committed_at) FROM movies.batch_ledger"
RECORD_REFRESH = (
    "INSERT INTO movies.views_refreshes"
    " (refresher, started_at, finished_at, seconds, newest_committed_at, views, succeeded, error)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
)
RELEASE_LEASE = (
    "UPDATE movies.views_refresh_lease SET holder = NULL, lease_until = NULL, last_finished_at = %s"
    " WHERE lease_id = 1 AND holder = %s"
)
# The newest batch the last successful refresh included, and the oldest and newest batches
# committed after it (the ones the views lack): staleness is measured from the oldest.
STALENESS = (
    "SELECT r.included, MIN(l.committed_at), MAX(l.committed_at)"
    " FROM (SELECT MAX(newest_committed_at) AS included FROM movies.views_refreshes WHERE succeeded) AS r"
    " LEFT JOIN movies.batch_ledger AS l"
    " ON l.committed_at > COALESCE(r.included, CAST('1900-01-01' AS TIMESTAMP))"
    " GROUP BY r.included"
)


def refresh_statements() -> tuple[str, ...]:
    """One REFRESH per materialized view of 010_views.sql, in the file's order."""
    return tuple(f"REFRESH MATERIALIZED VIEW {name}" for name in materialized_views())


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Refreshed:
    """A refresh that ran (it may have failed: ``succeeded`` and ``error``)."""

    refresher: str
    started_at: datetime
    finished_at: datetime
    newest_committed_at: datetime | None  # every batch committed up to it is in the views
    views: int  # views refreshed
    succeeded: bool
    error: str | None

    @property
    def seconds(self) -> float:
        return (self.finished_at - self.started_at).total_seconds()


@dataclass(frozen=True)
class Skipped:
    """No refresh: the lease is held, or the last refresh ended less than the cadence ago."""

    reason: str


@dataclass(frozen=True)
class Staleness:
    """How far the views lag the ledger: ``included`` is the newest batch the last successful
    refresh included; ``oldest_pending`` the oldest batch committed after it (None: the views
    hold every committed batch)."""

    included: datetime | None
    oldest_pending: datetime | None
    newest_pending: datetime | None

    def seconds(self, now: datetime) -> float:
        """Now minus the commit of the oldest batch the views lack; 0 when they lack none."""
        if self.oldest_pending is None:
            return 0.0
        return max(0.0, (now - self.oldest_pending).total_seconds())


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:1024]


@dataclass
class ViewsRefresh:
    """The refresh algorithm on DB-API connections made by ``connect`` (psycopg or
    redshift_connector, not in autocommit). ``refresher`` names who refreshes in the records."""

    connect: Callable[[], Any]
    refresher: str
    lease_s: float = 600.0  # longer than any refresh takes; a killed holder's lease runs out
    now: Callable[[], datetime] = utc_now
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        self.holder = f"{self.refresher[:200]}/{uuid.uuid4().hex[:12]}"
        self._in_process = threading.Lock()  # one refresh at a time among this process's threads

    def run(self, min_interval_s: float, *, force: bool = False, wait_s: float = 0.0) -> Refreshed | Skipped:
        """Refresh every materialized view unless another refresher holds the lease or (unless
        ``force``) one ended less than ``min_interval_s`` ago. ``wait_s``: how long to keep
        asking for a held lease (polling) before giving up."""
        deadline = time.monotonic() + wait_s
        if not self._in_process.acquire(timeout=max(wait_s, 0.0)):
            return Skipped(f"held by {self.refresher} (another thread of this process)")
        try:
            while True:
                claim = self._claim(min_interval_s, force)
                if claim is None or time.monotonic() >= deadline or not claim.reason.startswith("held"):
                    break
                self.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
            if claim is not None:
                return claim
            return self._refresh()
        finally:
            self._in_process.release()

    def staleness(self) -> Staleness:
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(STALENESS)
            rows = cur.fetchall()
            conn.rollback()
        finally:
            conn.close()
        if not rows:  # no successful refresh, and the ledger is empty
            return Staleness(None, None, None)
        included, oldest, newest = rows[0]
        return Staleness(included, oldest, newest)

    def _claim(self, min_interval_s: float, force: bool) -> Skipped | None:
        """Take the lease (None) or say why not."""
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(LOCK_LEASE)
            cur.execute(READ_LEASE)
            row = cur.fetchone()
            if row is None:
                conn.rollback()
                raise RuntimeError("movies.views_refresh_lease has no row: apply the schema (migration 0008)")
            holder, lease_until, last_finished = row
            now = self.now()
            # this holder's own lease, with no refresh of ours under way (we hold _in_process): stale
            ours = holder == self.holder
            if holder is not None and lease_until is not None and lease_until > now and not ours:
                conn.rollback()
                return Skipped(f"held by {holder.rsplit('/', 1)[0]} until {lease_until:%H:%M:%S}")
            if not force and last_finished is not None:
                since = (now - last_finished).total_seconds()
                if since < min_interval_s:
                    conn.rollback()
                    why = f"the last refresh ended {since:.0f} s ago (cadence {min_interval_s:.0f} s)"
                    return Skipped(why)
            cur.execute(TAKE_LEASE, (self.holder, now + timedelta(seconds=self.lease_s)))
            conn.commit()
            return None
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()

    def _refresh(self) -> Refreshed:
        conn = self.connect()
        started = self.now()
        newest: datetime | None = None
        refreshed, errors = 0, []
        try:
            cur = conn.cursor()
            cur.execute(NEWEST_COMMITTED)  # read before the first view: all of it is included
            (newest,) = cur.fetchone() or (None,)
            conn.rollback()
            conn.autocommit = True  # each REFRESH is its own transaction (Redshift: always)
            for statement in refresh_statements():
                try:
                    cur.execute(statement)
                    refreshed += 1
                except Exception as exc:  # one view's failure does not stop the others
                    errors.append(f"{statement.rsplit(' ', 1)[-1]}: {one_line(exc)}")
        except Exception as exc:  # the connection itself failed
            errors.append(one_line(exc))
        finally:
            conn.close()
        outcome = Refreshed(
            refresher=self.refresher,
            started_at=started,
            finished_at=self.now(),
            newest_committed_at=newest,
            views=refreshed,
            succeeded=not errors,
            error="; ".join(errors)[:1024] if errors else None,
        )
        self._record_and_release(outcome)
        return outcome

    def _record_and_release(self, outcome: Refreshed) -> None:
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(
                RECORD_REFRESH,
                (
                    outcome.refresher[:256],
                    outcome.started_at,
                    outcome.finished_at,
                    round(outcome.seconds, 3),
                    outcome.newest_committed_at,
                    outcome.views,
                    outcome.succeeded,
                    outcome.error,
                ),
            )
            cur.execute(RELEASE_LEASE, (outcome.finished_at, self.holder))
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
        finally:
            conn.close()
