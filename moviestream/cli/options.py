"""Options that several commands share: the per-batch pipeline's (``job`` and ``backfill``: the
failure policy, which moviestream/core/failure.py explains, poison isolation, the metrics namespace,
the evaluation context, the references) and the CSV readers' caps (``replay`` and ``backfill``,
moviestream/core/csv_source.py)."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable
from typing import Any

import click

from moviestream.core.config import resource_names, warehouse_dsn
from moviestream.core.csv_source import DEFAULT_FIELD_BYTES, DEFAULT_ROW_BYTES
from moviestream.core.dsn import has_password
from moviestream.quality.reference_sources import DEFAULT_SCHEMAS


def dsn_flag_warning(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    """A DSN option's callback: a password typed on the command line shows in `ps` and in the
    shell's history, so say where it belongs instead (one line on stderr; the value is used)."""
    source = ctx.get_parameter_source(param.name) if param.name else None
    if isinstance(value, str) and source == click.core.ParameterSource.COMMANDLINE and has_password(value):
        click.echo(
            f"warning: {param.opts[0]} holds a password, which shows in `ps` and the shell's history: "
            "set MOVIESTREAM_WAREHOUSE_DSN instead (on AWS the jobs read it from Secrets Manager)",
            err=True,
        )
    return value


def who() -> str:
    """Who changes something a person answers for (a quarantined record's status, an annotation):
    $MOVIESTREAM_USER, else the OS user."""
    try:
        return os.environ.get("MOVIESTREAM_USER") or getpass.getuser()
    except OSError:
        return "unknown"


def warehouse_errors(call: Callable[[], Any]) -> Any:
    """``call()``, with what a warehouse can answer a command turned into one error line: the
    warehouse unreachable or refused, a bad DSN or flag, or the schema not applied."""
    from moviestream.cli.exit_codes import fail
    from moviestream.core.failure import one_line
    from moviestream.warehouse.contract import WarehouseUnavailable

    try:
        return call()
    except (WarehouseUnavailable, ValueError) as exc:
        fail(str(exc))
    except Exception as exc:  # e.g. the tables missing: say so in one line
        fail(f"the warehouse refused: {one_line(exc)} (apply the schema: moviestream warehouse apply)")


# --dsn of the commands that work on a warehouse (warehouse, quarantine, quality annotate/history).
DSN_OPTION = click.option(
    "--dsn",
    default=warehouse_dsn,
    callback=dsn_flag_warning,
    show_default="$MOVIESTREAM_WAREHOUSE_DSN or the local stack",
    help="Warehouse DSN: postgresql://... (local) or redshift://... (docs/ARCHITECTURE.md).",
)


def failure_options(give_up_default: float) -> Callable[[Any], Any]:
    """--degraded-after-seconds and --give-up-after-seconds (0: never)."""

    def decorate(command: Any) -> Any:
        command = click.option(
            "--give-up-after-seconds",
            type=click.FloatRange(min=0),
            default=give_up_default,
            show_default=True,
            envvar="MOVIESTREAM_GIVE_UP_AFTER_S",
            help="End with an error when S3 or the warehouse stays unreachable this long (0: never).",
        )(command)
        return click.option(
            "--degraded-after-seconds",
            type=click.FloatRange(min=0),
            default=60.0,
            show_default=True,
            envvar="MOVIESTREAM_DEGRADED_AFTER_S",
            help="Alert (degraded) when S3 or the warehouse stays unreachable this long; retries go on.",
        )(command)

    return decorate


def ref_schemas_option(command: Any) -> Any:
    """--ref-schemas: the schemas warehouse:schema.table references may read."""
    return click.option(
        "--ref-schemas",
        default=",".join(DEFAULT_SCHEMAS),
        show_default=True,
        envvar="MOVIESTREAM_REF_SCHEMAS",
        help="The schemas warehouse:schema.table references may read, comma-separated.",
    )(command)


