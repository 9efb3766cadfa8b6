"""The jobs' side of keeping the materialized views near real time: after batches commit, a
background thread refreshes them (moviestream/warehouse/views.py), at most every
``interval_s`` (--views-refresh-seconds), off the batch's critical path and never inside the
load's transaction.

- A commit only notes its ``committed_at`` and wakes the thread; the batch goes on at once.
- The thread refreshes when this job has committed batches the views lack and its last attempt
  is at least ``interval_s`` old. The lease in the warehouse keeps every refresher (the
  streaming job, the backfill, ``moviestream warehouse refresh``) to one at a time; when
  another holds it, or refreshed less than the cadence ago, this job reads how far that one got.
- A failed refresh is a warning: logged, alerted once per run of failures (``on_failure``), and
  the batches keep loading. The next commit tries again.
- Every ``interval_s`` it hands the views' staleness to ``publish`` (a CloudWatch metric): now
  minus the commit of the oldest batch of this job the views lack, 0 when they lack none. It is
  worked out here, without a query, so an idle pipeline leaves Redshift idle too.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable
from datetime import datetime

from moviestream.core import logs
from moviestream.warehouse.views import Refreshed, Skipped, ViewsRefresh, one_line, utc_now

log = logs.get("views")

DEFAULT_INTERVAL_S = 60.0


class ViewsRefresher:
    def __init__(
        self,
        views: ViewsRefresh,
        interval_s: float = DEFAULT_INTERVAL_S,
        *,
        on_failure: Callable[[str], None] | None = None,
        publish: Callable[[float], None] | None = None,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive (0 turns refreshing off: no refresher)")
        self.views = views
        self.interval_s = interval_s
        self._on_failure = on_failure
        self._publish = publish
        self._now = now
        self._pending: list[datetime] = []  # this job's commits the views lack, oldest first
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_attempt = float("-inf")  # time.monotonic() of the last refresh attempt
        self._failing = False  # in a run of failed refreshes (alerted once)
        self.refreshes = 0  # refreshes this job ran that succeeded
        self.failures = 0  # refreshes or attempts that failed

    # -- what the pipeline calls ----------------------------------------------------------------
    def committed(self, committed_at: datetime) -> None:
        """A batch committed: note it and wake the thread. Never blocks, never raises."""
        with self._lock:
            bisect.insort(self._pending, committed_at)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="views-refresher", daemon=True)
                self._thread.start()
        self._wake.set()

    def staleness_s(self) -> float:
        with self._lock:
            oldest = self._pending[0] if self._pending else None
        return 0.0 if oldest is None else max(0.0, (self._now() - oldest).total_seconds())

    def refresh_now(self, wait_s: float = 120.0) -> Refreshed | Skipped | None:
        """Refresh at once, whatever the cadence, waiting up to ``wait_s`` for another refresher
        (the backfill's last chunk, the demo); None when the attempt failed (logged)."""
        return self._attempt(force=True, wait_s=wait_s)

    def close(self, timeout_s: float = 3.0) -> None:
        """Stop the thread (a refresh under way is left to finish on its own: its lease runs
        out if the process ends first)."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:  # nothing to say for a refresher that never started
            thread.join(timeout_s)
            log.info("views_refresher_closed", refreshes=self.refreshes, failures=self.failures)

    # -- the thread -----------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return
            wait = self._last_attempt + self.interval_s - time.monotonic()
            if wait > 0 and self._stop.wait(wait):  # the cadence: at most one attempt per interval
                return
            if self.staleness_s() > 0:
                self._attempt(force=False, wait_s=0.0)
            if self._publish is not None:
                self._publish(self.staleness_s())

    def _attempt(self, *, force: bool, wait_s: float) -> Refreshed | Skipped | None:
        self._last_attempt = time.monotonic()
        try:
            outcome = self.views.run(self.interval_s, force=force, wait_s=wait_s)
            if isinstance(outcome, Skipped):
                log.info("views_refresh_skipped", reason=outcome.reason)
                self._covered(self.views.staleness().included)  # how far the other refresher got
            elif outcome.succeeded:
                self._covered(outcome.newest_committed_at)
                self.refreshes += 1
                self._failing = False
                log.info(
                    "views_refreshed",
                    views=outcome.views,
                    seconds=round(outcome.seconds, 3),
                    newest_committed_at=_iso(outcome.newest_committed_at),
                    staleness_s=round(self.staleness_s(), 1),
                )
            else:
                self._failed(outcome.error or "a view failed to refresh")
            return outcome
        except Exception as exc:  # the warehouse unreachable, the lease table missing, ...
            self._failed(one_line(exc))
            return None

    def _covered(self, included: datetime | None) -> None:
        """The views hold every batch committed up to ``included``."""
        if included is None:
            return
        with self._lock:
            del self._pending[: bisect.bisect_right(self._pending, included)]

    def _failed(self, error: str) -> None:
        self.failures += 1
        log.warning("views_refresh_failed", error=error, failures=self.failures)
        if not self._failing and self._on_failure is not None:
            self._on_failure(error)  # once per run of failures, not every minute
        self._failing = True


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
