"""The backfill: historical CSV files through the streaming job's per-batch pipeline.

Each file becomes envelopes exactly as the producer writes them (same event ids, same movie ids)
and is cut into chunks of ``chunk_rows`` rows; each chunk is one ledger batch of the stream
``file-<sha256 prefix>``, so:
- a chunk already in the ledger is skipped: a run that died resumes where it stopped, and a file
  loaded before (same content, whatever its name) loads nothing;
- ``force`` gives the file a new stream id, so every chunk loads again; the MERGE by movie_id
  makes that a rewrite of the same rows, never a duplicate.
Event time: every row of a file carries the file's as-of time (its last-modified time unless
given), so a backfilled row never overwrites a newer streamed row for the same movie: the
warehouse's newer-wins MERGE compares these times.
Unreadable CSV rows never reach Spark; they are written as bad records with their reason beside
the pipeline's own, and counted. A file that cannot be read at all (damaged, a decompression bomb,
not a movies CSV, not what its manifest says) never stops the run: it is one file-level bad
record with its reason, the other files load, and the summary lists it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from itertools import islice
from pathlib import Path
from typing import Any

from moviestream.backfill import DEFAULT_CHUNK_ROWS
from moviestream.backfill.handoff import ChunkHandoff
from moviestream.backfill.inputs import (
    DEFAULT_ARCHIVE_LIMITS,
    ArchiveLimits,
    InputFile,
    ReadMeter,
    rows_of,
    stored_size,
    verify,
)
from moviestream.core import logs
from moviestream.core.csv_source import DEFAULT_LIMITS, InputError, ReadLimits, Reject, Row
from moviestream.core.envelope import EnvelopeEncoder, iso_millis
from moviestream.core.failure import one_line
from moviestream.pipeline.batch_pipeline import BatchPipeline, BatchResult, PipelineConfig, s3_batch_keys
from moviestream.warehouse.contract import BadRecordsFile, BatchKey
from moviestream.warehouse.quarantine import index_rows
from moviestream.warehouse.quarantine_store import add_missing

log = logs.get("backfill")


@dataclass
class FileResult:
    uri: str
    sha256: str
    stream_id: str
    chunks_loaded: int = 0
    chunks_skipped: int = 0
    chunks_empty: int = 0
    records: int = 0
    good_records: int = 0
    bad_records: int = 0
    duplicates_dropped: int = 0
    rejected_rows: int = 0
    size_bytes: int = 0  # stored, as read
    bytes_read: int = 0
    failed: str | None = None  # why the file could not be read (one line), None when it was


@dataclass
class BackfillSummary:
    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        totals = {
            k: sum(getattr(f, k) for f in self.files)
            for k in ("records", "good_records", "bad_records", "duplicates_dropped", "rejected_rows")
        }
        return {
            "files": len(self.files),
            "files_failed": sum(1 for f in self.files if f.failed),
            "files_skipped": sum(1 for f in self.files if f.chunks_skipped and not f.chunks_loaded),
            "chunks_empty": sum(f.chunks_empty for f in self.files),
            "chunks_loaded": sum(f.chunks_loaded for f in self.files),
            "chunks_skipped": sum(f.chunks_skipped for f in self.files),
            **totals,
            "seconds": round(self.seconds, 1),
            "failures": [{"file": f.uri, "reason": f.failed} for f in self.files if f.failed],
        }

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.failed]


# An unreadable CSV row's bad record (the Athena table's columns include these; tested).
# produced_at_raw: the chunk's as-of time, the event time a corrected row replays with.
REJECT_FIELDS = ("reasons", "source", "row_number", "line_number", "raw_line", "produced_at_raw")
# A file that could not be read at all: one bad record for the file (failure_scope "file").
FILE_FAILURE_FIELDS = ("reasons", "source", "source_uri", "failure_scope")


def file_as_of(file: InputFile) -> datetime:
    """The file's last-modified time (UTC, naive): the event time of its rows by default."""
    if file.uri.startswith("s3://"):
        from moviestream.core.config import AwsSettings

        bucket, _, key = file.uri[5:].partition("/")
        modified = AwsSettings().client("s3").head_object(Bucket=bucket, Key=key)["LastModified"]
        return modified.astimezone(UTC).replace(tzinfo=None)
    return datetime.fromtimestamp(Path(file.uri).stat().st_mtime, UTC).replace(tzinfo=None)


