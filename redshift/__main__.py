"""``python -m redshift apply``: create or update the warehouse schema and views."""

from __future__ import annotations

import sys

import click

from moviestream.config import warehouse_dsn
from redshift.warehouse import WarehouseUnavailable, apply_schema


@click.group()
def cli() -> None:
    """Warehouse tools (Redshift SQL, applied locally to PostgreSQL)."""


@cli.command()
@click.option(
    "--dsn",
    default=warehouse_dsn,
    show_default="$MOVIESTREAM_WAREHOUSE_DSN or the local stack",
    help="PostgreSQL DSN of the warehouse.",
)
def apply(dsn: str) -> None:
    """Apply the schema and views (idempotent)."""
    try:
        n = apply_schema(dsn)
    except WarehouseUnavailable as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(f"applied {n} statements")


if __name__ == "__main__":
    cli()
