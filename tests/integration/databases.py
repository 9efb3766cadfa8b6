"""Warehouse databases of a test's own on the session's PostgreSQL (not fixtures: functions)."""

from __future__ import annotations

import uuid

import psycopg

from moviestream.devstack.stack import create_database_sql
from moviestream.warehouse.targets import apply_schema


def fresh_warehouse(stack, name: str | None = None) -> str:
    """Create a database with the schema applied; returns its DSN."""
    name = name or f"wh_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stack.warehouse_dsn, autocommit=True) as conn:
        conn.execute(create_database_sql(name))
    dsn = psycopg.conninfo.make_conninfo(stack.warehouse_dsn, dbname=name)
    apply_schema(dsn)
    return dsn


def clone_warehouse(dsn: str, prefix: str = "clone") -> str:
    """A copy of a warehouse database (PostgreSQL's template copy: nothing may be connected to
    it meanwhile); returns the copy's DSN."""
    info = psycopg.conninfo.conninfo_to_dict(dsn)
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = psycopg.conninfo.make_conninfo(dsn, dbname="postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{info["dbname"]}"')
    return psycopg.conninfo.make_conninfo(dsn, dbname=name)
