"""PostgreSQL as the warehouse (the local stack's stand-in for Redshift): the Redshift SQL files
translated by moviestream/warehouse/dialect.py, and one batch's load as moviestream/warehouse/
loading.py lays it out, in one transaction on one psycopg connection."""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
from psycopg import sql

from moviestream.core.dsn import redact, target
from moviestream.warehouse import loading
from moviestream.warehouse.contract import (
    ANNOTATION_COLUMNS,
    ANNOTATIONS_QUERY,
    HISTORY_COLUMNS,
    HISTORY_QUERY,
    LEDGER_CHECK,
    STAGE_COLUMNS,
    BatchKey,
    BatchLoad,
    RunKey,
    WarehouseUnavailable,
    history_runs,
)
from moviestream.warehouse.quarantine import REPLAY_STAGE_COLUMNS
from moviestream.warehouse.sql_files import postgres_statements, view_kinds
from moviestream.warehouse.views import ViewsRefresh


def connect(dsn: str, autocommit: bool = False) -> psycopg.Connection:
    """A connection, or one line without the DSN's password: WarehouseUnavailable when the
    server cannot be reached or refuses, ValueError when the DSN itself is malformed (psycopg
    quotes a malformed DSN whole, password included)."""
    check_dsn(dsn)
    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=10)
    except psycopg.Error as exc:
        raise WarehouseUnavailable(
            f"cannot connect to the warehouse ({target(dsn)}): {redact(_first_line(exc), dsn)}"
        ) from None


def check_dsn(dsn: str) -> None:
    """ValueError, without the password, unless psycopg can read the DSN (no connection made)."""
    try:
        psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise ValueError(
            f"the warehouse DSN {target(dsn)} is neither postgresql://… nor redshift://…: "
            f"{redact(_first_line(exc), dsn)}"
        ) from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


_CSV = pa_csv.WriteOptions(include_header=False, batch_size=4096)


def csv_chunks(table: pa.Table, rows_per_chunk: int = 8192) -> Iterator[bytes]:
    """The table as PostgreSQL's CSV COPY format reads it, written by Arrow (not row by row in
    Python): NULL is an empty unquoted field, every string is quoted, so "" stays an empty string."""
    for batch in table.to_batches(max_chunksize=rows_per_chunk):
        buffer = io.BytesIO()
        pa_csv.write_csv(batch, buffer, _CSV)
        yield buffer.getvalue()


def drop_changed_view_kinds(cur: Any) -> None:
    """Drop a view whose kind differs from the views file's (a database applied when it was a
    plain view, now materialized, or the reverse): the file's DROP of the other kind would fail
    on it. The file creates it again, with any plain view CASCADE took along."""
    for name, materialized in view_kinds().items():
        schema, view = name.split(".")
        cur.execute(
            "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relname = %s",
            (schema, view),
        )
        row = cur.fetchone()
        if row is not None and row[0] != ("m" if materialized else "v"):
            kind = sql.SQL("MATERIALIZED VIEW" if row[0] == "m" else "VIEW")
            cur.execute(sql.SQL("DROP {} {} CASCADE").format(kind, sql.Identifier(schema, view)))


def insert_history_rows(cur: Any, rows: Sequence[tuple]) -> None:
    """movies.metric_history rows (HISTORY_COLUMNS order) through an open PostgreSQL cursor."""
    if rows:
        cur.executemany(_insert("metric_history", HISTORY_COLUMNS), rows)


def read_metric_history(dsn: str, context: str, limit: int) -> list[tuple[RunKey, dict[str, float]]]:
    """The newest ``limit`` runs of an evaluation context, oldest first, each with its key."""
    with connect(dsn, autocommit=True) as conn:
        return history_runs(conn.execute(HISTORY_QUERY, (context, limit, context)).fetchall())


def read_annotations(dsn: str, context: str) -> list[dict[str, Any]]:
    """The context's annotations (ANNOTATION_COLUMNS), in the order they were made."""
    with connect(dsn, autocommit=True) as conn:
        rows = conn.execute(ANNOTATIONS_QUERY, (context,)).fetchall()
    return [dict(zip(ANNOTATION_COLUMNS, row, strict=True)) for row in rows]


