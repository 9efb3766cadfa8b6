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
the pipeline's own, and counted.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

from batch_backfill.inputs import InputFile, rows_of, verify
from glue_streaming.kinesis_source import SOURCE_SCHEMA
from glue_streaming.pipeline import BatchPipeline, PipelineConfig
from moviestream import logs
from producer.csv_source import Reject, Row
from producer.envelope import EnvelopeEncoder

log = logs.get("backfill")
DEFAULT_CHUNK_ROWS = 50_000


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
            "files_skipped": sum(1 for f in self.files if f.chunks_skipped and not f.chunks_loaded),
            "chunks_empty": sum(f.chunks_empty for f in self.files),
            "chunks_loaded": sum(f.chunks_loaded for f in self.files),
            "chunks_skipped": sum(f.chunks_skipped for f in self.files),
            **totals,
            "seconds": round(self.seconds, 1),
        }


def file_as_of(file: InputFile) -> datetime:
    """The file's last-modified time (UTC, naive): the event time of its rows by default."""
    if file.uri.startswith("s3://"):
        from moviestream.config import AwsSettings

        bucket, _, key = file.uri[5:].partition("/")
        modified = AwsSettings().client("s3").head_object(Bucket=bucket, Key=key)["LastModified"]
        return modified.astimezone(UTC).replace(tzinfo=None)
    return datetime.fromtimestamp(Path(file.uri).stat().st_mtime, UTC).replace(tzinfo=None)


def _chunks(items: Iterator[Row | Reject], size: int) -> Iterator[list[Row | Reject]]:
    while chunk := list(islice(items, size)):
        yield chunk


class Backfill:
    def __init__(self, spark, config: PipelineConfig, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> None:  # noqa: ANN001
        self.spark = spark
        self.config = config
        self.chunk_rows = chunk_rows
        self._stream_id = ""
        self.pipeline = BatchPipeline(config, lambda: self._stream_id)

    def run(
        self,
        files: list[InputFile],
        as_of: datetime | None = None,
        force: bool = False,
        progress=None,  # noqa: ANN001 - called with (file, chunk index) after each chunk
    ) -> BackfillSummary:
        started = time.monotonic()
        summary = BackfillSummary()
        for file in files:
            summary.files.append(self._load_file(file, as_of or file_as_of(file), force, progress))
        summary.seconds = time.monotonic() - started
        return summary

    def _load_file(self, file: InputFile, as_of: datetime, force: bool, progress) -> FileResult:  # noqa: ANN001
        checksum = verify(file)  # refuses a file that disagrees with its manifest
        stream_id = f"file-{checksum[:40]}" + (f"-{int(time.time())}" if force else "")
        result = FileResult(file.uri, checksum, stream_id)
        self._stream_id = stream_id
        produced_at = as_of.strftime("%Y-%m-%dT%H:%M:%S.") + f"{as_of.microsecond // 1000:03d}Z"
        encoder: EnvelopeEncoder | None = None
        for index, chunk in enumerate(_chunks(rows_of(file), self.chunk_rows)):
            rows = [item for item in chunk if isinstance(item, Row)]
            rejects = [item for item in chunk if isinstance(item, Reject)]
            if encoder is None and rows:
                encoder = EnvelopeEncoder(file.name, rows[0].header)
            records = []
            for row in rows:
                key, envelope = encoder.encode(row.row_number, row.values, produced_at)
                records.append(("backfill", str(row.row_number), key, as_of, envelope))
            if rejects:  # first, and every time: the key is deterministic, so a rerun overwrites
                self._write_rejects(file, stream_id, index, rejects)
            batch = self.pipeline.process(self.spark.createDataFrame(records, SOURCE_SCHEMA), index)
            if batch is None or (batch.records_in and not batch.loaded):
                result.chunks_skipped += 1  # in the ledger already (this run's or an earlier one)
            elif not batch.records_in:
                result.chunks_empty += 1  # only unreadable rows: nothing for the warehouse
                result.rejected_rows += len(rejects)
            else:
                result.chunks_loaded += 1
                result.records += batch.records_in
                result.good_records += batch.good_records
                result.bad_records += batch.bad_records
                result.duplicates_dropped += batch.duplicates_dropped
                result.rejected_rows += len(rejects)
            if progress is not None:
                progress(file, index)
        log.info("file_done", **{k: v for k, v in result.__dict__.items()})
        return result

    def _write_rejects(self, file: InputFile, stream_id: str, index: int, rejects: list[Reject]) -> None:
        """Unreadable rows, as bad records under a key deterministic per (file, chunk)."""
        key = (
            f"{self.config.bad_records_prefix}/source=backfill/job={self.config.job_name}"
            f"/batch={stream_id}-{index:010d}/unreadable.jsonl"
        )
        lines = [
            json.dumps(
                {
                    "reasons": [r.reason],
                    "source": file.name,
                    "row_number": r.row_number,
                    "line_number": r.line_number,
                    "raw_line": r.raw,
                }  # fmt: skip
            )
            for r in rejects
        ]
        self.pipeline.s3().put_object(
            Bucket=self.config.bucket, Key=key, Body=("\n".join(lines) + "\n").encode("utf-8")
        )
