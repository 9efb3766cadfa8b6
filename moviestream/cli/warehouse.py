"""``moviestream warehouse``: apply the schema, list and query the views, check a loaded warehouse.

moviestream warehouse apply [--grant-role ROLE]
moviestream warehouse apply --data-api --workgroup WG --database DB [--secret-arn ARN] [--grant-role ROLE]
moviestream warehouse views
moviestream warehouse query top_rated --limit 20 [--json | --csv] [--data-api --workgroup WG --database DB]
moviestream warehouse check [--data-api --workgroup WG --database DB]
moviestream warehouse refresh [--wait-seconds 120]
"""

from __future__ import annotations

import csv
import json
import sys
from datetime import date, datetime
from decimal import Decimal

import click

from moviestream.cli.exit_codes import ExitCode, fail
from moviestream.cli.options import DSN_OPTION
from moviestream.warehouse.catalog import CHECKS, VIEWS, VIEWS_BY_NAME
from moviestream.warehouse.contract import WarehouseUnavailable
from moviestream.warehouse.targets import apply_schema, open_warehouse, query_rows
from moviestream.warehouse.views import STALENESS, Refreshed, Staleness, utc_now


def data_api_options(command):  # a click command
    """--data-api and its target: Redshift Serverless through the Redshift Data API, an AWS API,
    so no network path to the (private) workgroup is needed; AWS credentials are."""
    for option in reversed(
        (
            click.option(
                "--data-api",
                is_flag=True,
                help="Go through the Redshift Data API (AWS credentials; no network path to the workgroup).",
            ),
            click.option("--workgroup", help="Redshift Serverless workgroup (with --data-api)."),
            click.option("--database", help="Database (with --data-api)."),
            click.option(
                "--secret-arn",
                help="Secret with a database user and password (with --data-api; the Terraform output "
                "warehouse_admin_secret_arn). Without it the Data API signs in as your IAM identity.",
            ),
        )
    ):
        command = option(command)
    return command


def _data_api(data_api: bool, workgroup: str | None, database: str | None, secret_arn: str | None):
    """The DataApi the flags name, or None without --data-api; one-line errors for bad flags."""
    if not data_api:
        if workgroup or database or secret_arn:
            fail("--workgroup, --database and --secret-arn go with --data-api")
        return None
    if not workgroup or not database:
        fail("--data-api needs --workgroup and --database")
    from moviestream.core.config import AwsConfigError, AwsSettings
    from moviestream.warehouse.data_api import DataApi

    try:
        return DataApi(AwsSettings().client("redshift-data"), workgroup, database, secret_arn)
    except AwsConfigError as exc:
        fail(str(exc))


def _rows(dsn: str, api, redshift_sql: str, params: list | None = None) -> tuple[list[str], list]:
    """(columns, rows) of a Redshift-dialect query, on the DSN's warehouse or through the Data API."""
    from moviestream.warehouse.data_api import DataApiError, with_named_parameters

    try:
        if api is None:
            return query_rows(dsn, redshift_sql, params or [])
        return api.query(*with_named_parameters(redshift_sql, params or []))
    except (WarehouseUnavailable, DataApiError, ValueError) as exc:  # unreachable, refused, a bad DSN
        fail(str(exc))


@click.group("warehouse")
def cli() -> None:
    """Warehouse tools (Redshift SQL, applied locally to PostgreSQL)."""


@cli.command()
@DSN_OPTION
@data_api_options
@click.option(
    "--grant-role",
    "grant_roles",
    multiple=True,
    help="IAM role whose database user (IAMR:<role>) gets the schema's tables, now and later "
    "(Redshift; the Terraform output glue_jobs_role_name). Repeatable.",
)
def apply(
    dsn: str,
    data_api: bool,
    workgroup: str | None,
    database: str | None,
    secret_arn: str | None,
    grant_roles: tuple[str, ...],
) -> None:
    """Apply the schema, pending migrations and the views (idempotent), then the grants."""
    api = _data_api(data_api, workgroup, database, secret_arn)
    if api is not None:
        from moviestream.warehouse.data_api import DataApiError, apply_with_data_api

        try:
            n = apply_with_data_api(api, grant_roles)
        except (DataApiError, ValueError) as exc:
            fail(str(exc))
        click.echo(f"applied {n} statements through the Data API on {workgroup}/{database}")
        return
    try:
        n = apply_schema(dsn, grant_roles)
    except (WarehouseUnavailable, ValueError) as exc:  # unreachable, or a malformed DSN
        fail(str(exc))
    click.echo(f"applied {n} statements")


@cli.command()
def views() -> None:
    """List the views people query."""
    width = max(len(v.name) for v in VIEWS)
    for v in VIEWS:
        click.echo(f"{v.name.ljust(width)}  {v.description}")


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