def _insert(table: str, columns: Sequence[str], schema: str | None = "movies") -> sql.Composed:
    """INSERT INTO <schema>.<table> (<columns>) VALUES (%s, ...), identifiers quoted by psycopg
    (``schema`` None: a temporary table)."""
    return sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier(schema, table) if schema else sql.Identifier(table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )


def batch_committed(conn: psycopg.Connection, key: BatchKey) -> bool:
    return conn.execute(LEDGER_CHECK, (key.job_name, key.stream_id, key.batch_id)).fetchone() is not None


class PostgresLoad:
    """loading.LoadSession on one psycopg connection (not in autocommit: one transaction)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def lock_ledger(self) -> None:
        # Readers are not blocked: SHARE ROW EXCLUSIVE conflicts with writers only.
        self.conn.execute("LOCK TABLE movies.batch_ledger IN SHARE ROW EXCLUSIVE MODE")

    def committed(self, key: BatchKey) -> bool:
        return batch_committed(self.conn, key)

    def run_file(self, name: str) -> None:
        for stmt in postgres_statements(name):
            self.conn.execute(stmt)

    def fill_stage(self, load: BatchLoad) -> None:
        # CSV written by Arrow, in movie_id order (the MERGE then grows the primary key's index
        # in order). Converting each value to a Python object for psycopg's row-by-row COPY took
        # longer than the database's whole MERGE.
        copy_stage = sql.SQL("COPY stage_movies ({}) FROM STDIN (FORMAT CSV)").format(
            sql.SQL(", ").join(map(sql.Identifier, STAGE_COLUMNS))
        )
        with self.conn.cursor().copy(copy_stage) as copy:
            for chunk in csv_chunks(load.movies.sort_by("movie_id")):
                copy.write(chunk)
        with self.conn.cursor().copy("COPY stage_genres (movie_id, genre) FROM STDIN (FORMAT CSV)") as copy:
            for chunk in csv_chunks(load.genres):
                copy.write(chunk)
        # Temporary tables are never auto-analyzed: without statistics the planner takes the
        # stage for a few rows and, with an empty target, joins them by a nested loop over the
        # target's heap as the MERGE grows it (400,000 rows did not finish in 14 minutes).
        # The plan needs little more than row counts: a small sample is enough and quicker.
        self.conn.execute("SET LOCAL default_statistics_target = 10")
        self.conn.execute("ANALYZE stage_movies")
        self.conn.execute("ANALYZE stage_genres")

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(_insert(table, columns), rows)

    def fill_replay(self, rows: Sequence[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(_insert("stage_replay", REPLAY_STAGE_COLUMNS, schema=None), rows)

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()


def load_batch(dsn: str, load: BatchLoad, timings: dict[str, float] | None = None) -> datetime | None:
    """Load one batch exactly once (loading.load): the ledger's committed_at, or None if it was
    loaded before. ``timings``, when given, receives the seconds of each of loading.LOAD_STEPS."""
    clock = loading.StepClock(timings)
    with connect(dsn) as conn:
        return loading.load(PostgresLoad(conn), load, clock)


class PostgresWarehouse:
    """The warehouse as the local stack has it: PostgreSQL, the Redshift SQL translated."""

    def __init__(self, dsn: str) -> None:
        check_dsn(dsn)  # a malformed DSN fails where the warehouse is opened, not at the first batch
        self.dsn = dsn

    def check_reachable(self) -> None:
        connect(self.dsn).close()

    def batch_committed(self, key: BatchKey) -> bool:
        with connect(self.dsn, autocommit=True) as conn:
            return batch_committed(conn, key)

    def load_batch(self, load: BatchLoad, timings: dict[str, float] | None = None) -> datetime | None:
        return load_batch(self.dsn, load, timings)

    def read_metric_history(self, context: str, limit: int) -> list[tuple[RunKey, dict[str, float]]]:
        return read_metric_history(self.dsn, context, limit)

    def read_annotations(self, context: str) -> list[dict[str, Any]]:
        return read_annotations(self.dsn, context)

    def views_refresh(self, refresher: str) -> ViewsRefresh:
        return ViewsRefresh(lambda: connect(self.dsn), refresher)
