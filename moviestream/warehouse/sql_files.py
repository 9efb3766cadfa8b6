"""The warehouse's SQL files (Redshift dialect, under moviestream/warehouse/sql/), as each
warehouse runs them, and the schema's apply algorithm on any DB-API connection."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import sqlglot

from moviestream.warehouse.dialect import redshift_to_postgres

SCHEMA_FILES = ("001_schema.sql", "010_views.sql")


# Rows per multi-row INSERT: well under the protocol's 65,535 parameters at 20 columns a row.
INSERT_ROWS_PER_STATEMENT = 500


def multi_row_inserts(
    table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], schema: str | None = "movies"
) -> Iterator[tuple[str, list]]:
    """(statement, parameters) that insert ``rows`` into <schema>.<table> (``schema`` None: a
    temporary table), many rows a statement: a DB-API executemany sends one statement per row on
    Redshift's driver, a round trip each. ``table`` and ``columns`` are trusted names (the
    caller's constants or checked identifiers)."""
    row = f"({', '.join(['%s'] * len(columns))})"
    target = f"{schema}.{table}" if schema else table
    for start in range(0, len(rows), INSERT_ROWS_PER_STATEMENT):
        chunk = rows[start : start + INSERT_ROWS_PER_STATEMENT]
        values = ", ".join([row] * len(chunk))
        yield (
            f"INSERT INTO {target} ({', '.join(columns)}) VALUES {values}",
            [v for r in chunk for v in r],
        )


def sql_text(name: str) -> str:
    """One of the package's SQL files (Redshift dialect), by its path under moviestream/warehouse/sql/."""
    return resources.files("moviestream.warehouse").joinpath("sql", name).read_text(encoding="utf-8")


@cache
def postgres_statements(name: str) -> tuple[str, ...]:
    return tuple(redshift_to_postgres(sql_text(name)))


@cache
def redshift_statements(name: str) -> tuple[str, ...]:
    """The file's statements as Redshift runs them, one string each (split by sqlglot's parser)."""
    return tuple(
        tree.sql(dialect="redshift") for tree in sqlglot.parse(sql_text(name), read="redshift") if tree
    )


@cache
def view_kinds() -> dict[str, bool]:
    """Every view 010_views.sql creates, by name (schema.view), in the file's order: True for a
    materialized view (refreshed by moviestream/warehouse/views.py), False for a plain one."""
    kinds: dict[str, bool] = {}
    for tree in sqlglot.parse(sql_text(SCHEMA_FILES[1]), read="redshift"):
        if isinstance(tree, sqlglot.exp.Create) and str(tree.args.get("kind", "")).upper() == "VIEW":
            materialized = tree.find(sqlglot.exp.MaterializedProperty) is not None
            kinds[tree.this.sql(dialect="redshift")] = materialized
    return kinds


def materialized_views() -> tuple[str, ...]:
    return tuple(name for name, materialized in view_kinds().items() if materialized)


def migrations() -> list[str]:
    """Migration files (``migrations/NNNN_name.sql``) in the order they apply."""
    folder = resources.files("moviestream.warehouse").joinpath("sql", "migrations")
    return sorted(f"migrations/{f.name}" for f in folder.iterdir() if f.name.endswith(".sql"))


def apply_statements(
    conn: Any,
    statements: Callable[[str], Sequence[str]],
    before_views: Callable[[Any], None] | None = None,
) -> int:
    """The apply algorithm on a DB-API connection (psycopg or redshift_connector): the base
    schema (CREATE ... IF NOT EXISTS), then every migration not yet recorded in
    movies.schema_migrations, each in its own transaction with its record (a table lock keeps
    two appliers apart: the second waits, then sees the version recorded), then the views
    (``before_views`` first, on the same cursor, when given)."""
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
    if before_views is not None:
        before_views(cur)
    for stmt in statements(views):
        cur.execute(stmt)
        count += 1
    conn.commit()
    return count