@cli.command()
@click.argument("name")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per row.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row.")
@DSN_OPTION
@data_api_options
def query(
    name: str,
    limit: int,
    as_json: bool,
    as_csv: bool,
    dsn: str,
    data_api: bool,
    workgroup: str | None,
    database: str | None,
    secret_arn: str | None,
) -> None:
    """Print a view (NAME as listed by `views`) as an aligned table."""
    view = VIEWS_BY_NAME.get(name)
    if view is None:
        fail(f"unknown view {name!r}; one of: {', '.join(VIEWS_BY_NAME)}")
    if as_json and as_csv:
        fail("--json and --csv exclude each other")
    api = _data_api(data_api, workgroup, database, secret_arn)
    # The name and order come from the catalog, never from the user's text; the limit is a parameter.
    columns, rows = _rows(
        dsn, api, f"SELECT * FROM movies.{view.name} ORDER BY {view.order_by} LIMIT %s", [limit]
    )
    if as_json:
        for row in rows:
            click.echo(json.dumps({c: _plain(v) for c, v in zip(columns, row, strict=True)}))
    elif as_csv:
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows([_plain(v) for v in row] for row in rows)
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(*columns, box=None, header_style="bold")
        for row in rows:
            table.add_row(*["" if v is None else str(_plain(v)) for v in row])
        Console(width=max(120, len(columns) * 14)).print(table)
        click.echo(f"({len(rows)} row{'s' if len(rows) != 1 else ''})", err=True)
    if view.materialized:
        click.echo(_staleness_note(view.name, _rows(dsn, api, STALENESS)[1]), err=True)


def _staleness_note(name: str, rows: list) -> str:
    """How far a materialized view lags the ledger, in one line (on stderr, beside the rows)."""
    staleness = Staleness(*rows[0]) if rows else Staleness(None, None, None)
    if staleness.included is None and staleness.oldest_pending is None:
        return f"{name}: materialized; nothing committed yet"
    if staleness.oldest_pending is None:
        newest = f"{staleness.included:%Y-%m-%d %H:%M:%S}"
        return f"{name}: materialized, current (holds every committed batch, up to {newest} UTC)"
    return (
        f"{name}: materialized, {staleness.seconds(utc_now()):.0f} s stale (batches committed since "
        f"{staleness.oldest_pending:%Y-%m-%d %H:%M:%S} UTC are not in it yet; the jobs refresh it, "
        "or: moviestream warehouse refresh)"
    )


@cli.command()
@DSN_OPTION
@data_api_options
def check(
    dsn: str, data_api: bool, workgroup: str | None, database: str | None, secret_arn: str | None
) -> None:
    """Check what must hold after any load; exit 1 naming each violation."""
    api = _data_api(data_api, workgroup, database, secret_arn)
    failed = 0
    for c in CHECKS:
        _, rows = _rows(dsn, api, c.sql)
        count = int(rows[0][0])
        if count:
            failed += 1
            click.echo(f"FAIL {c.name}: {c.violation} ({count})")
        else:
            click.echo(f"ok   {c.name}")
    if failed:
        click.echo(f"{failed} of {len(CHECKS)} checks failed", err=True)
        sys.exit(ExitCode.FAILED)


@cli.command()
@DSN_OPTION
@click.option(
    "--wait-seconds",
    type=click.FloatRange(min=0),
    default=120.0,
    show_default=True,
    help="Wait this long for a refresh another refresher (a job) has under way.",
)
def refresh(dsn: str, wait_seconds: float) -> None:
    """Refresh the materialized views now, as the jobs do after batches commit (one refresher at
    a time; recorded in movies.views_refreshes). On Redshift, run it as the views' owner: the
    loader's IAMR: user the apply made their owner."""
    try:
        outcome = (
            open_warehouse(dsn)
            .views_refresh("moviestream warehouse refresh")
            .run(0.0, force=True, wait_s=wait_seconds)
        )
    except (WarehouseUnavailable, ValueError) as exc:
        fail(str(exc))
    except Exception as exc:  # the database refused (no lease table: the schema is not applied)
        fail(f"cannot refresh the views: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}")
    if not isinstance(outcome, Refreshed):
        fail(f"not refreshed: {outcome.reason}")
    if not outcome.succeeded:
        fail(f"refreshed {outcome.views} views, then failed: {outcome.error}", ExitCode.FAILED)
    newest = outcome.newest_committed_at
    click.echo(
        f"refreshed {outcome.views} materialized views in {outcome.seconds:.1f} s; they hold every batch "
        + (f"committed up to {newest:%Y-%m-%d %H:%M:%S} UTC" if newest else "(none committed yet)")
    )
