"""``moviestream backfill FILE-OR-PREFIX``: load historical movie files into the warehouse
through the streaming job's pipeline (see moviestream/backfill/backfill.py). Prints a JSON summary."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from moviestream.backfill import DEFAULT_CHUNK_ROWS, HANDOFFS
from moviestream.backfill.inputs import DEFAULT_COMPRESSION_RATIO, DEFAULT_DECOMPRESSED_BYTES
from moviestream.cli.exit_codes import ExitCode, fail
from moviestream.cli.options import (
    dsn_flag_warning,
    evaluation_context_option,
    failure_options,
    isolation_option,
    metrics_option,
    read_limit_options,
    reference_options,
    views_refresh_option,
)
from moviestream.core import logs
from moviestream.core.config import AwsSettings, resource_names, warehouse_dsn
from moviestream.core.failure import GaveUp, PermanentFailure
from moviestream.pipeline.config import PipelineConfig, build_config

NAMES = resource_names()
DEFAULT_RULESET = Path(__file__).parents[1] / "rules" / "movies.dqdl"


@click.command("backfill")
@click.argument("location")
@click.option("--job-name", default="moviestream-backfill", show_default=True)
@click.option("--bucket", default=NAMES["bucket_name"], show_default=True, envvar="MOVIESTREAM_BUCKET")
@click.option(
    "--ruleset", "ruleset_path", type=click.Path(path_type=Path), default=DEFAULT_RULESET, show_default=True
)
@click.option(
    "--warehouse-dsn",
    default=warehouse_dsn,
    show_default="$MOVIESTREAM_WAREHOUSE_DSN or local stack",
    callback=dsn_flag_warning,
)
@click.option("--chunk-rows", type=click.IntRange(min=1), default=DEFAULT_CHUNK_ROWS, show_default=True)
@click.option("--as-of", default=None, help="Event time of the rows (ISO-8601); default: each file's mtime.")
@click.option("--force", is_flag=True, help="Load files again even if their content was loaded before.")
@click.option(
    "--handoff",
    type=click.Choice(HANDOFFS),
    default="columns",
    show_default=True,
    envvar="MOVIESTREAM_BACKFILL_HANDOFF",
    help="How rows reach Spark: Arrow columns, or the producer's JSON envelopes (the same records; "
    "kept for comparison).",
)
@failure_options(give_up_default=3600.0)
@isolation_option
@views_refresh_option
@metrics_option
@evaluation_context_option
@reference_options(reload=False)
@read_limit_options
@click.option(
    "--max-decompressed-bytes",
    type=click.IntRange(min=1),
    default=DEFAULT_DECOMPRESSED_BYTES,
    show_default=True,
    help="Refuse a gzip or zip that decompresses to more bytes than this.",
)
@click.option(
    "--max-compression-ratio",
    type=click.FloatRange(min=1, min_open=True),
    default=DEFAULT_COMPRESSION_RATIO,
    show_default=True,
    help="Refuse a gzip or zip that decompresses more than this many times its size (past its first "
    "16 MiB): a decompression bomb.",
)
def main(
    location: str,
    job_name: str,
    bucket: str,
    ruleset_path: Path,
    warehouse_dsn: str,
    chunk_rows: int,
    as_of: str | None,
    force: bool,
    handoff: str,
    degraded_after_seconds: float,
    give_up_after_seconds: float,
    max_isolated_records: int,
    views_refresh_seconds: float,
    metrics_namespace: str,
    evaluation_context: str,
    references: tuple[str, ...],
    ref_schemas: str,
    max_field_bytes: int,
    max_row_bytes: int,
    max_decompressed_bytes: int,
    max_compression_ratio: float,
) -> None:
    """Backfill LOCATION: a CSV file, a folder, or an s3://bucket/prefix/ (plain, gzip or zip).

    A file that cannot be read (damaged, a decompression bomb, not a movies CSV, not what its
    manifest says) is named with its reason and recorded among the bad records; the other files
    load, and the run exits 1 at the end."""
    logs.configure()
    from moviestream.backfill.backfill import parse_as_of
    from moviestream.backfill.inputs import ArchiveLimits, list_inputs
    from moviestream.core.csv_source import InputError, ReadLimits
    from moviestream.quality.dqdl import read_ruleset
    from moviestream.warehouse.contract import WarehouseUnavailable
    from moviestream.warehouse.targets import open_warehouse

    aws = AwsSettings()
    try:  # everything a user can get wrong, before Spark starts
        when = parse_as_of(as_of, "--as-of") if as_of else None
        config = build_config(
            job_name=job_name,
            ruleset=read_ruleset(ruleset_path),
            bucket=bucket,
            warehouse_dsn=warehouse_dsn,
            aws=aws,
            metrics_namespace=metrics_namespace,
            evaluation_context=evaluation_context,
            references=references,
            reference_schemas=ref_schemas,
            reference_reload_seconds=0.0,  # a backfill reads its references once
            degraded_after_seconds=degraded_after_seconds,
            give_up_after_seconds=give_up_after_seconds,
            max_isolated_records=max_isolated_records,
            views_refresh_seconds=views_refresh_seconds,
        )
        limits = ReadLimits(field_bytes=max_field_bytes, row_bytes=max_row_bytes)
        archive = ArchiveLimits(decompressed_bytes=max_decompressed_bytes, ratio=max_compression_ratio)
        files = list_inputs(location)
        open_warehouse(warehouse_dsn, lambda: aws.client("s3")).check_reachable()
    except (InputError, WarehouseUnavailable, ValueError) as exc:
        fail(str(exc))
    backfill_options = {"chunk_rows": chunk_rows, "limits": limits, "archive": archive, "handoff": handoff}
    summary = _run(files, config, when=when, force=force, rules=str(ruleset_path), **backfill_options)
    click.echo(json.dumps(summary.as_dict()))
    if summary.failed:
        for file in summary.failed:
            click.echo(f"error: {file.failed}", err=True)
        loaded = len(summary.files) - len(summary.failed)
        fail(
            f"{len(summary.failed)} of {len(summary.files)} files could not be read "
            f"({loaded} loaded); each is a bad record with its reason",
            ExitCode.FAILED,
        )


def _run(
    files: list, config: PipelineConfig, *, when: datetime | None, force: bool, rules: str, **options: Any
) -> Any:
    """The backfill on a local Spark session, with a progress bar; its summary."""
    from moviestream.backfill.backfill import Backfill
    from moviestream.backfill.progress import ChunkProgress
    from moviestream.core.spark import local_session
    from moviestream.quality.reference_sources import ReferenceLoadError
    from moviestream.quality.sql_guard import RulesetRefused, refuse_unsafe

    spark = local_session(config.job_name)
    backfill = Backfill(spark, config, **options)
    try:
        refuse_unsafe(spark, config.ruleset, rules)  # before any file, as the job does
        backfill.pipeline.references(spark)  # a source that cannot be read: one line, before any file
        with ChunkProgress() as progress:
            return backfill.run(files, as_of=when, force=force, progress=progress)
    except (ReferenceLoadError, RulesetRefused) as exc:
        fail(str(exc))
    except (PermanentFailure, GaveUp) as exc:  # logged and alerted by the pipeline; resumable
        fail(f"the backfill stopped: {exc} (run it again to resume)", ExitCode.FAILED)
    finally:
        backfill.close()
        spark.stop()


if __name__ == "__main__":
    main()