def parse_as_of(text: str, flag: str, require_offset: bool = False) -> datetime:
    """An ``--as-of`` time as naive UTC; without an offset it is taken as UTC unless
    ``require_offset``. ValueError naming ``flag`` when the text is not such a time."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{flag} is not an ISO-8601 time: {text!r}") from None
    if when.tzinfo is None:
        if require_offset:
            raise ValueError(f"{flag} needs a UTC offset, e.g. 2026-01-01T00:00:00+00:00, not {text!r}")
        return when
    return when.astimezone(UTC).replace(tzinfo=None)


def _chunks(items: Iterator[Row | Reject], size: int) -> Iterator[list[Row | Reject]]:
    while chunk := list(islice(items, size)):
        yield chunk


ChunkProgress = Callable[[InputFile, int, FileResult], None]


class Backfill:
    """Loads files through ``BatchPipeline`` chunk by chunk.

    Two chunks are in flight: while one commits (its S3 writes and warehouse transaction, in a
    background thread), Spark judges the next. Commits stay in chunk order, one at a time, so
    resuming, skipping and newer-wins behave as if the chunks ran one after the other.
    """

    def __init__(
        self,
        spark,
        config: PipelineConfig,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        limits: ReadLimits = DEFAULT_LIMITS,
        archive: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS,
        handoff: str = "columns",
    ) -> None:
        self.spark = spark
        self.handoff = ChunkHandoff(spark, handoff)  # how a chunk's rows reach Spark (handoff.py)
        self.config = config
        self.chunk_rows = chunk_rows
        self.limits = limits
        self.archive = archive
        self._stream_id = ""
        self.pipeline = BatchPipeline(config, lambda: self._stream_id)
        self._committer = futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="backfill-commit")

    def run(
        self,
        files: list[InputFile],
        as_of: datetime | None = None,
        force: bool = False,
        progress: ChunkProgress | None = None,
    ) -> BackfillSummary:
        """Load every file; ``progress`` is called after each chunk with the file, the chunk's
        index and the file's result so far."""
        started = time.monotonic()
        self.handoff.prime()
        summary = BackfillSummary()
        if progress is not None and hasattr(progress, "paused"):
            self._report_pauses(progress)
        for file in files:
            summary.files.append(self._load_file(file, as_of or file_as_of(file), force, progress))
        if any(f.chunks_loaded for f in summary.files):
            self._committer.submit(lambda: None).result()  # the last chunk's commit is done
            self.pipeline.refresh_views_now()  # the views hold the whole run when it ends
        summary.seconds = time.monotonic() - started
        return summary

    def _load_file(
        self, file: InputFile, as_of: datetime, force: bool, progress: ChunkProgress | None
    ) -> FileResult:
        result = FileResult(file.uri, "", "")
        try:
            self._load_chunks(file, result, as_of, force, progress)
        except InputError as exc:  # the file as a whole: damaged, hostile, or not a movies CSV
            result.failed = str(exc)
            log.error("file_failed", file=file.uri, reason=result.failed)
            self._write_file_failure(file, result.failed)
            return result
        if result.chunks_skipped and not result.chunks_loaded:
            log.info("file_skipped", file=file.uri, reason="loaded before (same sha256); --force reloads it")
        log.info("file_done", **{k: v for k, v in result.__dict__.items()})
        return result

    def _load_chunks(
        self,
        file: InputFile,
        result: FileResult,
        as_of: datetime,
        force: bool,
        progress: ChunkProgress | None,
    ) -> None:
        checksum = verify(file, self.limits, self.archive)  # refuses a damaged file or a manifest mismatch
        stream_id = f"file-{checksum[:40]}" + (f"-{int(time.time())}" if force else "")
        result.sha256, result.stream_id, result.size_bytes = checksum, stream_id, stored_size(file)
        self._stream_id = stream_id
        produced_at = iso_millis(as_of)
        arrival = as_of.replace(tzinfo=UTC)
        encoder: EnvelopeEncoder | None = None
        committing: futures.Future | None = None
        meter = ReadMeter()
        try:
            chunks = _chunks(rows_of(file, meter, self.limits, self.archive), self.chunk_rows)
            for index, chunk in enumerate(chunks):
                rows = [item for item in chunk if isinstance(item, Row)]
                rejects = [item for item in chunk if isinstance(item, Reject)]
                if rejects:  # first, and every time: the key is deterministic, so a rerun overwrites
                    self._write_rejects(file, stream_id, index, rejects, as_of)
                if not rows:  # only unreadable rows: nothing for the warehouse, no ledger row
                    result.chunks_empty += 1
                    result.rejected_rows += len(rejects)
                elif self.pipeline.committed(index):  # this run's earlier attempt, or an earlier run
                    result.chunks_skipped += 1
                else:
                    if encoder is None:
                        encoder = EnvelopeEncoder(file.name, rows[0].header)
                    # One user record per row: the shape of a de-aggregated Kinesis record.
                    frame = self.handoff.frame(encoder, rows, produced_at, arrival, index)
                    extra = {
                        "source_uri": file.uri,
                        "source_sha256": checksum,
                        "source_first_row": chunk[0].row_number,
                        "source_last_row": chunk[-1].row_number,
                    }
                    try:
                        prepared = self.pipeline.prepare(frame, index, file_records=True, ledger_extra=extra)
                    finally:
                        self.handoff.release(index)
                    if committing is not None:
                        self._count(result, committing.result())
                    if prepared is None:
                        result.chunks_skipped += 1
                        committing = None
                    else:
                        result.rejected_rows += len(rejects)
                        committing = self._committer.submit(self.pipeline.commit, prepared)
                result.bytes_read = meter.bytes_read
                if progress is not None:
                    progress(file, index, result)
        finally:
            # The chunk that is committing finishes (or fails) first, and counts, whatever stopped
            # the file: a file damaged in its middle keeps the chunks it loaded.
            if committing is not None:
                self._count(result, committing.result())

    @staticmethod
    def _count(result: FileResult, batch: BatchResult) -> None:
        if not batch.loaded:  # another run committed it meanwhile
            result.chunks_skipped += 1
            return
        result.chunks_loaded += 1
        result.records += batch.records_in
        result.good_records += batch.good_records
        result.bad_records += batch.bad_records
        result.duplicates_dropped += batch.duplicates_dropped

    def _report_pauses(self, progress: Any) -> None:  # moviestream.backfill.progress.ChunkProgress
        """Every retry of a step (moviestream/core/failure.py) also tells the progress display."""
        retrier = self.pipeline.retrier
        logged = retrier.on_retry

        def on_retry(step: str, attempt: int, delay: float, exc: BaseException) -> None:
            logged(step, attempt, delay, exc)
            progress.paused(step, one_line(exc), retrier.outage_seconds())

        retrier.on_retry = on_retry

    def close(self) -> None:
        self._committer.shutdown(wait=True)
        self.pipeline.close()
        self.handoff.close()

    def _write_file_failure(self, file: InputFile, reason: str) -> None:
        """The file-level bad record, under a key deterministic per (job, file, day): a rerun
        that fails the same way overwrites it."""
        today = datetime.now(UTC).date()
        key = file_failure_key(self.config, file.uri, today.strftime("%Y-%m-%d"))
        doc = dict(zip(FILE_FAILURE_FIELDS, ([reason], file.name, file.uri, "file"), strict=True))
        line = json.dumps(doc)
        self.pipeline.put_s3("s3 unreadable file", key, (line + "\n").encode("utf-8"), "application/x-ndjson")
        self._index(key, [line], unreadable_file_stream(file.uri), 0, today)

    def _write_rejects(
        self, file: InputFile, stream_id: str, index: int, rejects: list[Reject], as_of: datetime
    ) -> None:
        """Unreadable rows, as bad records under a key deterministic per (file, chunk), in the
        chunk's own partition (its ingest date is the as-of date, its rows' arrival time), so the
        Athena table's partition projection on ingest_date finds them beside the chunk's others."""
        key = rejects_key(self.config, stream_id, index, as_of.strftime("%Y-%m-%d"))
        produced_at = iso_millis(as_of)
        lines = [
            json.dumps(
                dict(
                    zip(
                        REJECT_FIELDS,
                        ([r.reason], file.name, r.row_number, r.line_number, r.raw, produced_at),
                        strict=True,
                    )
                )
            )
            for r in rejects
        ]
        body = ("\n".join(lines) + "\n").encode("utf-8")
        self.pipeline.put_s3("s3 unreadable rows", key, body, "application/x-ndjson")
        self._index(key, lines, stream_id, index, as_of.date())

    def _index(self, key: str, lines: list[str], stream_id: str, batch_id: int, day: date) -> None:
        """The quarantine index's rows for bad records written outside a batch's transaction (a
        chunk's unreadable rows, a file that could not be read): added once, whatever reruns
        rewrite the same key (moviestream/warehouse/quarantine_store.py, add_missing)."""
        file = BadRecordsFile(f"s3://{self.config.bucket}/{key}", day, lines)
        now = datetime.now(UTC).replace(tzinfo=None)
        name = self.config.job_name
        rows = list(index_rows(file, BatchKey(name, stream_id, batch_id), now, name))
        self.pipeline.run_step(
            "quarantine index", "warehouse", lambda: add_missing(self.config.warehouse_dsn, rows)
        )


def unreadable_file_stream(uri: str) -> str:
    """The stream id of a file that could not be read (its bad record's batch is 0)."""
    return f"unreadable-file-{hashlib.blake2b(uri.encode(), digest_size=8).hexdigest()}"


def file_failure_key(config: PipelineConfig, uri: str, day: str) -> str:
    """Where a file that could not be read is recorded: one key per (job, file, day)."""
    partition = s3_batch_keys(config, unreadable_file_stream(uri), 0, day)[0]
    return partition.rsplit("/", 1)[0] + "/file.jsonl"


def rejects_key(config: PipelineConfig, stream_id: str, index: int, day: str) -> str:
    """Where a chunk's unreadable rows go: beside the chunk's bad records, in its partition."""
    partition = s3_batch_keys(config, stream_id, index, day)[0]
    return partition.rsplit("/", 1)[0] + "/unreadable.jsonl"
