"""The warehouse a DSN names: ``redshift://...`` is Amazon Redshift (redshift.py), anything else
PostgreSQL (postgres.py). What the commands and the pipeline call when they hold only a DSN:
open it, apply the schema to it, run Redshift-dialect queries on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from moviestream.warehouse.contract import Warehouse
from moviestream.warehouse.data_api import grant_statements, jobs_user
from moviestream.warehouse.dialect import redshift_to_postgres
from moviestream.warehouse.postgres import PostgresWarehouse, connect, drop_changed_view_kinds
from moviestream.warehouse.redshift import RedshiftWarehouse
from moviestream.warehouse.sql_files import apply_statements, postgres_statements, redshift_statements


def is_redshift(dsn: str) -> bool:
    return dsn.startswith("redshift://")


def open_warehouse(dsn: str, s3_client_factory: Callable[[], Any] | None = None) -> Warehouse:
    """The warehouse a DSN names. ``s3_client_factory`` makes the S3 client Redshift stages
    through (PostgreSQL needs none)."""
    if is_redshift(dsn):
        return RedshiftWarehouse.from_dsn(dsn, s3_client_factory or (lambda: None))
    return PostgresWarehouse(dsn)


def apply_schema(dsn: str, grant_roles: Sequence[str] = ()) -> int:
    """Create or update the schema and views (idempotent) on the warehouse a DSN names: the
    files translated for PostgreSQL, or as written for Redshift (``redshift://``), then on
    Redshift the grants to each IAM role in ``grant_roles`` (moviestream/warehouse/data_api.py). Returns the
    number of statements run."""
    if is_redshift(dsn):
        conn = RedshiftWarehouse.from_dsn(dsn, lambda: None).connect()
        try:
            count = apply_statements(conn, redshift_statements)
            cur = conn.cursor()
            for i, role in enumerate(grant_roles):  # the first role is the loader: it owns the views
                cur.execute("SELECT 1 FROM pg_user WHERE usename = %s", (jobs_user(role),))
                for stmt in grant_statements(role, cur.fetchone() is not None, owns_views=i == 0):
                    cur.execute(stmt)
                    count += 1
                conn.commit()
            return count
        finally:
            conn.close()
    if grant_roles:
        raise ValueError("--grant-role applies to Redshift only (the local PostgreSQL has no IAM users)")
    with connect(dsn) as conn:
        return apply_statements(conn, postgres_statements, drop_changed_view_kinds)


def query_rows(dsn: str, redshift_sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
    """Run one Redshift-dialect query (values as %s parameters) on the warehouse a DSN names:
    translated for PostgreSQL, as written for Redshift. Returns (column names, rows)."""
    return query_many(dsn, [(redshift_sql, params)])[0]


def query_many(dsn: str, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[tuple[list[str], list[tuple]]]:
    """Several Redshift-dialect queries on one connection (a page of facts is one round of
    queries, not one connection each): (column names, rows) for each, in order."""
    results: list[tuple[list[str], list[tuple]]] = []
    if is_redshift(dsn):
        conn = RedshiftWarehouse.from_dsn(dsn, lambda: None).connect()
        try:
            cur = conn.cursor()
            for redshift_sql, params in queries:
                cur.execute(redshift_sql, list(params))
                results.append(([d[0] for d in cur.description], [tuple(r) for r in cur.fetchall()]))
            return results
        finally:
            conn.close()
    with connect(dsn, autocommit=True) as conn:
        for redshift_sql, params in queries:
            (postgres_sql,) = redshift_to_postgres(redshift_sql)
            cur = conn.execute(postgres_sql, list(params))
            results.append(([d.name for d in cur.description or ()], cur.fetchall()))
    return results


@contextmanager
def transaction(dsn: str) -> Iterator[Any]:
    """A DB-API cursor in one transaction on the warehouse a DSN names, committed when the block
    ends, rolled back if it raises. Its statements must be SQL both databases run as written
    (``%s`` parameters)."""
    conn = RedshiftWarehouse.from_dsn(dsn, lambda: None).connect() if is_redshift(dsn) else connect(dsn)
    try:
        cur = conn.cursor()
        yield cur
        conn.commit()
    except BaseException:
        conn.rollback()
        raise
    finally:
        conn.close()
