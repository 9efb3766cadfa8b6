"""The warehouse side of a micro-batch: stage + MERGE + ledger in one transaction.

Locally the warehouse is PostgreSQL and the SQL files (Redshift dialect) are translated by
redshift/dialect.py; the statements are the same ones Redshift runs.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pa_csv
import sqlglot
from psycopg import sql

from moviestream.failpoints import failpoint
from moviestream.record import TYPED_COLUMNS
from redshift.dialect import redshift_to_postgres

SCHEMA_FILES = ("001_schema.sql", "010_views.sql")

# Columns of the staging table, in COPY order (the table is LIKE movies.imdb_movies_rating).
STAGE_COLUMNS: tuple[str, ...] = (
    *TYPED_COLUMNS,
    "event_id",
    "event_produced_at",
    "first_seen_at",
    "last_updated_at",
    "last_job",
    "last_batch_id",
)


def sql_text(name: str) -> str:
    """One of the package's SQL files (Redshift dialect), by its path under redshift/sql/."""
    return resources.files("redshift").joinpath("sql", name).read_text(encoding="utf-8")


@cache
def postgres_statements(name: str) -> tuple[str, ...]:
    return tuple(redshift_to_postgres(sql_text(name)))


@cache
def redshift_statements(name: str) -> tuple[str, ...]:
    """The file's statements as Redshift runs them, one string each (split by sqlglot's parser)."""
    return tuple(
        tree.sql(dialect="redshift") for tree in sqlglot.parse(sql_text(name), read="redshift") if tree
    )


class WarehouseUnavailable(RuntimeError):
    pass


def connect(dsn: str, autocommit: bool = False) -> psycopg.Connection:
    try:
        return psycopg.connect(dsn, autocommit=autocommit, connect_timeout=10)
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WarehouseUnavailable(f"cannot connect to the warehouse ({_redact(dsn)}): {first_line}") from exc


def _redact(dsn: str) -> str:
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    return f"{info.get('host', '?')}:{info.get('port', '5432')}/{info.get('dbname', '?')}"


def migrations() -> list[str]:
    """Migration files (``migrations/NNNN_name.sql``) in the order they apply."""
    folder = resources.files("redshift").joinpath("sql", "migrations")
    return sorted(f"migrations/{f.name}" for f in folder.iterdir() if f.name.endswith(".sql"))


def apply_schema(dsn: str, grant_roles: Sequence[str] = ()) -> int:
    """Create or update the schema and views (idempotent) on the warehouse a DSN names: the
    files translated for PostgreSQL, or as written for Redshift (``redshift://``), then on
    Redshift the grants to each IAM role in ``grant_roles`` (redshift/data_api.py). Returns the
    number of statements run."""
    if dsn.startswith("redshift://"):
        from redshift.data_api import grant_statements, jobs_user
        from redshift.redshift_target import RedshiftWarehouse

        conn = RedshiftWarehouse.from_dsn(dsn, lambda: None).connect()
        try:
            count = apply_statements(conn, redshift_statements)
            cur = conn.cursor()
            for role in grant_roles:
                cur.execute("SELECT 1 FROM pg_user WHERE usename = %s", (jobs_user(role),))
                for stmt in grant_statements(role, cur.fetchone() is not None):
                    cur.execute(stmt)
                    count += 1
                conn.commit()
            return count
        finally:
            conn.close()
    if grant_roles:
        raise ValueError("--grant-role applies to Redshift only (the local PostgreSQL has no IAM users)")
    with connect(dsn) as conn:
        return apply_statements(conn, postgres_statements)


def apply_statements(conn: Any, statements: Callable[[str], Sequence[str]]) -> int:
    """The apply algorithm on a DB-API connection (psycopg or redshift_connector): the base
    schema (CREATE ... IF NOT EXISTS), then every migration not yet recorded in
    movies.schema_migrations, each in its own transaction with its record (a table lock keeps
    two appliers apart: the second waits, then sees the version recorded), then the views."""
    base, views = SCHEMA_FILES
    cur = conn.cursor()
    count = 0
    for stmt in statements(base):
        cur.execute(stmt)
        count += 1
    conn.commit()
    for name in migrations():
        version = name.removeprefix("migrations/").removesuffix(".sql")
        try:
            cur.execute("LOCK TABLE movies.schema_migrations")
            cur.execute("SELECT 1 FROM movies.schema_migrations WHERE version = %s", (version,))
            if cur.fetchone() is not None:
                conn.rollback()
                continue
            for stmt in statements(name):
                cur.execute(stmt)
                count += 1
            cur.execute(
                "INSERT INTO movies.schema_migrations (version, applied_at) VALUES (%s, %s)",
                (version, datetime.now(UTC).replace(tzinfo=None)),
            )
            conn.commit()
        except BaseException:
            conn.rollback()
            raise
    for stmt in statements(views):
        cur.execute(stmt)
        count += 1
    conn.commit()
    return count


