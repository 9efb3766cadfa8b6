"""Replay feedback: a progress bar with records/s and MB/s on a terminal, log lines otherwise."""

from __future__ import annotations

import sys
import time

from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn

from moviestream.core import logs


class ProgressReporter:
    def __init__(self, enabled: bool = True, log_every_s: float = 5.0) -> None:
        self.enabled = enabled
        self.tty = sys.stderr.isatty()
        self.log_every_s = log_every_s
        self._last_log = 0.0
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> ProgressReporter:
        if self.enabled and self.tty:
            self._progress = Progress(
                SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=False
            )
            self._progress.start()
            self._task = self._progress.add_task("replaying", total=None)
        return self

    def update(self, summary) -> None:  # moviestream.producer.replay.ReplaySummary
        seconds = max(summary.seconds, 1e-6)
        rps = summary.user_records_sent / seconds
        mbps = summary.bytes / seconds / 1e6
        if self._progress is not None and self._task is not None:
            self._progress.update(
                self._task,
                description=(
                    f"rows {summary.rows_read:,}  sent {summary.user_records_sent:,}  "
                    f"{rps:,.0f} records/s  {mbps:.2f} MB/s  retries {summary.retries}"
                ),
            )
        elif self.enabled and time.monotonic() - self._last_log >= self.log_every_s:
            self._last_log = time.monotonic()
            logs.get("producer").info(
                "progress",
                rows_read=summary.rows_read,
                user_records_sent=summary.user_records_sent,
                records_per_s=round(rps),
                mb_per_s=round(mbps, 3),
                retries=summary.retries,
            )

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
