"""Backfill feedback: a progress bar per file on a terminal (by stored bytes read, with chunks and
rows so far), one structured log line per chunk otherwise."""

from __future__ import annotations

import sys

from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from moviestream.backfill.backfill import FileResult
from moviestream.backfill.inputs import InputFile
from moviestream.core import logs

log = logs.get("backfill")


class ChunkProgress:
    def __init__(self, tty: bool | None = None) -> None:
        self.tty = sys.stderr.isatty() if tty is None else tty
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ChunkProgress:
        if self.tty:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                transient=False,
            )
            self._progress.start()
        return self

    def __call__(self, file: InputFile, index: int, result: FileResult) -> None:
        done = result.chunks_loaded + result.chunks_skipped + result.chunks_empty
        if self._progress is not None:
            if file.uri not in self._tasks:
                self._tasks[file.uri] = self._progress.add_task(file.name, total=result.size_bytes or None)
            self._progress.update(
                self._tasks[file.uri],
                completed=result.bytes_read,
                description=(
                    f"{file.name}: chunk {index + 1}, {result.records:,} records loaded, "
                    f"{result.chunks_skipped} chunks skipped"
                ),
            )
            return
        log.info(
            "chunk_done",
            file=file.name,
            chunk=index,
            chunks_done=done,
            records=result.records,
            chunks_skipped=result.chunks_skipped,
            bytes_read=result.bytes_read,
            size_bytes=result.size_bytes,
            percent=round(100 * result.bytes_read / result.size_bytes, 1) if result.size_bytes else None,
        )

    def paused(self, step: str, error: str, seconds: float) -> None:
        """A step is being retried (S3 or the warehouse is away): say so until the next chunk."""
        if self._progress is not None:
            for task in self._tasks.values():
                self._progress.update(
                    task, description=f"paused {seconds:.0f} s: {step} unreachable, retrying ({error[:60]})"
                )
            return
        log.warning("backfill_paused", step=step, outage_s=round(seconds, 1), error=error)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
