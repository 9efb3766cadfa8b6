"""``moviestream job``: run the streaming job locally, Kinesis (LocalStack or AWS) to the
warehouse through the per-batch pipeline, on PySpark 4.1, until SIGTERM or Ctrl-C (the batch in
flight finishes first)."""

from __future__ import annotations

from pathlib import Path

import click

from moviestream.cli.exit_codes import ExitCode, fail
from moviestream.cli.options import (
    annotations_reload_option,
    dsn_flag_warning,
    evaluation_context_option,
    failure_options,
    isolation_option,
    metrics_option,
    reference_options,
    views_refresh_option,
)
from moviestream.core import logs
from moviestream.core.config import resource_names, warehouse_dsn
from moviestream.pipeline.alerts import DEFAULT_FAILURE_RATIO
from moviestream.streaming.local_job import DEFAULT_RULESET, JobFailed, JobSetupError, LocalJob

NAMES = resource_names()


@click.command("job")
@click.option("--stream-name", default=NAMES["stream_name"], show_default=True, envvar="MOVIESTREAM_STREAM")
@click.option("--bucket", default=NAMES["bucket_name"], show_default=True, envvar="MOVIESTREAM_BUCKET")
@click.option(
    "--bad-records-prefix",
    default=NAMES["bad_records_prefix"],
    show_default=True,
    envvar="MOVIESTREAM_BAD_RECORDS_PREFIX",
    help="Where in the bucket bad records go (the demo keeps its own: demo/bad_records).",
)
@click.option(
    "--rule-outcomes-prefix",
    default=NAMES["rule_outcomes_prefix"],
    show_default=True,
    envvar="MOVIESTREAM_RULE_OUTCOMES_PREFIX",
)
@click.option(
    "--job-name", default=NAMES["streaming_job_name"], show_default=True, envvar="MOVIESTREAM_JOB_NAME"
)
@click.option(
    "--ruleset",
    "ruleset_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_RULESET,
    show_default=True,
    envvar="MOVIESTREAM_RULESET",
    help="DQDL ruleset file.",
)
@click.option(
    "--warehouse-dsn",
    default=warehouse_dsn,
    show_default="$MOVIESTREAM_WAREHOUSE_DSN or local stack",
    callback=dsn_flag_warning,
)
@click.option(
    "--checkpoint",
    type=click.Path(path_type=Path),
    default=Path(".local/checkpoints/streaming"),
    show_default=True,
    envvar="MOVIESTREAM_CHECKPOINT",
)
@click.option("--trigger-seconds", type=float, default=1.0, show_default=True)
@click.option(
    "--starting-position",
    default="trim_horizon",
    show_default=True,
    help="trim_horizon | latest | at_timestamp:<ISO-8601 or epoch seconds> (for a new checkpoint).",
)
@click.option(
    "--max-records-per-batch",
    type=click.IntRange(min=1),
    default=20_000,
    show_default=True,
    help="Kinesis records (aggregates count once) read per micro-batch.",
)
@click.option(
    "--max-mb-per-batch",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Kinesis data (MB) read per micro-batch; at least one record.",
)
@click.option(
    "--event-bus",
    default="default",
    show_default=True,
    envvar="MOVIESTREAM_EVENT_BUS",
    help="EventBridge bus for the alerts' events (its rules route them to the alert topic).",
)
@click.option(
    "--failure-ratio-threshold",
    type=click.FloatRange(min=0, max=1),
    default=DEFAULT_FAILURE_RATIO,
    show_default=True,
    envvar="MOVIESTREAM_FAILURE_RATIO_THRESHOLD",
    help="Alert when a batch's share of bad records exceeds this.",
)
@click.option(
    "--warm-up-rounds",
    type=click.IntRange(min=0),
    default=12,
    show_default=True,
    envvar="MOVIESTREAM_WARM_UP_ROUNDS",
    help="At most this many synthetic micro-batches before the query starts, fewer once judging "
    "a record costs what it did the round before (0: none), so the first real ones are not cold.",
)
@failure_options(give_up_default=0.0)
@isolation_option
@views_refresh_option
@metrics_option
@evaluation_context_option
@annotations_reload_option
@reference_options(reload=True)
@click.option(
    "--status-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Write {stream_id, pid} here once the query runs (used by the demo).",
)
def job(**options: object) -> None:
    """Run the streaming job locally until SIGTERM or Ctrl-C."""
    logs.configure()
    try:
        LocalJob(**options).run()  # type: ignore[arg-type]  # click's options, by name
    except JobSetupError as exc:
        fail(str(exc))
    except JobFailed as exc:
        fail(f"the streaming job stopped: {exc}", ExitCode.FAILED)
