"""The per-batch pipeline shared by the streaming job's entries and the backfill.

For one micro-batch: judge every record (pure, moviestream.pipeline.judge), write bad records and rule
outcomes to S3 under keys that are deterministic per (job, stream, batch), then load good rows
with stage + MERGE + ledger in one warehouse transaction. A batch already in the ledger is
skipped, so Spark's at-least-once replay after a crash never duplicates a row.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from typing import Any

import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession

from moviestream.core import logs
from moviestream.core.envelope import envelope_json
from moviestream.core.failpoints import failpoint
from moviestream.core.failure import GaveUp, PermanentFailure, Retrier, one_line
from moviestream.core.generate import sample_row
from moviestream.core.metrics import (
    BatchFacts,
    batch_metric_data,
    quarantine_open_metric_data,
    views_staleness_metric_data,
)
from moviestream.core.transform import SOURCE_SCHEMA
from moviestream.pipeline.alerts import (
    DEFAULT_FAILURE_RATIO,
    AlertPublisher,
    breach_message,
    dataset_level_rules,
    health_message,
    views_refresh_message,
)
from moviestream.pipeline.config import PipelineConfig
from moviestream.pipeline.isolation import NOT_DATA, Isolation, root_error
from moviestream.pipeline.judge import BatchJudge
from moviestream.pipeline.metrics_publisher import MetricsPublisher
from moviestream.pipeline.read_out import (
    BatchStats,
    envelopes,
    lag_points,
    read_out,
    read_out_columns,
    split_read_out,
)
from moviestream.pipeline.views_refresher import ViewsRefresher
from moviestream.quality.annotations import Annotation, annotations_of, curate
from moviestream.quality.evaluate import Results
from moviestream.quality.reference_sources import ReferenceSet
from moviestream.warehouse.contract import (
    BadRecordsFile,
    BatchKey,
    BatchLoad,
    ReplayVerdicts,
    RunKey,
    lag_seconds,
)
from moviestream.warehouse.quarantine_store import open_count
from moviestream.warehouse.targets import open_warehouse, query_rows

log = logs.get("pipeline")


@dataclass(frozen=True)
class BatchResult:
    batch_id: int
    loaded: bool
    records_in: int
    duplicates_dropped: int
    good_records: int
    bad_records: int
    movies_upserted: int
    seconds: float


@dataclass
class StepTimings:
    """time.monotonic() at the edges of a batch's steps, and the seconds each step took.

    ``prepare`` runs start -> judged (Spark judges and reads out) -> read (the rule outcomes
    too); ``commit`` later runs write -> s3 (the S3 writes) -> end (the warehouse)."""

    start: float
    judged: float = 0.0
    read: float = 0.0
    write: float = 0.0
    s3: float = 0.0
    end: float = 0.0

    @property
    def judge_s(self) -> float:
        return self.judged - self.start

    @property
    def s3_s(self) -> float:
        """Outcomes and bad records read out, then written (not the wait between the two halves)."""
        return (self.read - self.judged) + (self.s3 - self.write)

    @property
    def warehouse_s(self) -> float:
        return self.end - self.s3

    def total_s(self) -> float:
        return time.monotonic() - self.start


@dataclass
class PreparedBatch:
    """A judged batch, ready for BatchPipeline.commit: its counts, rule outcomes, bad-record
    lines and warehouse rows, all read out of Spark."""

    key: BatchKey
    started_at: datetime
    times: StepTimings
    stats: BatchStats
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)
    movies: pa.Table | None = None  # STAGE_COLUMNS
    genres: pa.Table | None = None  # GENRE_COLUMNS
    ledger_extra: dict[str, Any] = field(default_factory=dict)
    lag_from: dict[str, datetime] = field(default_factory=dict)  # streaming only (lag_points)
    retried_errors: int = 0  # transient errors its steps met and retried
    metrics: dict[str, float] = field(default_factory=dict)  # the run's DQ metrics, for the history
    analyzers: list[dict[str, Any]] = field(default_factory=list)  # Analyzers = [...]: their metrics
    bad_records: BadRecordsFile | None = None  # once written to S3: what the quarantine indexes
    read_out: pa.Table | None = None  # every judged record's read-out, when prepare is asked to keep it
    replay: ReplayVerdicts | None = None  # a quarantine replay's chunk: its records' verdicts


# Earlier runs read back for dynamic rules and DetectAnomalies: the newest this many.
HISTORY_RUNS = 1000


WARM_UP_RECORDS = 2_000
WARM_UP_ARRIVAL = datetime(2000, 1, 1)  # a warm-up record's arrival time (and its as-of day)
QUARANTINE_METRIC_S = 60.0  # QuarantineOpen at least this often while batches commit


def warm_up_envelope(i: int) -> bytes:
    """A synthetic envelope of a realistic row (moviestream/core/generate.py), every 10th with a
    defect, so the warm-up takes the paths real records take, bad ones included: rows of
    placeholder values left the JIT's profile without them, and the first real batches slower."""
    return envelope_json(f"warm-up-{i}", "warm-up", i, "2000-01-01T00:00:00.000Z", sample_row(i))


