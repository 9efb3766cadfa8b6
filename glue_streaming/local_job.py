"""Local entry of the streaming job: Kinesis (LocalStack or AWS) -> per-batch pipeline, on PySpark 4.1.

    python -m glue_streaming.local_job --ruleset glue_streaming/rules/movies.dqdl

Stops after the current micro-batch on SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import click

from glue_streaming.alerts import DEFAULT_FAILURE_RATIO, AlertConfig
from glue_streaming.job_options import (
    evaluation_context_option,
    failure_options,
    isolation_option,
    metrics_option,
    reference_options,
)
from moviestream import logs
from moviestream.config import AwsConfigError, AwsSettings, describe_endpoint, resource_names, warehouse_dsn
from moviestream.failure import policy_from, watch
from moviestream.quality.dqdl import read_ruleset
from moviestream.quality.reference_sources import ReferenceLoadError, parse_bindings

NAMES = resource_names()
DEFAULT_RULESET = Path(__file__).parent / "rules" / "movies.dqdl"


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


def _root_cause(message: str) -> str:
    """The most specific 'SomethingError: ...' line of a Spark/py4j error text."""
    causes = [
        line.strip() for line in message.splitlines() if re.match(r"^\s*[\w.]+(Error|Exception): ", line)
    ]
    return causes[-1] if causes else message.strip().splitlines()[0]


@click.command()
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
    "--warehouse-dsn", default=warehouse_dsn, show_default="$MOVIESTREAM_WAREHOUSE_DSN or local stack"
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
    "--alert-topic-arn",
    default="",
    envvar="MOVIESTREAM_ALERT_TOPIC_ARN",
    show_default="the topic named in resources.json, in this account and region",
    help="SNS topic for data-quality alerts.",
)
@click.option(
    "--event-bus",
    default="default",
    show_default=True,
    envvar="MOVIESTREAM_EVENT_BUS",
    help="EventBridge bus for the alerts' events.",
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
    default=3,
    show_default=True,
    envvar="MOVIESTREAM_WARM_UP_ROUNDS",
    help="Synthetic batches run before the query starts, so the first real ones are not cold.",
)
@failure_options(give_up_default=0.0)
@isolation_option
@metrics_option
@evaluation_context_option
@reference_options(reload=True)
@click.option(
    "--status-file",
    type=click.Path(path_type=Path),
    default=None,
    help="Write {stream_id, pid} here once the query runs (used by the demo).",
)
def main(
    stream_name: str,
    bucket: str,
    bad_records_prefix: str,
    rule_outcomes_prefix: str,
    job_name: str,
    ruleset_path: Path,
    warehouse_dsn: str,
    checkpoint: Path,
    trigger_seconds: float,
    starting_position: str,
    max_records_per_batch: int,
    max_mb_per_batch: int,
    alert_topic_arn: str,
    event_bus: str,
    failure_ratio_threshold: float,
    warm_up_rounds: int,
    degraded_after_seconds: float,
    give_up_after_seconds: float,
    max_isolated_records: int,
    metrics_namespace: str,
    evaluation_context: str,
    references: tuple[str, ...],
    ref_reload_seconds: float,
    status_file: Path | None,
) -> None:
    """Run the streaming job locally until SIGTERM."""
    logs.configure()
    log = logs.get("local_job")
    try:
        ruleset = read_ruleset(ruleset_path)
        bindings = parse_bindings(references)
    except ValueError as exc:
        _fail(str(exc))

    from glue_streaming.kinesis_source import KinesisDataSource, parse_starting_position
    from glue_streaming.pipeline import BatchPipeline, PipelineConfig
    from glue_streaming.spark import ProgressLogger, local_session
    from redshift.warehouse import WarehouseUnavailable, open_warehouse

    try:
        start = parse_starting_position(starting_position)
    except ValueError as exc:
        _fail(str(exc))
    aws = AwsSettings()
    try:
        kinesis = aws.client("kinesis")
    except AwsConfigError as exc:
        _fail(str(exc))
    try:
        kinesis.describe_stream_summary(StreamName=stream_name)
    except Exception as exc:  # any failure here is "cannot use the stream"
        _fail(
            f"Kinesis stream {stream_name!r} is not reachable at {describe_endpoint(kinesis)}: "
            f"{str(exc).splitlines()[0]}"
        )
    try:
        open_warehouse(warehouse_dsn, lambda: aws.client("s3")).check_reachable()
    except (WarehouseUnavailable, ValueError) as exc:
        _fail(str(exc))
    if not alert_topic_arn:
        try:
            account = aws.client("sts").get_caller_identity()["Account"]
        except Exception as exc:  # any failure here is "cannot name the topic"
            _fail(f"cannot determine the AWS account for the alert topic: {str(exc).splitlines()[0]}")
        alert_topic_arn = f"arn:aws:sns:{kinesis.meta.region_name}:{account}:{NAMES['alert_topic_name']}"
    alerts = AlertConfig(
        topic_arn=alert_topic_arn,
        event_source=NAMES["event_source"],
        event_bus=event_bus,
        failure_ratio_threshold=failure_ratio_threshold,
    )

    spark = local_session(job_name)
    spark.dataSource.register(KinesisDataSource)
    spark.streams.addListener(ProgressLogger(log))
    query_id: dict[str, str] = {}
    query_started = threading.Event()

    def stream_id() -> str:
        query_started.wait()
        return query_id["id"]

    pipeline = BatchPipeline(
        PipelineConfig(
            job_name=job_name,
            ruleset=ruleset,
            bucket=bucket,
            warehouse_dsn=warehouse_dsn,
            bad_records_prefix=bad_records_prefix.strip("/"),
            rule_outcomes_prefix=rule_outcomes_prefix.strip("/"),
            aws=aws,
            alerts=alerts,
            metrics_namespace=metrics_namespace.strip() or None,
            evaluation_context=evaluation_context.strip() or None,
            references=bindings,
            reference_reload_s=ref_reload_seconds,
            failure=policy_from(degraded_after_seconds, give_up_after_seconds),
            max_isolated_records=max_isolated_records,
        ),
        stream_id,
    )
    try:  # loaded now, so a source that cannot be read is one line before the stream starts
        pipeline.references(spark)
    except ReferenceLoadError as exc:
        spark.stop()
        _fail(str(exc))
    # The Kinesis source's prefetching reports its outages to the pipeline's failure policy.
    watch(pipeline.retrier)
    if warm_up_rounds:
        log.info(
            "warmed_up",
            rounds=warm_up_rounds,
            seconds=round(pipeline.warm_up(spark, rounds=warm_up_rounds), 3),
        )
    source = (
        spark.readStream.format("moviestream_kinesis")
        .option("stream_name", stream_name)
        .option("region", kinesis.meta.region_name)
        .option("endpoint_url", aws.endpoint_url or "")
        .option("max_records_per_batch", str(max_records_per_batch))
        .option("max_bytes_per_batch", str(max_mb_per_batch * 1024 * 1024))
        .option("starting_position_json", json.dumps(start))
        .load()
    )
    checkpoint.mkdir(parents=True, exist_ok=True)
    query = (
        source.writeStream.foreachBatch(pipeline.process)
        .option("checkpointLocation", str(checkpoint.resolve()))
        .trigger(processingTime=f"{trigger_seconds} seconds")
        .queryName(job_name.replace("-", "_"))
        .start()
    )
    # Spark keeps the query id in the checkpoint: the same checkpoint is the same stream, so the
    # ledger key (job, stream id, batch id) survives restarts and a new checkpoint never collides.
    query_id["id"] = str(query.id)
    query_started.set()
    log.info("query_started", stream_id=query_id["id"], stream=stream_name, checkpoint=str(checkpoint))
    if status_file:
        status_file.parent.mkdir(parents=True, exist_ok=True)
        status_file.write_text(json.dumps({"stream_id": query_id["id"], "pid": os.getpid()}))

    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        log.info("stop_requested", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    while query.isActive and not stop.is_set():
        time.sleep(0.5)  # not stop.wait(): the signal handler's stop.set() could deadlock with it
    if query.isActive:
        while query.status.get("isTriggerActive"):  # finish the batch in flight
            time.sleep(0.2)
        query.stop()
    error = query.exception()
    spark.stop()
    pipeline.close()
    if error is not None:
        # A permanent error or an outage past the give-up time (moviestream/failure.py), or a
        # crash: the batch did not commit, so the checkpoint still points at it for a restart.
        cause = pipeline.failure or _root_cause(str(error))
        log.error("query_failed", error=cause)
        click.echo(f"error: the streaming job stopped: {cause}", err=True)
        sys.exit(1)
    log.info("stopped")


if __name__ == "__main__":
    main()
