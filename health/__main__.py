"""``python -m health``: write the pipeline's health page, one self-contained HTML file.

    python -m health [--out reports/health.html] [--job NAME] [--batches 200] [--watch 5]

Reads the warehouse (``--warehouse-dsn``, a PostgreSQL or ``redshift://`` DSN) and the bad records
in S3 that its ledger points at (boto3's endpoint and region: ``make dashboard`` points them at the
local stack). ``--watch N`` writes the page again every N seconds, and the page reloads itself.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from moviestream import logs
from moviestream.config import AwsConfigError, AwsSettings, warehouse_dsn

DEFAULT_OUT = Path("reports/health.html")


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


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
    from health.facts import read_facts
    from health.page import render
    from health.summary import page_data

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


@click.command()
@click.option(
    "--out", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_OUT, show_default=True
)
@click.option(
    "--warehouse-dsn", default=warehouse_dsn, show_default="$MOVIESTREAM_WAREHOUSE_DSN or local stack"
)
@click.option("--job", default=None, help="Only this job's batches (default: every job's).")
@click.option(
    "--batches", type=click.IntRange(min=1), default=200, show_default=True, help="The newest N batches."
)
@click.option(
    "--watch",
    type=click.FloatRange(min=1),
    default=None,
    help="Write the page again every this many seconds (the page reloads itself); Ctrl-C stops.",
)
def main(out: Path, warehouse_dsn: str, job: str | None, batches: int, watch: float | None) -> None:
    """Write the health page."""
    logs.configure()
    log = logs.get("health")
    from health.facts import S3Unreadable
    from redshift.warehouse import WarehouseUnavailable

    aws = AwsSettings()
    cache: dict = {}
    while True:
        started = time.monotonic()
        try:
            data = write_page(out, warehouse_dsn, aws, job=job, batches=batches, refresh_s=watch, cache=cache)
        except (WarehouseUnavailable, S3Unreadable, AwsConfigError, ValueError) as exc:
            if not watch:
                _fail(str(exc).splitlines()[0])
            log.error("health_page_failed", error=str(exc).splitlines()[0])  # keep watching
        except Exception as exc:  # e.g. a warehouse without the schema: one line
            if not watch:
                _fail(f"cannot read the pipeline's health: {str(exc).splitlines()[0]}")
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


if __name__ == "__main__":
    main()