def s3_batch_keys(config: PipelineConfig, stream_id: str, batch_id: int, ingest_date: str) -> tuple[str, str]:
    """(bad records key, rule outcomes key): the same batch always maps to the same keys."""
    batch = f"{stream_id}-{batch_id:010d}"
    partition = f"ingest_date={ingest_date}/job={config.job_name}/batch={batch}"
    bad = f"{config.bad_records_prefix}/{partition}/part-00000.jsonl"
    outcomes = f"{config.rule_outcomes_prefix}/{partition}.json"
    return bad, outcomes


class BatchPipeline:
    def __init__(self, config: PipelineConfig, stream_id: Callable[[], str]) -> None:
        self.config = config
        self._stream_id = stream_id
        self._s3 = None
        self._alerts = AlertPublisher(config.alerts, config.aws) if config.alerts else None
        self.metrics = (
            MetricsPublisher(config.metrics_namespace, config.aws) if config.metrics_namespace else None
        )
        self._dataset_rules = dataset_level_rules(config.ruleset)
        # Columns are built once and reused by every batch (see BatchJudge for why).
        self._judge = BatchJudge(config.ruleset)
        self._warehouse = open_warehouse(config.warehouse_dsn, self.s3)
        self._quarantine_published = float("-inf")  # time.monotonic() of the last QuarantineOpen
        # The context's earlier runs, oldest first: read from the warehouse at the first batch
        # that needs them (only a ruleset with dynamic rules or DetectAnomalies reads them), then
        # kept here, each judged batch appended. Appended when judged, not when committed: the
        # backfill judges a chunk while the previous one commits, and a judged batch either
        # commits or stops the job (its history is then read again at the restart).
        self._history: list[tuple[RunKey, dict[str, float]]] | None = None
        self._annotations: list[Annotation] = []
        self._annotations_read = float("-inf")  # time.monotonic() of the last read
        self._references: ReferenceSet | None = None
        self.failure: str | None = None  # the permanent failure or outage that stopped a batch
        self.views = self._views_refresher()
        self.retrier = Retrier(
            config.failure,
            on_degraded=self._degraded,
            on_recovered=self._recovered,
            on_retry=self._retrying,
        )

    def references(self, spark: SparkSession) -> Mapping[str, DataFrame]:
        """The bound reference datasets, loaded at the first call (ReferenceLoadError: one line) and
        reloaded every ``reference_reload_s``; a failed reload keeps the previous copy."""
        if not self.config.references:
            return {}
        if self._references is None:
            dsn = self.config.warehouse_dsn
            self._references = ReferenceSet(
                spark,
                self.config.references,
                self.config.reference_reload_s,
                s3_client=self.s3,
                query=lambda sql: query_rows(dsn, sql),
                on_reload_failed=lambda why: log.warning("reference_reload_failed", error=why),
            )
        before = self._references.loads
        frames = self._references.current()
        if self._references.loads != before:
            log.info("references_loaded", aliases=sorted(frames), load=self._references.loads)
        return frames

    def history(self) -> list[dict[str, float]]:
        """The evaluation context's earlier runs, oldest first, people's annotations applied
        (moviestream/quality/annotations.py); empty when the ruleset reads no history. The runs
        are read once (see __init__), the annotations again every ``annotations_reload_s``."""
        if not self.config.ruleset.dynamic:
            return []
        if self._history is None:
            context = self.config.context
            runs = self.run_step(
                "history read",
                "warehouse",
                lambda: self._warehouse.read_metric_history(context, HISTORY_RUNS),
            )
            log.info("metric_history_read", context=context, runs=len(runs))
            self._history = runs
        self._reload_annotations()
        return curate(self._history, self._annotations)

    def _reload_annotations(self) -> None:
        """Read the context's annotations if they are older than ``annotations_reload_s``. A read
        that fails keeps the ones read before (a warning): the batch is judged as it would have
        been a minute ago, never failed for it."""
        now = time.monotonic()
        if now - self._annotations_read < self.config.annotations_reload_s:
            return
        self._annotations_read = now
        try:
            rows = self._warehouse.read_annotations(self.config.context)
        except Exception as exc:  # an outage, or a warehouse from before migration 0010
            log.warning("annotations_read_failed", error=one_line(exc), kept=len(self._annotations))
            return
        annotations = annotations_of(rows)
        if annotations != self._annotations:
            log.info("annotations_loaded", context=self.config.context, annotations=len(annotations))
            self._annotations = annotations

    # -- the failure policy (moviestream/core/failure.py) ---------------------------------------------
    def _retrying(self, step: str, attempt: int, delay: float, exc: BaseException) -> None:
        log.warning("step_retry", step=step, attempt=attempt, delay_s=round(delay, 2), error=one_line(exc))

    def _degraded(self, step: str, seconds: float, exc: BaseException) -> None:
        log.error("pipeline_degraded", step=step, outage_s=round(seconds, 1), error=one_line(exc))
        self._health("degraded", step, seconds, one_line(exc))

    def _recovered(self, step: str, seconds: float) -> None:
        log.warning("pipeline_recovered", step=step, outage_s=round(seconds, 1))
        self._health("recovered", step, seconds, None)

    def _health(self, kind: str, step: str, seconds: float, error: str | None) -> None:
        if self._alerts is not None:
            message = health_message(kind, job=self.config.job_name, step=step, seconds=seconds, error=error)
            self._alerts.publish_health(message)

    def _views_refresher(self) -> ViewsRefresher | None:
        """The materialized views' refresher (None when --views-refresh-seconds is 0): it alerts
        on a failed refresh and publishes the views' staleness with the batches' metrics."""
        config = self.config
        if config.views_refresh_s <= 0:
            return None
        job = config.job_name

        def alert(error: str) -> None:
            if self._alerts is not None:
                self._alerts.publish_views_refresh_failed(views_refresh_message(job=job, error=error))

        def publish(seconds: float) -> None:
            if self.metrics is not None:
                self.metrics.publish(views_staleness_metric_data(seconds, job, datetime.now(UTC)), "views")

        return ViewsRefresher(
            self._warehouse.views_refresh(job), config.views_refresh_s, on_failure=alert, publish=publish
        )

    def refresh_views_now(self, wait_s: float = 120.0) -> None:
        """Refresh the views at once (the end of a backfill run), whatever the cadence."""
        if self.views is not None:
            self.views.refresh_now(wait_s)

    def close(self, timeout_s: float = 3.0) -> None:
        """Stop the views' refresher and send the metrics still queued (the job is ending),
        waiting at most ``timeout_s`` for each."""
        if self.views is not None:
            self.views.close(timeout_s)
        if self.metrics is not None:
            self.metrics.close(timeout_s)

    def run_step(
        self, step: str, dependency: str, fn: Callable[[], Any], batch: PreparedBatch | None = None
    ) -> Any:
        """Run a step that talks to ``dependency`` (S3, the warehouse) under the failure policy;
        a permanent error or giving up is logged and alerted once, then raised (the batch fails,
        so the stream's checkpoint does not advance past it). ``batch`` counts the errors."""

        def attempt() -> Any:
            try:
                return fn()
            except Exception:
                if batch is not None:
                    batch.retried_errors += 1
                raise

        try:
            return self.retrier.run(step, attempt, dependency)
        except (PermanentFailure, GaveUp) as exc:
            self.failure = str(exc)  # what the entry reports once Spark has stopped the query
            log.error("pipeline_failed", step=step, error=str(exc))
            self._health("failed", step, 0.0, str(exc))
            raise

    def committed(self, batch_id: int) -> bool:
        """Whether the ledger has this batch of the current stream (it would be skipped)."""
        key = BatchKey(self.config.job_name, self._stream_id(), batch_id)
        return self.run_step("ledger check", "warehouse", lambda: self._warehouse.batch_committed(key))

    def put_s3(
        self, step: str, key: str, body: bytes, content_type: str, batch: PreparedBatch | None = None
    ) -> None:
        """One object into the pipeline's bucket, under the failure policy (keys are deterministic
        per batch, so a retry overwrites what an earlier attempt may have written)."""
        self.run_step(
            step,
            "s3",
            lambda: self.s3().put_object(
                Bucket=self.config.bucket, Key=key, Body=body, ContentType=content_type
            ),
            batch,
        )

    def s3(self):
        if self._s3 is None:
            # One SDK retry for a blip; past that the failure policy retries (and reports) it.
            self._s3 = self.config.aws.client("s3", attempts=2)
        return self._s3

    def warm_up(self, spark: SparkSession, records: int = WARM_UP_RECORDS, rounds: int = 3) -> float:
        """Run synthetic batches through every step but the writes (``rounds`` of ``rehearse``
        over an in-memory frame: the class archive's training; the streaming job warms up through
        a streaming query of its own instead, moviestream/streaming/warm_up.py).

        A cold start otherwise lands on the first batches' latency: Python workers start (one
        set per task slot, hence a partition per core), and the JVM runs Spark's generated code
        interpreted until it has run often enough to be compiled, so a few rounds of a realistic
        batch size (good and bad records) are needed, not one record.
        """
        t0 = time.monotonic()
        slots = spark.sparkContext.defaultParallelism
        rows = [
            (f"warm-up-{i % slots}", str(i), "warm-up", WARM_UP_ARRIVAL, warm_up_envelope(i))
            for i in range(records)
        ]
        source = spark.createDataFrame(rows, SOURCE_SCHEMA).repartition(slots, "shard_id")
        for _ in range(rounds):
            self.rehearse(source)
        return time.monotonic() - t0

    def rehearse(self, source: DataFrame) -> tuple[int, float]:
        """One batch of raw Kinesis rows through every step of ``prepare`` but the reads of the
        warehouse and the writes: (user records judged, seconds). The warm-up's round."""
        started = time.monotonic()
        judged = self._judge.judge(source).persist()
        try:
            table = read_out(judged, self._read_out_columns)
            self._judge.rules.outcomes(envelopes(judged))
        finally:
            judged.unpersist()
        split_read_out(table, BatchKey("warm-up", "warm-up", 0), WARM_UP_ARRIVAL)
        return table.num_rows, time.monotonic() - started

    def process(self, source: DataFrame, batch_id: int) -> BatchResult | None:
        """One micro-batch of raw Kinesis rows, end to end (None: already in the ledger)."""
        prepared = self.prepare(source, batch_id)
        return None if prepared is None else self.commit(prepared)

    def prepare(
        self,
        source: DataFrame,
        batch_id: int,
        file_records: bool = False,
        ledger_extra: dict[str, Any] | None = None,
        keep_read_out: bool = False,
    ) -> PreparedBatch | None:
        """The Spark half of a batch: judge it and read out what the writes need. Nothing is
        written. None when the ledger has the batch already.

        ``file_records``: ``source`` holds a file's records, one per row (EXPANDED_SCHEMA), not
        raw Kinesis rows; no event id can repeat among them. ``ledger_extra``: more columns of
        the batch's ledger row (the backfill's file, checksum and row range). ``keep_read_out``:
        keep every record's read-out in ``read_out`` (a replay maps the verdicts back to records).
        """
        times = StepTimings(time.monotonic())
        started_at = datetime.now(UTC).replace(tzinfo=None)
        key = BatchKey(self.config.job_name, self._stream_id(), batch_id)
        batch = PreparedBatch(key, started_at, times, BatchStats(0, 0, 0, 0), ledger_extra=ledger_extra or {})
        if self.run_step("ledger check", "warehouse", lambda: self._warehouse.batch_committed(key), batch):
            log.info("batch_skipped", reason="already in ledger", batch_id=batch_id, stream_id=key.stream_id)
            return None
        table, results, isolated = self._judged(source, key, file_records)
        batch.stats = BatchStats.of(table)
        if keep_read_out:
            batch.read_out = table
        batch.stats.add_isolated(len(isolated))
        if not batch.stats.records_in:
            return batch
        # A file's produced_at is an as-of time: a backfill has no lag to measure.
        batch.lag_from = {} if file_records else lag_points(table)
        times.judged = time.monotonic()
        if results is None:  # every record was isolated: no rule had a record to judge
            results = Results([], [])
        if self._history is not None and results.metrics:  # a batch no rule judged is no run
            self._history.append(((key.job_name, key.stream_id, key.batch_id), results.metrics))
            del self._history[:-HISTORY_RUNS]  # a stream runs for months: keep what is read
        batch.bad_lines, batch.movies, batch.genres = split_read_out(table, key, started_at)
        batch.bad_lines += isolated
        batch.outcomes, batch.metrics, batch.analyzers = results.rules, results.metrics, results.analyzers
        times.read = time.monotonic()
        return batch

    def _judged(
        self, source: DataFrame, key: BatchKey, file_records: bool
    ) -> tuple[pa.Table, Any, list[str]]:
        """(read-out table, rule results, isolated lines): judging retried once, then poison
        isolation (moviestream/pipeline/isolation.py) when it raises again."""
        # Read before judging, under their own failure handling: they are I/O, not the data.
        history = self.history()
        references = self.references(source.sparkSession)
        # A file's expanded rows cannot repeat an event id (see BatchJudge.judge_expanded).
        expanded, redelivery = (True, False) if file_records else (False, True)

        def judge(records: DataFrame, expanded: bool, redelivery: bool) -> tuple[pa.Table, Any]:
            return self._judge_batch(records, expanded, redelivery, history, references)

        kept: DataFrame | None = None  # the batch's raw records, kept from the retry on
        try:
            try:
                return (*judge(source, expanded, redelivery), [])
            except NOT_DATA:
                raise
            except Exception as exc:  # retried once: a recurring error is data-caused
                log.warning("batch_judge_failed", batch_id=key.batch_id, attempt=1, error=root_error(exc))
                # Read once more for the retry (as a retried Spark task would), and kept: poison
                # isolation bisects this copy and never reads the stream again.
                kept = source.persist()
                kept.count()  # every partition cached, also those whose judging failed
                return (*judge(kept, expanded, redelivery), [])
        except NOT_DATA:
            raise
        except Exception as exc:  # the poison path: bisect down to the records that raise
            assert kept is not None
            isolation = Isolation(judge, self._judge_rows, self.config.max_isolated_records)
            return isolation.run(kept, file_records, exc, key)
        finally:
            if kept is not None:
                kept.unpersist()

    def _judge_batch(
        self,
        records: DataFrame,
        expanded: bool,
        redelivery: bool,
        history: list[dict[str, float]],
        references: Mapping[str, DataFrame],
    ) -> tuple[pa.Table, Any]:
        """The pure half of prepare: judge, read out, and the rule results (None for no records)."""
        judged = self._judge.judge_expanded(records, redelivery) if expanded else self._judge.judge(records)
        # Two Spark jobs per batch over the judged batch, cached: one reads out everything the
        # writes need (counts, bad records, warehouse rows) as Arrow, the other aggregates the
        # rule outcomes. Each job costs planning and scheduling besides its work: four jobs (one
        # per need) made a 400,000-row backfill about 1.5 s slower.
        judged = judged.persist()
        try:
            table = read_out(judged, self._read_out_columns)
            if not table.num_rows:
                return table, None
            return table, self._judge.rules.results(envelopes(judged), history, references)
        finally:
            judged.unpersist()

    def _judge_rows(self, records: DataFrame, redelivery: bool) -> pa.Table:
        """The row-level judging and read-out alone (one Spark job): poison isolation's cheap probe."""
        return read_out(self._judge.judge_expanded(records, redelivery), self._read_out_columns)

    @cached_property
    def _read_out_columns(self) -> list[Column]:
        return read_out_columns()  # built when Spark runs, once (see BatchJudge for why)

    def commit(self, batch: PreparedBatch) -> BatchResult:
        """The writing half: bad records and rule outcomes to S3, the alert if any, then the
        warehouse transaction (stage + MERGE + ledger). Safe to run in another thread than the
        next batch's ``prepare``; batches must still commit in order."""
        key, stats, times = batch.key, batch.stats, batch.times
        if not stats.records_in and batch.replay is None:  # a replay's verdicts commit regardless
            log.info("batch_empty", batch_id=key.batch_id)
            return BatchResult(key.batch_id, False, 0, 0, 0, 0, 0, times.total_s())
        times.write = time.monotonic()
        bad_uri, outcomes_uri, ingest_date = self._write_s3(batch)
        if bad_uri is not None:
            batch.bad_records = BadRecordsFile(bad_uri, ingest_date, batch.bad_lines)
        times.s3 = time.monotonic()
        failpoint("after_s3", key.batch_id)
        breached = self._judge_breach(batch, bad_uri, outcomes_uri)
        ledger = self._ledger_row(batch, bad_uri, breached)
        committed_at = self.run_step("warehouse", "warehouse", lambda: self._load(batch, ledger), batch)
        failpoint("after_commit", key.batch_id)
        if committed_at is not None and self.views is not None:
            self.views.committed(committed_at)  # refreshed later, in the refresher's thread
        times.end = time.monotonic()
        lags = lag_seconds(committed_at, batch.lag_from) if committed_at is not None else {}
        if committed_at is not None and self.metrics is not None:
            self._publish_metrics(batch, committed_at, lags)
            self._publish_quarantine_open(stats.bad > 0 or batch.replay is not None)
        movies = batch.movies.num_rows if batch.movies is not None else 0
        result = BatchResult(
            key.batch_id,
            committed_at is not None,
            stats.records_in,
            stats.duplicates,
            stats.good,
            stats.bad,
            movies,
            times.end - times.start,
        )
        self._log_committed(batch, result, committed_at, lags)
        return result

    def _write_s3(self, batch: PreparedBatch) -> tuple[str | None, str, date]:
        """The batch's bad records (if any) and rule outcomes, under keys that are the same for
        every attempt at it. Returns their URIs (bad records: None when there are none) and the
        partition's date."""
        key, stats = batch.key, batch.stats
        ingest_day = (stats.min_arrival_at or batch.started_at).date()
        ingest_date = ingest_day.strftime("%Y-%m-%d")
        bad_key, outcomes_key = s3_batch_keys(self.config, key.stream_id, key.batch_id, ingest_date)
        bad_uri = None
        if batch.bad_lines:
            body = ("\n".join(batch.bad_lines) + "\n").encode("utf-8")
            self.put_s3("s3 bad records", bad_key, body, "application/x-ndjson", batch)
            bad_uri = f"s3://{self.config.bucket}/{bad_key}"
        outcome_doc = {
            "job": key.job_name,
            "stream_id": key.stream_id,
            "batch_id": key.batch_id,
            "rows": stats.records_in - stats.duplicates,
            "rules": batch.outcomes,
            "analyzers": batch.analyzers,
        }
        body = json.dumps(outcome_doc).encode("utf-8")
        self.put_s3("s3 rule outcomes", outcomes_key, body, "application/json", batch)
        return bad_uri, f"s3://{self.config.bucket}/{outcomes_key}", ingest_day

    def _judge_breach(self, batch: PreparedBatch, bad_uri: str | None, outcomes_uri: str) -> bool:
        """Whether the batch breached its rules or the bad-record ratio; the alert is sent when
        the job has alerts (the backfill has none; the ledger keeps the verdict either way)."""
        key, stats = batch.key, batch.stats
        alert = breach_message(
            job=key.job_name,
            stream_id=key.stream_id,
            batch_id=key.batch_id,
            good=stats.good,
            bad=stats.bad,
            duplicates=stats.duplicates,
            outcomes=batch.outcomes,
            dataset_rules=self._dataset_rules,
            threshold=(
                self.config.alerts.failure_ratio_threshold if self.config.alerts else DEFAULT_FAILURE_RATIO
            ),
            bad_records_uri=bad_uri,
            rule_outcomes_uri=outcomes_uri,
        )
        if alert is not None and self._alerts is not None:
            self._alerts.publish(alert)
        return alert is not None

    @staticmethod
    def _ledger_row(batch: PreparedBatch, bad_uri: str | None, breached: bool) -> dict[str, Any]:
        """The batch's counts and timings for movies.batch_ledger (the key, the lag and the
        warehouse's own seconds are added in the transaction)."""
        stats, times = batch.stats, batch.times
        return {
            "records_in": stats.records_in,
            "duplicates_dropped": stats.duplicates,
            "good_records": stats.good,
            "bad_records": stats.bad,
            "movies_upserted": batch.movies.num_rows if batch.movies is not None else 0,
            "bad_records_uri": bad_uri,
            "min_produced_at": stats.min_produced_at,
            "max_produced_at": stats.max_produced_at,
            "min_arrival_at": stats.min_arrival_at,
            "max_arrival_at": stats.max_arrival_at,
            "started_at": batch.started_at,
            "seconds_judge": times.judge_s,
            "seconds_s3": times.s3_s,
            "seconds_total": times.total_s(),
            "breached": breached,
            **batch.ledger_extra,
        }

    def _load(self, batch: PreparedBatch, ledger: dict[str, Any]) -> datetime | None:
        # Read at each attempt: the row that commits counts the earlier attempts of this step
        # too (theirs rolled back).
        ledger["retried_errors"] = batch.retried_errors
        load = BatchLoad(
            batch.key,
            batch.movies,
            batch.genres,
            ledger,
            batch.outcomes,
            batch.lag_from,
            metrics=batch.metrics,
            history_context=self.config.context,
            bad_records=batch.bad_records,
            replay=batch.replay,
        )
        return self._warehouse.load_batch(load)

    def _publish_quarantine_open(self, changed: bool) -> None:
        """QuarantineOpen after a batch that added records, and at least every minute the job
        commits (a dismissal or a replay elsewhere changes it too). A count that fails is a
        warning: the batch is committed, and the next one counts again."""
        now = time.monotonic()
        if self.metrics is None or not (changed or now - self._quarantine_published >= QUARANTINE_METRIC_S):
            return
        job = self.config.job_name
        try:
            count = open_count(self.config.warehouse_dsn, job)
        except Exception as exc:  # the warehouse went away since the commit: count next time
            log.warning("quarantine_count_failed", error=one_line(exc))
            return
        self._quarantine_published = now
        self.metrics.publish(quarantine_open_metric_data(count, job, datetime.now(UTC)), "quarantine")

    def _publish_metrics(self, batch: PreparedBatch, committed_at: datetime, lags: dict[str, float]) -> None:
        assert self.metrics is not None
        key, stats, times = batch.key, batch.stats, batch.times
        facts = BatchFacts(
            records_in=stats.records_in,
            good=stats.good,
            bad=stats.bad,
            duplicates=stats.duplicates,
            seconds_total=times.end - times.start,
            seconds_judge=times.judge_s,
            seconds_s3=times.s3_s,
            seconds_warehouse=times.warehouse_s,
            rule_outcomes=[(o["Rule"], o["Outcome"]) for o in batch.outcomes],
            lag_p50_s=lags.get("lag_p50_s"),
            lag_max_s=lags.get("lag_max_s"),
            isolated=stats.isolated,
        )
        self.metrics.publish(
            batch_metric_data(facts, key.job_name, committed_at.replace(tzinfo=UTC)),
            batch=f"{key.stream_id}/{key.batch_id}",
        )

    @staticmethod
    def _log_committed(
        batch: PreparedBatch, result: BatchResult, committed_at: datetime | None, lags: dict[str, float]
    ) -> None:
        key, stats, times = batch.key, batch.stats, batch.times
        spans = lag_seconds(committed_at, stats.span_points()) if committed_at is not None else {}
        log.info(
            "batch_committed" if result.loaded else "batch_skipped",
            batch_id=key.batch_id,
            stream_id=key.stream_id,
            records_in=result.records_in,
            good=result.good_records,
            bad=result.bad_records,
            duplicates=result.duplicates_dropped,
            isolated=stats.isolated,
            movies=result.movies_upserted,
            judge_s=round(times.judge_s, 3),
            s3_s=round(times.s3_s, 3),
            warehouse_s=round(times.warehouse_s, 3),
            **spans,
            **{k: v for k, v in lags.items() if k != "lag_max_s"},  # lag_produced_max_s is it
            retried_errors=batch.retried_errors,
            failed_rules=[o["Rule"] for o in batch.outcomes if o["Outcome"] != "Passed"],
        )