@dataclass(frozen=True)
class BatchKey:
    job_name: str
    stream_id: str
    batch_id: int


GENRE_COLUMNS: tuple[str, ...] = ("movie_id", "genre")


@dataclass
class BatchLoad:
    """One batch for the warehouse. ``movies`` and ``genres`` are Arrow tables, the form the
    pipeline collects them in; rows (sequences in column order) are accepted too and converted."""

    key: BatchKey
    movies: pa.Table  # STAGE_COLUMNS, newest event per movie
    genres: pa.Table  # GENRE_COLUMNS
    ledger: dict[str, Any]  # counts and timings, see movies.batch_ledger
    rule_outcomes: list[dict[str, Any]]
    # Lag columns (lag_p50_s, ...) -> the produced_at each is measured from; the seconds are
    # taken against committed_at, known only inside the transaction. Empty: no lag (backfill).
    lag_from: dict[str, datetime] = field(default_factory=dict)
    # The run's data-quality metrics (Glue's names), recorded in movies.metric_history under
    # this evaluation context in the batch's transaction; None: not recorded.
    metrics: dict[str, float] = field(default_factory=dict)
    history_context: str | None = None

    def __post_init__(self) -> None:
        self.movies = as_table(STAGE_COLUMNS, self.movies)
        self.genres = as_table(GENRE_COLUMNS, self.genres)


def as_table(columns: Sequence[str], rows: pa.Table | Iterable[Sequence[Any]]) -> pa.Table:
    """``rows`` as an Arrow table with ``columns`` (each column's type inferred from its values)."""
    if isinstance(rows, pa.Table):
        if rows.column_names != list(columns):
            raise ValueError(f"expected the columns {list(columns)}, got {rows.column_names}")
        return rows
    rows = list(rows)
    values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    if len(values) != len(columns):
        raise ValueError(f"expected rows of {len(columns)} values")
    return pa.table({c: pa.array(list(v)) for c, v in zip(columns, values, strict=True)})


def table_rows(table: pa.Table) -> Iterator[tuple]:
    """The table's rows as tuples of Python values."""
    return zip(*(column.to_pylist() for column in table.columns), strict=True)


_CSV = pa_csv.WriteOptions(include_header=False, batch_size=4096)


def csv_chunks(table: pa.Table, rows_per_chunk: int = 8192) -> Iterator[bytes]:
    """The table as PostgreSQL's CSV COPY format reads it, written by Arrow (not row by row in
    Python): NULL is an empty unquoted field, every string is quoted, so "" stays an empty string."""
    for batch in table.to_batches(max_chunksize=rows_per_chunk):
        buffer = io.BytesIO()
        pa_csv.write_csv(batch, buffer, _CSV)
        yield buffer.getvalue()


OUTCOME_COLUMNS = (
    "job_name",
    "stream_id",
    "batch_id",
    "rule",
    "outcome",
    "failure_reason",
    "evaluated_metrics",
    "observations",  # migration 0007: DetectAnomalies' findings, JSON; NULL otherwise
)


def lag_seconds(committed_at: datetime, lag_from: dict[str, datetime]) -> dict[str, float]:
    """Each lag column's seconds: committed_at minus the produced_at it is measured from."""
    return {name: round((committed_at - produced).total_seconds(), 3) for name, produced in lag_from.items()}


def ledger_row(load: BatchLoad, load_started: float) -> dict[str, Any]:
    """The batch's movies.batch_ledger row, committed_at taken now (just before the commit);
    ``load_started``: time.perf_counter() when the warehouse step began."""
    committed_at = datetime.now(UTC).replace(tzinfo=None)
    return {
        **load.ledger,
        **lag_seconds(committed_at, load.lag_from),
        "seconds_warehouse": round(time.perf_counter() - load_started, 3),
        "job_name": load.key.job_name,
        "stream_id": load.key.stream_id,
        "batch_id": load.key.batch_id,
        "committed_at": committed_at,
    }


