"""``python -m batch_backfill FILE-OR-PREFIX``: load historical movie files into the warehouse
through the streaming job's pipeline (see batch_backfill/backfill.py). Prints a JSON summary."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from batch_backfill import DEFAULT_CHUNK_ROWS
from batch_backfill.inputs import DEFAULT_COMPRESSION_RATIO, DEFAULT_DECOMPRESSED_BYTES
from glue_streaming.job_options import (
    evaluation_context_option,
    failure_options,
    isolation_option,
    metrics_option,
    reference_options,
)
from moviestream import logs
from moviestream.config import AwsSettings, resource_names, warehouse_dsn
from moviestream.failure import GaveUp, PermanentFailure, policy_from
from producer.input_options import read_limit_options

NAMES = resource_names()
DEFAULT_RULESET = Path(__file__).parents[1] / "glue_streaming" / "rules" / "movies.dqdl"


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.command()
@click.argument("location")
@click.option("--job-name", default="moviestream-backfill", show_default=True)
@click.option("--bucket", default=NAMES["bucket_name"], show_default=True, envvar="MOVIESTREAM_BUCKET")
@click.option(
    "--ruleset", "ruleset_path", type=click.Path(path_type=Path), default=DEFAULT_RULESET, show_default=True
)
@click.option(
    "--warehouse-dsn", default=warehouse_dsn, show_default="$MOVIESTREAM_WAREHOUSE_DSN or local stack"
)
@click.option("--chunk-rows", type=click.IntRange(min=1), default=DEFAULT_CHUNK_ROWS, show_default=True)
@click.option("--as-of", default=None, help="Event time of the rows (ISO-8601); default: each file's mtime.")
@click.option("--force", is_flag=True, help="Load files again even if their content was loaded before.")
@failure_options(give_up_default=3600.0)
@isolation_option
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
    degraded_after_seconds: float,
    give_up_after_seconds: float,
    max_isolated_records: int,
    metrics_namespace: str,
    evaluation_context: str,
    references: tuple[str, ...],
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
    from batch_backfill.backfill import parse_as_of
    from batch_backfill.inputs import list_inputs
    from moviestream.quality.dqdl import read_ruleset
    from producer.csv_source import InputError
    from redshift.warehouse import WarehouseUnavailable, open_warehouse

    try:
        when = parse_as_of(as_of, "--as-of") if as_of else None
    except ValueError as exc:
        _fail(str(exc))
    from moviestream.quality.reference_sources import ReferenceLoadError, parse_bindings

    try:
        ruleset = read_ruleset(ruleset_path)
        bindings = parse_bindings(references)
    except ValueError as exc:
        _fail(str(exc))
    aws = AwsSettings()
    try:
        files = list_inputs(location)
        open_warehouse(warehouse_dsn, lambda: aws.client("s3")).check_reachable()
    except (InputError, WarehouseUnavailable, ValueError) as exc:
        _fail(str(exc))

    from batch_backfill.backfill import Backfill
    from batch_backfill.progress import ChunkProgress
    from glue_streaming.pipeline import PipelineConfig
    from glue_streaming.spark import local_session

    spark = local_session(job_name)
    config = PipelineConfig(
        job_name=job_name,
        ruleset=ruleset,
        bucket=bucket,
        warehouse_dsn=warehouse_dsn,
        aws=aws,
        metrics_namespace=metrics_namespace.strip() or None,
        evaluation_context=evaluation_context.strip() or None,
        references=bindings,
        reference_reload_s=0.0,  # a backfill reads its references once
        failure=policy_from(degraded_after_seconds, give_up_after_seconds),
        max_isolated_records=max_isolated_records,
    )
    from batch_backfill.inputs import ArchiveLimits
    from producer.csv_source import ReadLimits

    try:
        limits = ReadLimits(field_bytes=max_field_bytes, row_bytes=max_row_bytes)
        archive = ArchiveLimits(decompressed_bytes=max_decompressed_bytes, ratio=max_compression_ratio)
    except ValueError as exc:
        spark.stop()
        _fail(str(exc))
    backfill = Backfill(spark, config, chunk_rows=chunk_rows, limits=limits, archive=archive)
    try:
        backfill.pipeline.references(spark)  # a source that cannot be read: one line, before any file
    except ReferenceLoadError as exc:
        backfill.close()
        spark.stop()
        _fail(str(exc))
    try:
        with ChunkProgress() as progress:
            summary = backfill.run(files, as_of=when, force=force, progress=progress)
    except (PermanentFailure, GaveUp) as exc:  # logged and alerted by the pipeline; resumable
        click.echo(f"error: the backfill stopped: {exc} (run it again to resume)", err=True)
        sys.exit(1)
    finally:
        backfill.close()
        spark.stop()
    click.echo(json.dumps(summary.as_dict()))
    if summary.failed:
        for file in summary.failed:
            click.echo(f"error: {file.failed}", err=True)
        loaded = len(summary.files) - len(summary.failed)
        click.echo(
            f"error: {len(summary.failed)} of {len(summary.files)} files could not be read "
            f"({loaded} loaded); each is a bad record with its reason",
            err=True,
        )
        sys.exit(1)


if __name__ == "__main__":
    main()
