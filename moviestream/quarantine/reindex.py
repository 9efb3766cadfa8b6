"""``quarantine reindex``: index the bad records already in S3 that the warehouse's quarantine
index lacks (files written before migration 0009, or an index rebuilt by hand). Explicit and
idempotent: a record already indexed is left as it is, status and all.

A batch's own file (part-00000.jsonl) is indexed only when the ledger has the batch. A file
whose batch never committed (the job crashed between its S3 writes and its transaction) belongs
to a batch that runs again and indexes its records itself, in its own transaction: indexing them
here would make that transaction fail on the duplicate key. The backfill's unreadable rows and
files (unreadable.jsonl, file.jsonl) have no transaction: they are indexed as found, at the
object's last-modified time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from moviestream.core import logs
from moviestream.warehouse.contract import BadRecordsFile, BatchKey
from moviestream.warehouse.quarantine import index_rows
from moviestream.warehouse.quarantine_store import add_missing, set_status
from moviestream.warehouse.targets import query_rows

log = logs.get("quarantine")

# <prefix>/ingest_date=YYYY-MM-DD/job=<job>/batch=<stream id>-<batch id, 10 digits>/part-00000.jsonl
_KEY = re.compile(
    r"ingest_date=(?P<date>\d{4}-\d{2}-\d{2})/job=(?P<job>[^/]+)/batch=(?P<stream>.+)-(?P<batch>\d{10})/[^/]+\.jsonl$"
)
# The file a batch writes its bad records to (the backfill's unreadable rows and files have their
# own names beside it, written outside the batch's transaction).
BATCH_FILE = "part-00000.jsonl"
# A bad-record line is a few kilobytes (its raw fields and, unparsed, its payload); a line past
# this is read no further and indexed as unreadable.
MAX_LINE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class ParsedKey:
    ingest_date: date
    key: BatchKey


def parse_key(s3_key: str) -> ParsedKey | None:
    """The batch a bad-records object's key names, or None for a key of another shape."""
    match = _KEY.search(s3_key)
    if not match:
        return None
    try:
        day = date.fromisoformat(match["date"])
    except ValueError:
        return None
    return ParsedKey(day, BatchKey(match["job"], match["stream"], int(match["batch"])))


@dataclass
class ReindexResult:
    files: int = 0  # bad-records files read
    records: int = 0  # bad records in them
    added: int = 0  # of those, newly indexed
    uncommitted_files: int = 0  # files of batches the ledger does not have: left to their batch
    other_objects: int = 0  # objects under the prefix that are not bad-records files
    expired: int = 0  # open records whose file is gone, now expired

    def line(self) -> str:
        return (
            f"indexed {self.added:,} new of {self.records:,} bad records in {self.files:,} files"
            f" ({self.records - self.added:,} already indexed; {self.uncommitted_files:,} files of"
            f" uncommitted batches left to their batch; {self.other_objects:,} other objects skipped;"
            f" {self.expired:,} open records expired with their file)"
        )


def _lines(body: Any) -> Iterator[str]:
    for raw in body.iter_lines(keepends=False):
        if len(raw) > MAX_LINE_BYTES:
            yield "not read: a line over 4 MiB"
        else:
            yield raw.decode("utf-8", errors="replace")


def reindex(dsn: str, s3: Any, bucket: str, prefix: str, by: str) -> ReindexResult:
    """Index what the index lacks under s3://bucket/prefix/, logging progress per file."""
    result = ReindexResult()
    root = f"s3://{bucket}/{prefix.strip('/')}/"
    present: set[str] = set()
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix.strip('/')}/")
    for page in pages:
        for obj in page.get("Contents", []):
            present.add(f"s3://{bucket}/{obj['Key']}")
            parsed = parse_key(obj["Key"])
            if parsed is None:
                result.other_objects += 1
                continue
            key = parsed.key
            if obj["Key"].endswith(f"/{BATCH_FILE}"):  # a batch's own: indexed with its ledger row
                _, rows = query_rows(
                    dsn,
                    "SELECT committed_at FROM movies.batch_ledger WHERE job_name = %s AND stream_id = %s"
                    " AND batch_id = %s",
                    (key.job_name, key.stream_id, key.batch_id),
                )
                if not rows:
                    result.uncommitted_files += 1
                    continue
                quarantined_at = rows[0][0]
            else:  # the backfill's unreadable rows or files, written outside any transaction
                quarantined_at = obj["LastModified"].astimezone(UTC).replace(tzinfo=None)
            body = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"]
            lines = list(_lines(body))
            while lines and not lines[-1]:  # the file's final newline; line numbers are kept
                lines.pop()
            file = BadRecordsFile(f"s3://{bucket}/{obj['Key']}", parsed.ingest_date, lines)
            index = list(index_rows(file, key, quarantined_at, by))
            added = add_missing(dsn, index) if index else 0
            result.files += 1
            result.records += len(index)
            result.added += added
            log.info("quarantine_reindexed_file", key=obj["Key"], records=len(index), added=added)
    result.expired = _expire_gone(dsn, root, present, by)
    return result


def _expire_gone(dsn: str, root: str, present: set[str], by: str) -> int:
    """Open records under ``root`` whose S3 file is gone (the bucket's lifecycle removed it after
    bad_records_expiration_days) become ``expired``: nothing is left to show or replay."""
    _, rows = query_rows(
        dsn,
        "SELECT quarantine_id, s3_uri FROM movies.quarantine"
        " WHERE status = 'open' AND STRPOS(s3_uri, %s) = 1",
        (root,),
    )
    gone = [qid for qid, uri in rows if uri not in present]
    if not gone:
        return 0
    now = datetime.now(UTC).replace(tzinfo=None)
    note = "its bad-records file is no longer in S3 (bad_records_expiration_days)"
    return set_status(dsn, gone, "expired", by, now, note=note)