def outcome_rows(load: BatchLoad) -> list[tuple]:
    """The batch's rule outcomes as movies.rule_outcomes rows, in OUTCOME_COLUMNS order."""
    key = load.key
    return [
        (
            key.job_name,
            key.stream_id,
            key.batch_id,
            o["Rule"],
            o["Outcome"],
            o["FailureReason"],
            json.dumps(o["EvaluatedMetrics"]),
            json.dumps(o["Observations"]) if o.get("Observations") else None,
        )
        for o in load.rule_outcomes
    ]


HISTORY_COLUMNS = ("context", "job_name", "stream_id", "batch_id", "recorded_at", "metric", "value")


def history_rows(load: BatchLoad, committed_at: datetime) -> list[tuple]:
    """The run's metrics as movies.metric_history rows, in HISTORY_COLUMNS order."""
    if load.history_context is None:
        return []
    key = load.key
    return [
        (load.history_context, key.job_name, key.stream_id, key.batch_id, committed_at, metric, value)
        for metric, value in sorted(load.metrics.items())
    ]


def insert_history_rows(cur: Any, rows: Sequence[tuple]) -> None:
    """movies.metric_history rows (HISTORY_COLUMNS order) through an open PostgreSQL cursor."""
    if rows:
        cur.executemany(_insert("metric_history", HISTORY_COLUMNS), rows)


# The newest runs of one context (at most the limit), read back oldest first. Plain SQL that
# PostgreSQL and Redshift both run.
HISTORY_QUERY = """
SELECT h.job_name, h.stream_id, h.batch_id, r.recorded_at, h.metric, h.value
FROM movies.metric_history h
JOIN (
    SELECT job_name, stream_id, batch_id, MAX(recorded_at) AS recorded_at
    FROM movies.metric_history
    WHERE context = %s
    GROUP BY job_name, stream_id, batch_id
    ORDER BY recorded_at DESC, batch_id DESC
    LIMIT %s
) r ON h.job_name = r.job_name AND h.stream_id = r.stream_id AND h.batch_id = r.batch_id
WHERE h.context = %s
ORDER BY r.recorded_at, h.stream_id, h.batch_id
"""


def history_runs(rows: Iterable[Sequence[Any]]) -> list[dict[str, float]]:
    """HISTORY_QUERY's rows as runs (one dict of metrics each), in the rows' order."""
    runs: dict[tuple, dict[str, float]] = {}
    for job_name, stream_id, batch_id, _, metric, value in rows:
        runs.setdefault((job_name, stream_id, batch_id), {})[metric] = float(value)
    return list(runs.values())


def read_metric_history(dsn: str, context: str, limit: int) -> list[dict[str, float]]:
    """The newest ``limit`` runs of an evaluation context, oldest first."""
    with connect(dsn, autocommit=True) as conn:
        return history_runs(conn.execute(HISTORY_QUERY, (context, limit, context)).fetchall())


def _insert(table: str, columns: Sequence[str]) -> sql.Composed:
    """INSERT INTO movies.<table> (<columns>) VALUES (%s, ...), identifiers quoted by psycopg."""
    return sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        sql.Identifier("movies", table),
        sql.SQL(", ").join(map(sql.Identifier, columns)),
        sql.SQL(", ").join(sql.Placeholder() * len(columns)),
    )


def batch_committed(conn: psycopg.Connection, key: BatchKey) -> bool:
    row = conn.execute(
        "SELECT 1 FROM movies.batch_ledger WHERE job_name = %s AND stream_id = %s AND batch_id = %s",
        (key.job_name, key.stream_id, key.batch_id),
    ).fetchone()
    return row is not None


LOAD_STEPS = ("stage", "merge", "bridges", "ledger")


