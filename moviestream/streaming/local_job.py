"""The streaming job on a local Spark: Kinesis (LocalStack or AWS) -> the per-batch pipeline.

``moviestream job`` (moviestream/cli/job.py) builds a LocalJob from its flags and runs it. It checks
everything a user can get wrong before Spark starts (the ruleset, the references, the starting
position, the stream, the warehouse, the alert topic), each as one JobSetupError line; it stops
after the batch in flight on SIGTERM or Ctrl-C, and raises JobFailed when the query ends on an error.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moviestream.core import logs
from moviestream.core.config import AwsConfigError, AwsSettings, describe_endpoint, resource_names
from moviestream.core.failure import root_cause
from moviestream.pipeline.alerts import AlertConfig
from moviestream.pipeline.config import build_config
from moviestream.quality.dqdl import Ruleset, read_ruleset
from moviestream.quality.reference_sources import parse_bindings

NAMES = resource_names()
DEFAULT_RULESET = Path(__file__).parents[1] / "rules" / "movies.dqdl"

log = logs.get("local_job")


class JobSetupError(ValueError):
    """The job cannot start (a bad flag or file, an unreachable endpoint): one line for the user."""


class JobFailed(RuntimeError):
    """The query stopped on an error; the message is its most specific cause."""


@dataclass
class LocalJob:
    """The local job's settings, by the names of ``moviestream job``'s flags."""

    stream_name: str
    bucket: str
    bad_records_prefix: str
    rule_outcomes_prefix: str
    job_name: str
    ruleset_path: Path
    warehouse_dsn: str
    checkpoint: Path
    trigger_seconds: float
    starting_position: str
    max_records_per_batch: int
    max_mb_per_batch: int
    event_bus: str
    failure_ratio_threshold: float
    warm_up_rounds: int
    degraded_after_seconds: float
    give_up_after_seconds: float
    max_isolated_records: int
    views_refresh_seconds: float
    metrics_namespace: str
    evaluation_context: str
    references: tuple[str, ...]
    ref_schemas: str
    ref_reload_seconds: float
    annotations_reload_seconds: float
    status_file: Path | None
    # The streaming query's id, once it started: the ledger's key for each batch waits for it.
    _query_started: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _query_id: str = field(default="", init=False, repr=False)

    def run(self) -> None:
        ruleset = self._ruleset()
        try:
            parse_bindings(self.references, self.ref_schemas.split(","))
        except ValueError as exc:
            raise JobSetupError(str(exc)) from None
        from moviestream.streaming.kinesis_source import parse_starting_position

        try:
            start = parse_starting_position(self.starting_position)
        except ValueError as exc:
            raise JobSetupError(str(exc)) from None
        aws = AwsSettings()
        self._check_dsn()  # a malformed DSN is the user's typo: said first, with no service needed
        kinesis = self._reachable_stream(aws)
        self._check_warehouse(aws)
        pipeline = self._pipeline(ruleset, aws, self._alerts())
        self._run_query(pipeline, aws, kinesis.meta.region_name, start)

    def _ruleset(self) -> Ruleset:
        try:
            return read_ruleset(self.ruleset_path)
        except ValueError as exc:
            raise JobSetupError(str(exc)) from None

    def _reachable_stream(self, aws: AwsSettings) -> Any:  # a boto3 Kinesis client
        try:
            kinesis = aws.client("kinesis")
        except AwsConfigError as exc:
            raise JobSetupError(str(exc)) from None
        try:
            # Two attempts, as the producer's check: an endpoint that is down is told in a second
            # or two, not after the SDK's five-attempt back-off (24 s measured).
            aws.client("kinesis", attempts=2).describe_stream_summary(StreamName=self.stream_name)
        except Exception as exc:  # any failure here is "cannot use the stream"
            raise JobSetupError(
                f"Kinesis stream {self.stream_name!r} is not reachable at {describe_endpoint(kinesis)}: "
                f"{str(exc).splitlines()[0]}"
            ) from None
        return kinesis

    def _check_dsn(self) -> None:
        from moviestream.warehouse.targets import open_warehouse

        try:
            open_warehouse(self.warehouse_dsn)  # reads the DSN; connects to nothing
        except ValueError as exc:
            raise JobSetupError(str(exc)) from None

    def _check_warehouse(self, aws: AwsSettings) -> None:
        from moviestream.warehouse.contract import WarehouseUnavailable
        from moviestream.warehouse.targets import open_warehouse

        try:
            open_warehouse(self.warehouse_dsn, lambda: aws.client("s3")).check_reachable()
        except (WarehouseUnavailable, ValueError) as exc:
            raise JobSetupError(str(exc)) from None

    def _alerts(self) -> AlertConfig:
        # Events only: the bus's rules route them to the alert topic (moviestream/pipeline/alerts.py).
        return AlertConfig(
            event_source=NAMES["event_source"],
            event_bus=self.event_bus,
            failure_ratio_threshold=self.failure_ratio_threshold,
        )

    def _pipeline(self, ruleset: Ruleset, aws: AwsSettings, alerts: AlertConfig) -> Any:
        from moviestream.pipeline.batch_pipeline import BatchPipeline

        try:
            config = build_config(
                job_name=self.job_name,
                ruleset=ruleset,
                bucket=self.bucket,
                warehouse_dsn=self.warehouse_dsn,
                aws=aws,
                alerts=alerts,
                bad_records_prefix=self.bad_records_prefix,
                rule_outcomes_prefix=self.rule_outcomes_prefix,
                metrics_namespace=self.metrics_namespace,
                evaluation_context=self.evaluation_context,
                references=self.references,
                reference_schemas=self.ref_schemas,
                reference_reload_seconds=self.ref_reload_seconds,
                annotations_reload_seconds=self.annotations_reload_seconds,
                degraded_after_seconds=self.degraded_after_seconds,
                give_up_after_seconds=self.give_up_after_seconds,
                max_isolated_records=self.max_isolated_records,
                views_refresh_seconds=self.views_refresh_seconds,
            )
        except ValueError as exc:
            raise JobSetupError(str(exc)) from None

        def stream_id() -> str:  # the ledger's key waits for the query's id
            self._query_started.wait()
            return self._query_id

        return BatchPipeline(config, stream_id)

    def _run_query(self, pipeline: Any, aws: AwsSettings, region: str, start: dict[str, Any]) -> None:
        from moviestream.core.failure import watch
        from moviestream.core.spark import ProgressLogger, local_session
        from moviestream.quality.reference_sources import ReferenceLoadError
        from moviestream.quality.sql_guard import RulesetRefused, refuse_unsafe
        from moviestream.streaming.kinesis_source import KinesisDataSource

        spark = local_session(self.job_name)
        spark.dataSource.register(KinesisDataSource)
        spark.streams.addListener(ProgressLogger(log))
        try:  # loaded now, so a source that cannot be read is one line before the stream starts
            refuse_unsafe(spark, pipeline.config.ruleset, str(self.ruleset_path))
            pipeline.references(spark)
        except (ReferenceLoadError, RulesetRefused) as exc:
            spark.stop()
            raise JobSetupError(str(exc)) from None
        watch(pipeline.retrier)  # the source's prefetching reports its outages to the failure policy
        if self.warm_up_rounds:
            from moviestream.streaming.warm_up import WarmUpPlan, warm_up_stream

            log.info("warmed_up", **warm_up_stream(spark, pipeline.rehearse, WarmUpPlan(self.warm_up_rounds)))
        query = self._start(spark, pipeline, aws, region, start)
        self._wait_for_stop(query)
        error = query.exception()
        spark.stop()
        pipeline.close()
        if error is not None:
            # A permanent error or an outage past the give-up time (moviestream/core/failure.py), or a
            # crash: the batch did not commit, so the checkpoint still points at it for a restart.
            cause = pipeline.failure or root_cause(str(error))
            log.error("query_failed", error=cause)
            raise JobFailed(cause)
        log.info("stopped")

    def _start(self, spark: Any, pipeline: Any, aws: AwsSettings, region: str, start: dict[str, Any]) -> Any:
        from moviestream.streaming.kinesis_source import KinesisDataSource

        source = (
            spark.readStream.format(KinesisDataSource.name())
            .option("stream_name", self.stream_name)
            .option("region", region)
            .option("endpoint_url", aws.endpoint_url or "")
            .option("max_records_per_batch", str(self.max_records_per_batch))
            .option("max_bytes_per_batch", str(self.max_mb_per_batch * 1024 * 1024))
            .option("starting_position_json", json.dumps(start))
            .load()
        )
        self.checkpoint.mkdir(parents=True, exist_ok=True)
        query = (
            source.writeStream.foreachBatch(pipeline.process)
            .option("checkpointLocation", str(self.checkpoint.resolve()))
            .trigger(processingTime=f"{self.trigger_seconds} seconds")
            .queryName(self.job_name.replace("-", "_"))
            .start()
        )
        # Spark keeps the query id in the checkpoint: the same checkpoint is the same stream, so the
        # ledger key (job, stream id, batch id) survives restarts and a new checkpoint never collides.
        self._query_id = str(query.id)
        self._query_started.set()
        log.info(
            "query_started",
            stream_id=self._query_id,
            stream=self.stream_name,
            checkpoint=str(self.checkpoint),
        )
        if self.status_file:
            self.status_file.parent.mkdir(parents=True, exist_ok=True)
            self.status_file.write_text(json.dumps({"stream_id": self._query_id, "pid": os.getpid()}))
        return query

    def _wait_for_stop(self, query: Any) -> None:
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
