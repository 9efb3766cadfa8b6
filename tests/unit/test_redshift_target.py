"""The Redshift target's pure parts: DSN settings, staging files, COPY, the SQL it runs."""

import gzip
import json
from datetime import datetime
from decimal import Decimal

import pytest
import sqlglot

from moviestream.warehouse.redshift import RedshiftSettings, copy_statement, staging_file
from moviestream.warehouse.sql_files import redshift_statements

ROLE = "arn:aws:iam::123456789012:role/moviestream-redshift-copy"
DSN = f"redshift://loader:p%40ss@wg.123456789012.eu-west-1.redshift-serverless.amazonaws.com:5439/dev?iam_role={ROLE}&staging_uri=s3://moviestream-data/redshift-staging/"


def test_settings_from_a_dsn():
    s = RedshiftSettings.from_dsn(DSN)
    assert (s.port, s.database, s.user, s.password) == (5439, "dev", "loader", "p@ss")
    assert s.iam_role == ROLE and s.staging_uri == "s3://moviestream-data/redshift-staging"


def test_a_workgroup_dsn_connects_with_iam_credentials_and_no_password():
    from moviestream.warehouse.redshift import RedshiftWarehouse

    dsn = f"redshift://wg.example:5439/dev?workgroup=moviestream&iam_role={ROLE}&staging_uri=s3://b1x/p"
    settings = RedshiftSettings.from_dsn(dsn)
    assert (settings.user, settings.password, settings.workgroup) == ("", "", "moviestream")
    calls = []
    RedshiftWarehouse(settings, lambda: None, connect=lambda **kw: calls.append(kw)).connect()
    assert calls == [
        {
            "iam": True,
            "is_serverless": True,
            "serverless_work_group": "moviestream",
            "host": "wg.example",
            "port": 5439,
            "database": "dev",
        }
    ]


@pytest.mark.parametrize(
    ("dsn", "message"),
    [
        (f"redshift://h:5439/dev?iam_role={ROLE}&staging_uri=s3://b1x/p", "missing: user or workgroup"),
        ("redshift://u:p@h:5439/dev?staging_uri=s3://b1x/p", "missing: iam_role"),
        (f"redshift://u:p@h/dev?iam_role={ROLE}", "missing: staging_uri"),
        ("redshift://u:p@h/dev?iam_role=admin&staging_uri=s3://b1x/p", "not an IAM role ARN"),
        (f"redshift://u:p@h/dev?iam_role={ROLE}&staging_uri=s3://b1x/p'; drop", "not an s3://bucket/prefix"),
    ],
)
def test_bad_dsns_say_what_is_wrong(dsn, message):
    with pytest.raises(ValueError, match=message):
        RedshiftSettings.from_dsn(dsn)


def test_staging_file_is_gzipped_json_lines_keyed_by_column():
    body = staging_file(("movie_id", "imdb_rating", "event_produced_at", "overview"), [
        ("m1", Decimal("9.2"), datetime(2026, 11, 22, 10, 0, 0, 123000), 'a "quoted"\nline'),
        ("m2", None, datetime(2026, 11, 22, 10, 0, 1), None),
    ])  # fmt: skip
    rows = [json.loads(line) for line in gzip.decompress(body).decode().splitlines()]
    assert rows == [
        {"movie_id": "m1", "imdb_rating": 9.2, "event_produced_at": "2026-11-22 10:00:00.123000",
         "overview": 'a "quoted"\nline'},
        {"movie_id": "m2", "imdb_rating": None, "event_produced_at": "2026-11-22 10:00:01.000000",
         "overview": None},
    ]  # fmt: skip


def test_copy_is_built_only_from_validated_literals():
    sql = copy_statement(
        "stage_genres", ("movie_id", "genre"), "s3://moviestream-data/x/genres.jsonl.gz", ROLE
    )
    tree = sqlglot.parse_one(sql, read="redshift")
    assert tree.key == "copy" and "IAM_ROLE" in sql and "FORMAT AS JSON 'auto' GZIP" in sql
    with pytest.raises(ValueError, match="unvalidated"):
        copy_statement("stage_genres", ("movie_id",), "s3://b1x/k' IAM_ROLE 'x", ROLE)


class _RecordingRedshift:
    """Stands in for a redshift_connector connection (Redshift does not run here): records the
    SQL and keeps the schema_migrations rows it was told to insert."""

    def __init__(self, applied: set[str]) -> None:
        self.applied = set(applied)
        self.log: list[str] = []
        self._row = None

    def cursor(self):
        return self

    def execute(self, sql, params=None):
        self.log.append(sql)
        self._row = None
        if sql.startswith("SELECT 1 FROM movies.schema_migrations"):
            self._row = (1,) if params[0] in self.applied else None
        elif sql.startswith("INSERT INTO movies.schema_migrations"):
            self.applied.add(params[0])

    def fetchone(self):
        return self._row

    def commit(self):
        self.log.append("COMMIT")

    def rollback(self):
        self.log.append("ROLLBACK")


def test_apply_runs_the_files_as_written_and_each_migration_once():
    from moviestream.warehouse.sql_files import apply_statements, migrations

    conn = _RecordingRedshift(applied=set())
    apply_statements(conn, redshift_statements)
    versions = [m.removeprefix("migrations/").removesuffix(".sql") for m in migrations()]
    assert conn.applied == set(versions)
    assert any("DISTKEY(movie_id)" in s for s in conn.log)  # Redshift's physical design, kept
    assert any(s.startswith("CREATE MATERIALIZED VIEW movies.top_rated AUTO REFRESH NO") for s in conn.log)

    again = _RecordingRedshift(applied=set(versions))
    apply_statements(again, redshift_statements)
    assert not any(s.startswith("ALTER TABLE") for s in again.log)  # no migration ran twice
    assert again.log.count("ROLLBACK") == len(versions)