def load_batch(dsn: str, load: BatchLoad, timings: dict[str, float] | None = None) -> datetime | None:
    """Load one batch exactly once. Returns the ledger's ``committed_at`` (UTC, taken after the
    MERGE, just before the commit), or None (and changes nothing) if it was already loaded.
    ``timings``, when given, receives the seconds of each of LOAD_STEPS."""
    clock = _StepClock(timings)
    started = clock.last
    with connect(dsn) as conn, conn.transaction():
        # One batch load at a time, whichever job (the stream and a backfill may run together):
        # the newer-wins DELETE and the MERGE are two statements, and a movie committed by
        # another load between them would be overwritten by an older event. The lock also makes
        # a concurrent second attempt at the same batch wait, then find the ledger row and skip.
        # Readers are not blocked (SHARE ROW EXCLUSIVE conflicts with writers only). Redshift
        # takes the same precaution with LOCK (redshift_target.py).
        conn.execute("LOCK TABLE movies.batch_ledger IN SHARE ROW EXCLUSIVE MODE")
        if batch_committed(conn, load.key):
            return None
        for stmt in postgres_statements("stage.sql"):
            conn.execute(stmt)
        # CSV written by Arrow, in movie_id order (the MERGE then grows the primary key's index
        # in order). Converting each value to a Python object for psycopg's row-by-row COPY took
        # longer than the database's whole MERGE.
        copy_stage = sql.SQL("COPY stage_movies ({}) FROM STDIN (FORMAT CSV)").format(
            sql.SQL(", ").join(map(sql.Identifier, STAGE_COLUMNS))
        )
        with conn.cursor().copy(copy_stage) as copy:
            for chunk in csv_chunks(load.movies.sort_by("movie_id")):
                copy.write(chunk)
        with conn.cursor().copy("COPY stage_genres (movie_id, genre) FROM STDIN (FORMAT CSV)") as copy:
            for chunk in csv_chunks(load.genres):
                copy.write(chunk)
        # Temporary tables are never auto-analyzed: without statistics the planner takes the
        # stage for a few rows and, with an empty target, joins them by a nested loop over the
        # target's heap as the MERGE grows it (400,000 rows did not finish in 14 minutes).
        # The plan needs little more than row counts: a small sample is enough and quicker.
        conn.execute("SET LOCAL default_statistics_target = 10")
        conn.execute("ANALYZE stage_movies")
        conn.execute("ANALYZE stage_genres")
        clock.lap("stage")
        for stmt in postgres_statements("merge_movies.sql"):
            conn.execute(stmt)
        clock.lap("merge")
        for stmt in postgres_statements("refresh_bridges.sql"):
            conn.execute(stmt)
        clock.lap("bridges")
        ledger = ledger_row(load, started)
        committed_at = ledger["committed_at"]
        columns = list(ledger)
        conn.execute(_insert("batch_ledger", columns), [ledger[c] for c in columns])
        with conn.cursor() as cur:
            cur.executemany(_insert("rule_outcomes", OUTCOME_COLUMNS), outcome_rows(load))
            insert_history_rows(cur, history_rows(load, committed_at))
        failpoint("in_transaction", load.key.batch_id)
    clock.lap("ledger")  # with the commit
    return committed_at


class _StepClock:
    """Seconds since the previous lap, recorded by step name (nothing when not asked for)."""

    def __init__(self, into: dict[str, float] | None) -> None:
        self.into = into
        self.last = time.perf_counter()

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        if self.into is not None:
            self.into[step] = now - self.last
        self.last = now


class PostgresWarehouse:
    """The warehouse as the local stack has it: PostgreSQL, the Redshift SQL translated."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def check_reachable(self) -> None:
        connect(self.dsn).close()

    def batch_committed(self, key: BatchKey) -> bool:
        with connect(self.dsn, autocommit=True) as conn:
            return batch_committed(conn, key)

    def load_batch(self, load: BatchLoad) -> datetime | None:
        return load_batch(self.dsn, load)

    def read_metric_history(self, context: str, limit: int) -> list[dict[str, float]]:
        return read_metric_history(self.dsn, context, limit)


def open_warehouse(dsn: str, s3_client_factory=None):  # see the two classes
    """The warehouse a DSN names: ``redshift://`` is Amazon Redshift (redshift/redshift_target.py),
    anything else PostgreSQL. ``s3_client_factory`` makes the S3 client Redshift stages through."""
    if dsn.startswith("redshift://"):
        from redshift.redshift_target import RedshiftWarehouse

        return RedshiftWarehouse.from_dsn(dsn, s3_client_factory)
    return PostgresWarehouse(dsn)


def query_rows(dsn: str, redshift_sql: str, params: Sequence[Any] = ()) -> tuple[list[str], list[tuple]]:
    """Run one Redshift-dialect query (values as %s parameters) on the warehouse a DSN names:
    translated for PostgreSQL, as written for Redshift. Returns (column names, rows)."""
    return query_many(dsn, [(redshift_sql, params)])[0]


def query_many(dsn: str, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[tuple[list[str], list[tuple]]]:
    """Several Redshift-dialect queries on one connection (a page of facts is one round of
    queries, not one connection each): (column names, rows) for each, in order."""
    results: list[tuple[list[str], list[tuple]]] = []
    if dsn.startswith("redshift://"):
        from redshift.redshift_target import RedshiftWarehouse

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
            results.append(([d.name for d in cur.description], cur.fetchall()))
    return results
