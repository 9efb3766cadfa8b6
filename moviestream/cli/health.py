"""``moviestream health page|watch``: write the pipeline's health page, one self-contained HTML file.

    moviestream health page [--out reports/health.html] [--job NAME] [--batches 200]
    moviestream health watch [--every 5] [same options]

Reads the warehouse (``--warehouse-dsn``, a PostgreSQL or ``redshift://`` DSN) and the bad records
in S3 that its ledger points at (boto3's endpoint and region: ``make dashboard`` points them at the
local stack). ``watch --every N`` writes the page again every N seconds, and the page reloads itself.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from moviestream.cli.exit_codes import fail
from moviestream.cli.options import dsn_flag_warning
from moviestream.core import logs
from moviestream.core.config import AwsConfigError, AwsSettings, warehouse_dsn

DEFAULT_OUT = Path("reports/health.html")


def write_page(
    out: Path,
    dsn: str,
    aws: AwsSettings,
    *,
    job: str | None,
    batches: int,
    refresh_s: float | None,
    cache: dict,
) -> dict:
    """Read the facts, write the page (atomically: a reloading browser never sees half a file)."""
    from moviestream.health.facts import read_facts
    from moviestream.health.page import render
    from moviestream.health.summary import page_data

    clients: dict[str, object] = {}

    def s3():  # a boto3 client, made only when a batch has bad records
        if "s3" not in clients:
            clients["s3"] = aws.client("s3", attempts=2)
        return clients["s3"]

    now = datetime.now(UTC).replace(tzinfo=None)
    data = page_data(read_facts(dsn, s3, job=job, batches=batches, now=now, file_cache=cache))
    title = f"moviestream health: {job}" if job else "moviestream health"
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    partial.write_text(render(data, title=title, refresh_s=refresh_s), encoding="utf-8")
    partial.replace(out)
    return data


def page_options(command: Any) -> Any:  # a click command
    """The options ``health page`` and ``health watch`` share."""
    for option in reversed(
        (
            click.option(
                "--out",
                type=click.Path(path_type=Path, dir_okay=False),
                default=DEFAULT_OUT,
                show_default=True,
            ),
            click.option(
                "--warehouse-dsn",
                default=warehouse_dsn,
                show_default="$MOVIESTREAM_WAREHOUSE_DSN or local stack",
                callback=dsn_flag_warning,
            ),
            click.option("--job", default=None, help="Only this job's batches (default: every job's)."),
            click.option(
                "--batches",
                type=click.IntRange(min=1),
                default=200,
                show_default=True,
                help="The newest N batches.",
            ),
        )
    ):
        command = option(command)
    return command


@click.group("health")
def cli() -> None:
    """The pipeline's health page: one self-contained HTML file from the warehouse and S3."""


@cli.command("page")
@page_options
def page(out: Path, warehouse_dsn: str, job: str | None, batches: int) -> None:
    """Write the health page once and print its path."""
    _write(out, warehouse_dsn, job, batches, None)


@cli.command("watch")
@page_options
@click.option(
    "--every",
    type=click.FloatRange(min=1),
    default=5.0,
    show_default=True,
    help="Write the page again every this many seconds (the page reloads itself).",
)
def watch(out: Path, warehouse_dsn: str, job: str | None, batches: int, every: float) -> None:
    """Keep the health page current until Ctrl-C; a failed read is logged and retried."""
    _write(out, warehouse_dsn, job, batches, every)


def _write(out: Path, warehouse_dsn: str, job: str | None, batches: int, watch: float | None) -> None:
    logs.configure()
    log = logs.get("health")
    from moviestream.health.facts import S3Unreadable
    from moviestream.warehouse.contract import WarehouseUnavailable

    aws = AwsSettings()
    cache: dict = {}
    while True:
        started = time.monotonic()
        try:
            data = write_page(out, warehouse_dsn, aws, job=job, batches=batches, refresh_s=watch, cache=cache)
        except (WarehouseUnavailable, S3Unreadable, AwsConfigError, ValueError) as exc:
            if not watch:
                fail(str(exc).splitlines()[0])
            log.error("health_page_failed", error=str(exc).splitlines()[0])  # keep watching
        except Exception as exc:  # e.g. a warehouse without the schema: one line
            if not watch:
                fail(f"cannot read the pipeline's health: {str(exc).splitlines()[0]}")
            log.error("health_page_failed", error=str(exc).splitlines()[0])
        else:
            log.info(
                "health_page_written",
                path=str(out),
                batches=data["status"]["batches"],
                flagged=data["status"]["flagged_batches"],
                seconds=round(time.monotonic() - started, 2),
            )
            if not watch:
                click.echo(str(out.resolve()))
        if not watch:
            return
        try:
            time.sleep(max(0.0, watch - (time.monotonic() - started)))
        except KeyboardInterrupt:
            return
