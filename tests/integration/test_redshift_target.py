"""The Redshift target's batch transaction: staging files in S3 (LocalStack, real) and the
statements sent to Redshift, which does not run here (a connection that records them)."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import datetime
from decimal import Decimal

import pytest

from moviestream.core.config import AwsSettings
from moviestream.warehouse.contract import STAGE_COLUMNS, BatchKey, BatchLoad
from moviestream.warehouse.redshift import LEDGER_CHECK, RedshiftSettings, RedshiftWarehouse
from moviestream.warehouse.sql_files import redshift_statements
from tests.redshift_grammar import parse_problems

ROLE = "arn:aws:iam::000000000000:role/moviestream-redshift-copy"


class RecordingConnection:
    """Stands in for redshift_connector's connection: records SQL; the ledger holds ``ledger``."""

    def __init__(self, ledger: set[tuple]) -> None:
        self.ledger = ledger
        self.statements: list[tuple[str, object]] = []
        self.committed = self.rolled_back = self.closed = False
        self._row = None

    def cursor(self):
        return self

    def execute(self, sql, params=None):
        self.statements.append((sql, params))
        self._row = (1,) if sql == LEDGER_CHECK and tuple(params) in self.ledger else None

    def executemany(self, sql, rows):
        self.statements.append((sql, list(rows)))

    def fetchone(self):
        return self._row

    def commit(self):
        self.committed = True

    def rollback(self):
        self.rolled_back = True

    def close(self):
        self.closed = True


@pytest.fixture
def bucket(stack):
    name = f"rs-staging-{uuid.uuid4().hex[:8]}"
    AwsSettings().client("s3").create_bucket(Bucket=name)
    return name


def a_load(key: BatchKey) -> BatchLoad:
    movie = dict.fromkeys(STAGE_COLUMNS)
    movie.update(
        movie_id="0123456789abcdef",
        series_title="The Godfather",
        imdb_rating=Decimal("9.2"),
        event_id="e1",
        event_produced_at=datetime(2026, 11, 22, 10, 0),
        first_seen_at=datetime(2026, 11, 22, 10, 0, 1),
        last_updated_at=datetime(2026, 11, 22, 10, 0, 1),
        last_job=key.job_name,
        last_batch_id=key.batch_id,
    )
    outcomes = [
        {"Rule": 'IsComplete "x"', "Outcome": "Passed", "FailureReason": None, "EvaluatedMetrics": {}}
    ]
    ledger = {"records_in": 1, "good_records": 1, "started_at": datetime(2026, 11, 22, 10, 0, 1)}
    return BatchLoad(
        key, [tuple(movie[c] for c in STAGE_COLUMNS)], [("0123456789abcdef", "Crime")], ledger, outcomes
    )


def warehouse(bucket: str, conn: RecordingConnection) -> RedshiftWarehouse:
    settings = RedshiftSettings("h", 5439, "dev", "u", "p", ROLE, f"s3://{bucket}/staging")
    return RedshiftWarehouse(settings, lambda: AwsSettings().client("s3"), connect=lambda **_: conn)


def test_a_batch_is_staged_in_s3_then_copied_merged_and_ledgered_in_one_transaction(bucket):
    key = BatchKey("job", "stream-1", 7)
    conn = RecordingConnection(ledger=set())
    target = warehouse(bucket, conn)
    assert target.load_batch(a_load(key)) is not None

    movies_uri, genres_uri = target.staging_uris(key)
    assert movies_uri == f"s3://{bucket}/staging/job=job/stream=stream-1/batch=0000000007/movies.jsonl.gz"
    s3 = AwsSettings().client("s3")
    staged = gzip.decompress(s3.get_object(Bucket=bucket, Key=movies_uri.split("/", 3)[3])["Body"].read())
    row = json.loads(staged)
    assert (row["movie_id"], row["imdb_rating"], row["event_produced_at"]) == (
        "0123456789abcdef",
        9.2,
        "2026-11-22 10:00:00.000000",
    )

    sql = [s for s, _ in conn.statements]
    assert sql[:2] == ["LOCK movies.batch_ledger", LEDGER_CHECK]
    stage = list(redshift_statements("stage.sql"))
    merge = [*redshift_statements("merge_movies.sql"), *redshift_statements("refresh_bridges.sql")]
    assert sql[2 : 2 + len(stage)] == stage  # untranslated Redshift SQL
    copies = sql[2 + len(stage) : 4 + len(stage)]
    assert copies[0].startswith("COPY stage_movies (movie_id, ") and f"FROM '{movies_uri}'" in copies[0]
    assert copies[1].startswith("COPY stage_genres (movie_id, genre)") and f"IAM_ROLE '{ROLE}'" in copies[1]
    assert sql[4 + len(stage) : 4 + len(stage) + len(merge)] == merge
    ledger_sql, ledger_params = conn.statements[4 + len(stage) + len(merge)]
    assert ledger_sql.startswith("INSERT INTO movies.batch_ledger (records_in, good_records, started_at, ")
    assert ledger_params[-4:-1] == ["job", "stream-1", 7]  # values travel as parameters
    assert sql[-1].startswith("INSERT INTO movies.rule_outcomes")
    assert conn.committed and conn.closed and not conn.rolled_back


def test_every_statement_sent_parses_as_redshift(bucket):
    """What the target sends (COPY, LOCK, the ledger and outcome INSERTs, the SQL files as sent)
    parses with sqlfluff's Redshift grammar, which sqlglot does not share."""
    conn = RecordingConnection(ledger=set())
    assert warehouse(bucket, conn).load_batch(a_load(BatchKey("job", "stream-g", 1))) is not None
    assert len(conn.statements) > 5
    for sql, _ in conn.statements:
        count, problems = parse_problems(sql + ";")
        assert count == 1 and not problems, f"{problems}\n{sql}"


def test_a_batch_already_in_the_ledger_changes_nothing(bucket):
    key = BatchKey("job", "stream-1", 7)
    conn = RecordingConnection(ledger={("job", "stream-1", 7)})
    assert warehouse(bucket, conn).load_batch(a_load(key)) is None
    assert [s for s, _ in conn.statements] == ["LOCK movies.batch_ledger", LEDGER_CHECK]
    assert conn.rolled_back and not conn.committed and conn.closed


def test_a_failing_statement_rolls_the_batch_back(bucket):
    class Failing(RecordingConnection):
        def execute(self, sql, params=None):
            super().execute(sql, params)
            if sql.startswith("MERGE"):
                raise RuntimeError("simulated Redshift error")

    conn = Failing(ledger=set())
    with pytest.raises(RuntimeError, match="simulated"):
        warehouse(bucket, conn).load_batch(a_load(BatchKey("job", "s", 1)))
    assert conn.rolled_back and not conn.committed and conn.closed