def reference_options(reload: bool) -> Callable[[Any], Any]:
    """--ref ALIAS=SOURCE (repeatable) and, for the streaming job, --ref-reload-seconds."""

    def decorate(command: Any) -> Any:
        command = ref_schemas_option(command)
        if reload:
            command = click.option(
                "--ref-reload-seconds",
                type=click.FloatRange(min=0),
                default=300.0,
                show_default=True,
                envvar="MOVIESTREAM_REF_RELOAD_SECONDS",
                help="Reload the reference datasets this often (0: never), without a restart.",
            )(command)
        return click.option(
            "--ref",
            "references",
            multiple=True,
            metavar="ALIAS=SOURCE",
            envvar="MOVIESTREAM_REFERENCES",
            help="A reference dataset for ReferentialIntegrity, DatasetMatch, ...: a CSV or Parquet "
            "file, s3://bucket/key, or warehouse:schema.table. Repeatable.",
        )(command)

    return decorate


def annotations_reload_option(command: Any) -> Any:
    return click.option(
        "--annotations-reload-seconds",
        type=click.FloatRange(min=0),
        default=60.0,
        show_default=True,
        envvar="MOVIESTREAM_ANNOTATIONS_RELOAD_SECONDS",
        help="Read people's annotations on the metric history (moviestream quality annotate) this "
        "often, without a restart (0: before every batch).",
    )(command)


def evaluation_context_option(command: Any) -> Any:
    """--evaluation-context: whose metric history the data-quality rules read and extend."""
    return click.option(
        "--evaluation-context",
        default="",
        show_default="the job name",
        envvar="MOVIESTREAM_EVALUATION_CONTEXT",
        help="Data-quality evaluation context: dynamic rules and DetectAnomalies compare each batch "
        "with the earlier batches of this context (movies.metric_history).",
    )(command)


def metrics_option(command: Any) -> Any:
    """--metrics-namespace: the CloudWatch namespace of the per-batch metrics (empty: none)."""
    return click.option(
        "--metrics-namespace",
        default=resource_names()["metrics_namespace"],
        show_default=True,
        envvar="MOVIESTREAM_METRICS_NAMESPACE",
        help="CloudWatch namespace for the per-batch metrics (one PutMetricData per batch, best "
        "effort); empty: publish none.",
    )(command)


def isolation_option(command: Any) -> Any:
    """--max-isolated-records: poison isolation's bound (moviestream/pipeline/batch_pipeline.py)."""
    return click.option(
        "--max-isolated-records",
        type=click.IntRange(min=0),
        default=100,
        show_default=True,
        envvar="MOVIESTREAM_MAX_ISOLATED_RECORDS",
        help="Records of one batch whose judging raises are isolated into the bad records, up to "
        "this many; past it the batch fails (0: never isolate).",
    )(command)


def views_refresh_option(command: Any) -> Any:
    """--views-refresh-seconds: the views' refresh cadence (moviestream/pipeline/views_refresher.py)."""
    return click.option(
        "--views-refresh-seconds",
        type=click.FloatRange(min=0),
        default=60.0,
        show_default=True,
        envvar="MOVIESTREAM_VIEWS_REFRESH_SECONDS",
        help="After batches commit, refresh the warehouse's materialized views at most this often "
        "(0: never; someone else refreshes them).",
    )(command)


def read_limit_options(command: Any) -> Any:  # a click command
    """--max-field-bytes and --max-row-bytes: the caps both CSV readers share."""
    command = click.option(
        "--max-row-bytes",
        type=click.IntRange(min=1),
        default=DEFAULT_ROW_BYTES,
        show_default=True,
        help="A CSV record longer than this ends its file: it and the rest are one reject.",
    )(command)
    return click.option(
        "--max-field-bytes",
        type=click.IntRange(min=1),
        default=DEFAULT_FIELD_BYTES,
        show_default=True,
        help="A CSV field longer than this rejects its row; reading goes on.",
    )(command)
