"""The Redshift target's batch transaction with its staging files in S3 (LocalStack, real): the
files Redshift's COPY reads, and the statements sent to Redshift, which does not run here (a
connection that records them; tests/unit/test_redshift_statements.py pins them as a snapshot)."""

from __future__ import annotations

import gzip
import json
import uuid

import pytest

from moviestream.core.config import AwsSettings
from moviestream.warehouse.contract import BatchKey
from moviestream.warehouse.redshift import RedshiftSettings, RedshiftWarehouse
from tests.unit.test_redshift_statements import ROLE, SNAPSHOTS, RecordingConnection, a_load

pytestmark = pytest.mark.integration


@pytest.fixture
def bucket(stack):
    name = f"rs-staging-{uuid.uuid4().hex[:8]}"
    AwsSettings().client("s3").create_bucket(Bucket=name)
    return name


def test_a_batch_is_staged_in_s3_then_copied_merged_and_ledgered_in_one_transaction(bucket):
    key = BatchKey("job", "stream-1", 7)
    conn = RecordingConnection()
    settings = RedshiftSettings("h", 5439, "dev", "u", "p", ROLE, f"s3://{bucket}/staging")
    target = RedshiftWarehouse(settings, lambda: AwsSettings().client("s3"), connect=lambda **_: conn)
    assert target.load_batch(a_load(key)) is not None

    movies_uri, genres_uri = target.staging_uris(key)
    assert movies_uri == f"s3://{bucket}/staging/job=job/stream=stream-1/batch=0000000007/movies.jsonl.gz"
    s3 = AwsSettings().client("s3")

    def staged(uri: str) -> list[dict]:
        body = s3.get_object(Bucket=bucket, Key=uri.split("/", 3)[3])["Body"].read()
        return [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]

    (movie,) = staged(movies_uri)
    assert (movie["movie_id"], movie["imdb_rating"], movie["event_produced_at"]) == (
        "a65f0288ff5dd9f5",
        9.2,
        "2026-11-22 10:00:00.000000",
    )
    assert staged(genres_uri) == [{"movie_id": "a65f0288ff5dd9f5", "genre": "Crime"}]
    # The statements that COPY those very files: the snapshot's, with this bucket in the URIs.
    sent = "".join(f"{sql.replace(f's3://{bucket}/', 's3://b1x/')};\n\n" for sql, _ in conn.sent)
    assert sent == (SNAPSHOTS / "redshift_batch_load.sql").read_text()
