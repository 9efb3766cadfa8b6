"""The backfill's two hand-offs (moviestream/backfill/handoff.py) load the same thing: the
malformed-file corpus and a generated file with defects, each backfilled once through Arrow
columns and once through JSON envelopes, into two fresh warehouses and buckets, end in the same
warehouse rows, ledger rows and bad-record objects, byte for byte. Only the times of the run
(when a row was first seen or updated, when a batch started and committed, how long it took)
may differ."""

from __future__ import annotations

import shutil
import uuid
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from moviestream.backfill.backfill import Backfill
from moviestream.backfill.inputs import list_inputs
from moviestream.core.config import AwsSettings
from moviestream.core.generate import generate
from moviestream.pipeline.batch_pipeline import PipelineConfig
from moviestream.quality.dqdl import read_ruleset
from tests.integration.databases import fresh_warehouse

pytestmark = pytest.mark.integration
ROOT = Path(__file__).parents[2]
MALFORMED = ROOT / "tests" / "data" / "malformed"
RULES = ROOT / "moviestream" / "rules" / "movies.dqdl"
# Columns that record the run, not the data.
RUN_TIMES = {"first_seen_at", "last_updated_at", "started_at", "committed_at", "applied_at", "quarantined_at",
             "status_changed_at", "changed_at", "recorded_at"}  # fmt: skip


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    """The malformed corpus beside a generated file of 3,000 rows, 10% of them defective."""
    path = tmp_path_factory.mktemp("handoffs")
    for case in MALFORMED.iterdir():
        if case.suffix in (".csv", ".gz"):
            shutil.copy(case, path / case.name)
    generate(path / "generated.csv", 3_000, seed=13, defect_rate=0.1)
    return path


def _load(stack, spark, folder: Path, handoff: str, bucket: str) -> tuple[str, dict, dict[str, bytes]]:
    """(warehouse DSN, summary, bad-record objects) of one backfill of ``folder``. The bucket is
    made for the run and removed after it: both runs use the same name, so the object keys and
    the quarantine ids (which hash them) can be compared."""
    dsn = fresh_warehouse(stack)
    s3 = AwsSettings().client("s3")
    s3.create_bucket(Bucket=bucket)
    config = PipelineConfig(
        job_name="handoff-parity",
        ruleset=read_ruleset(RULES),
        bucket=bucket,
        warehouse_dsn=dsn,
        views_refresh_s=0.0,
    )
    backfill = Backfill(spark, config, chunk_rows=1_000, handoff=handoff)
    try:
        summary = backfill.run(list_inputs(str(folder)), as_of=datetime(2021, 6, 1, 12, 30))
        objects = bad_record_objects(bucket)
    finally:
        backfill.close()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"])
        s3.delete_bucket(Bucket=bucket)
    return dsn, summary.as_dict(), objects


def warehouse_rows(dsn: str) -> dict[str, list[str]]:
    """Every table of the warehouse as sorted text rows, without the run's own times."""
    with psycopg.connect(dsn) as conn:
        columns: dict[str, list[str]] = {}
        for schema, table, column in conn.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'movies' AND table_name IN"
            " (SELECT table_name FROM information_schema.tables WHERE table_schema = 'movies'"
            "  AND table_type = 'BASE TABLE') ORDER BY table_name, ordinal_position"
        ):
            if column not in RUN_TIMES and not column.startswith("seconds"):
                columns.setdefault(f"{schema}.{table}", []).append(f'"{column}"')
        return {
            table: sorted(
                row[0] for row in conn.execute(f"SELECT ROW({', '.join(names)})::text FROM {table}")
            )
            for table, names in columns.items()
            if table != "movies.schema_migrations"
        }


def bad_record_objects(bucket: str) -> dict[str, bytes]:
    s3 = AwsSettings().client("s3")
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="bad_records/"):
        for item in page.get("Contents", []):
            objects[item["Key"]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return objects


def test_columns_and_envelopes_load_the_same_rows_ledger_and_bad_records(stack, spark, folder):
    bucket = f"handoffs-{uuid.uuid4().hex[:8]}"
    columns_dsn, columns, columns_objects = _load(stack, spark, folder, "columns", bucket)
    envelopes_dsn, envelopes, envelopes_objects = _load(stack, spark, folder, "envelopes", bucket)

    assert columns == {**envelopes, "seconds": columns["seconds"]}
    # The corpus reached Spark: good rows, rule failures and unreadable rows alike.
    assert columns["good_records"] > 2_500 and columns["bad_records"] > 100 and columns["files_failed"] >= 5
    assert columns["rejected_rows"] >= 3
    assert (
        columns["good_records"] + columns["bad_records"] + columns["duplicates_dropped"] == columns["records"]
    )

    columns_tables, envelopes_tables = warehouse_rows(columns_dsn), warehouse_rows(envelopes_dsn)
    assert columns_tables.keys() == envelopes_tables.keys()
    assert len(columns_tables["movies.imdb_movies_rating"]) > 2_000
    assert len(columns_tables["movies.batch_ledger"]) == columns["chunks_loaded"]
    assert (
        len(columns_tables["movies.quarantine"])
        == columns["bad_records"] + columns["rejected_rows"] + (columns["files_failed"])
    )
    assert [t for t in columns_tables if columns_tables[t] != envelopes_tables[t]] == []

    assert columns_objects.keys() == envelopes_objects.keys()
    assert sum(body.count(b"\n") for body in columns_objects.values()) == (
        columns["bad_records"] + columns["rejected_rows"] + columns["files_failed"]
    )
    assert [key for key, body in columns_objects.items() if body != envelopes_objects[key]] == []
