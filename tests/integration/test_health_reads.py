"""The health page reads what it shows with bounds (issue 30): a bad-record file is read up to a
size, never whole whatever its size, and `health watch`'s cache of files keeps only the batches
the page shows."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import psycopg

from moviestream.core.config import AwsSettings
from moviestream.health.facts import BadRecordsFile, read_bad_records, read_facts
from moviestream.warehouse.postgres import load_batch
from tests.integration import warehouse_fixture as fx
from tests.integration.databases import fresh_warehouse
from tests.integration.test_warehouse_views import batch


def _bucket_with(lines: int) -> tuple[str, str]:
    s3 = AwsSettings().client("s3")
    bucket = f"health-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    body = "".join(
        json.dumps({"event_id": f"e{i}", "reasons": ["r"], "raw_fields": {}}) + "\n" for i in range(lines)
    )
    key = "bad_records/x/part-00000.jsonl"
    s3.put_object(Bucket=bucket, Key=key, Body=body.encode())
    return bucket, f"s3://{bucket}/{key}"


def test_a_bad_record_file_is_read_only_up_to_its_bound(stack):
    _, uri = _bucket_with(lines=100)  # about 5 KB
    s3 = AwsSettings().client("s3")
    whole = read_bad_records(uri, lambda: s3)
    assert (whole.lines, whole.error) == (100, None)
    bounded = read_bad_records(uri, lambda: s3, max_bytes=1000)
    assert 0 < bounded.lines < 100 and all(r["reasons"] == ["r"] for r in bounded.records)  # whole lines only
    assert bounded.error == "larger than 1,000 bytes: only its first lines were read"


def test_the_watch_cache_keeps_only_the_files_of_the_batches_shown(stack):
    dsn = fresh_warehouse(stack)
    _, uri = _bucket_with(lines=3)
    for batch_id in (0, 1):
        assert load_batch(dsn, batch(fx.FILMS[batch_id * 5 : batch_id * 5 + 5], batch_id, 5, 3, 0))
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("UPDATE movies.batch_ledger SET bad_records_uri = %s WHERE batch_id = 1", (uri,))
    s3 = AwsSettings().client("s3")
    cache = {"s3://gone/bad_records/old.jsonl": BadRecordsFile("s3://gone/bad_records/old.jsonl", 9)}
    facts = read_facts(
        dsn, lambda: s3, batches=1, now=datetime.now(UTC).replace(tzinfo=None), file_cache=cache
    )
    assert list(facts.bad_files) == [uri] and list(cache) == [uri] and cache[uri].lines == 3
