"""A ruleset that may not run (a CustomSql that is not a query over the data, a where clause
calling Java) stops the streaming job and the backfill at start, with one line, before a batch
runs (issue 30); `moviestream quality lint` names every refused construct
(tests/unit/test_quality_cli.py)."""

from __future__ import annotations

import subprocess
import sys
import uuid

import psycopg

from moviestream.core.config import AwsSettings
from tests.integration.databases import fresh_warehouse
from tests.integration.test_faults import new_stream

HOSTILE = (
    'Rules = [\n  RowCount > 0,\n  CustomSql "SET spark.sql.shuffle.partitions=1",\n'
    "  ColumnValues \"imdb_rating\" > 1 where \"java_method('java.lang.System', 'exit', 0) = 'x'\"\n]\n"
)
FIRST = 'refused: CustomSql "SET spark.sql.shuffle.partitions=1": SET is not a query over the data'


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "moviestream", *args], capture_output=True, text=True, timeout=300, check=False
    )


def test_the_job_and_the_backfill_refuse_the_ruleset_at_start(stack, tmp_path):
    rules = tmp_path / "hostile.dqdl"
    rules.write_text(HOSTILE)
    dsn = fresh_warehouse(stack)
    bucket = f"refused-{uuid.uuid4().hex[:8]}"
    AwsSettings().client("s3").create_bucket(Bucket=bucket)
    job = _run(
        "job", "--stream-name", new_stream(), "--bucket", bucket, "--warehouse-dsn", dsn,
        "--ruleset", str(rules), "--checkpoint", str(tmp_path / "cp"), "--warm-up-rounds", "0",
    )  # fmt: skip
    assert job.returncode == 2, job.stderr[-2000:]
    assert (
        job.stderr.strip().splitlines()[-1]
        == f"error: {rules}: {FIRST} (and 1 more: moviestream quality lint lists them)"
    )
    backfill = _run(
        "backfill",
        "data/movies_sample.csv",
        "--warehouse-dsn",
        dsn,
        "--bucket",
        bucket,
        "--ruleset",
        str(rules),
    )
    assert backfill.returncode == 2, backfill.stderr[-2000:]
    assert backfill.stderr.strip().splitlines()[-1] == (
        f"error: {rules}: {FIRST} (and 1 more: moviestream quality lint lists them)"
    )
    with psycopg.connect(dsn) as conn:  # nothing ran: no batch in the ledger
        assert conn.execute("SELECT COUNT(*) FROM movies.batch_ledger").fetchone()[0] == 0
