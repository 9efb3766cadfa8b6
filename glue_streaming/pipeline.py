"""The per-batch pipeline shared by the streaming job's entries and the backfill.

For one micro-batch: judge every record (pure, moviestream.batch), write bad records and rule
outcomes to S3 under keys that are deterministic per (job, stream, batch), then load good rows
with stage + MERGE + ledger in one warehouse transaction. A batch already in the ledger is
skipped, so Spark's at-least-once replay after a crash never duplicates a row.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from glue_streaming.alerts import (
    DEFAULT_FAILURE_RATIO,
    AlertConfig,
    AlertPublisher,
    breach_message,
    dataset_level_rules,
    health_message,
)
from glue_streaming.metrics_publisher import MetricsPublisher
from glue_streaming.spark import log_level
from moviestream import logs
from moviestream.batch import BatchJudge, newest_per_movie
from moviestream.config import AwsSettings
from moviestream.failpoints import failpoint
from moviestream.failure import FailurePolicy, GaveUp, PermanentFailure, Retrier, one_line
from moviestream.metrics import BatchFacts, batch_metric_data
from moviestream.quality.dqdl import Ruleset
from moviestream.quality.evaluate import ROW_FAIL, Results
from moviestream.quality.reference_sources import Binding, ReferenceLoadError, ReferenceSet
from moviestream.record import TYPED_COLUMNS
from moviestream.transform import ARROW_EXPANDED, expand_batches
from redshift.warehouse import (
    GENRE_COLUMNS,
    STAGE_COLUMNS,
    BatchKey,
    BatchLoad,
    lag_seconds,
    open_warehouse,
    query_rows,
)

log = logs.get("pipeline")

BAD_RECORD_FIELDS = (
    "event_id",
    "source",
    "row_number",
    "produced_at_raw",
    "movie_id",
    "shard_id",
    "sequence_number",
    "sub_sequence_number",
    "partition_key",
    "approximate_arrival_timestamp",
    "record_error",
    "parse_errors",
    "missing_fields",
)
TYPED_FIELDS = TYPED_COLUMNS[1:]  # the typed movie columns, without the key
PER_BATCH_COLUMNS = ("first_seen_at", "last_updated_at", "last_job", "last_batch_id")
DATA_STAGE_COLUMNS = STAGE_COLUMNS[: -len(PER_BATCH_COLUMNS)]
assert STAGE_COLUMNS[-len(PER_BATCH_COLUMNS) :] == PER_BATCH_COLUMNS


@dataclass(frozen=True)
class PipelineConfig:
    job_name: str
    ruleset: Ruleset
    bucket: str
    warehouse_dsn: str
    bad_records_prefix: str = "bad_records"
    rule_outcomes_prefix: str = "rule_outcomes"
    aws: AwsSettings = field(default_factory=AwsSettings)
    alerts: AlertConfig | None = None  # None: no alerts
    metrics_namespace: str | None = None  # CloudWatch namespace of moviestream/metrics.py; None: none
    failure: FailurePolicy = field(default_factory=FailurePolicy)  # moviestream/failure.py
    # The data-quality evaluation context whose metric history dynamic rules and DetectAnomalies
    # read (movies.metric_history); None: the job name.
    evaluation_context: str | None = None
    # Reference datasets the rules compare with (--ref ALIAS=SOURCE), reloaded this often (0: never).
    references: tuple[Binding, ...] = ()
    reference_reload_s: float = 300.0
    # Poison isolation (see BatchPipeline._isolate): past this many records whose judging raised,
    # the batch fails as a whole (a systematic bug is not quarantined record by record).
    max_isolated_records: int = 100

    @property
    def context(self) -> str:
        return self.evaluation_context or self.job_name


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
class PreparedBatch:
    """A judged batch, ready for BatchPipeline.commit: its counts, rule outcomes, bad-record
    lines and warehouse rows, all read out of Spark."""

    key: BatchKey
    started_at: datetime
    t0: float
    stats: dict[str, Any]
    t_judge: float = 0.0
    t_read: float = 0.0
    outcomes: list[dict[str, Any]] = field(default_factory=list)
    bad_lines: list[str] = field(default_factory=list)
    movies: pa.Table | None = None  # STAGE_COLUMNS
    genres: pa.Table | None = None  # GENRE_COLUMNS
    ledger_extra: dict[str, Any] = field(default_factory=dict)
    lag_from: dict[str, datetime] = field(default_factory=dict)  # streaming only (lag_points)
    retried_errors: int = 0  # transient errors its steps met and retried
    metrics: dict[str, float] = field(default_factory=dict)  # the run's DQ metrics, for the history
    analyzers: list[dict[str, Any]] = field(default_factory=list)  # Analyzers = [...]: their metrics


# Earlier runs read back for dynamic rules and DetectAnomalies: the newest this many.
HISTORY_RUNS = 1000


WARM_UP_RECORDS = 2_000


def _warm_up_envelope(i: int) -> bytes:
    """A synthetic envelope; every 10th has an unparseable rating (a bad record)."""
    from moviestream.record import CSV_COLUMNS

    fields = dict.fromkeys(CSV_COLUMNS, "x")
    fields.update(
        Series_Title=f"Warm-up {i}",
        Released_Year=str(1900 + i % 120),
        Runtime="120 min",
        Genre="Drama, Comedy",
        IMDB_Rating="n/a" if i % 10 == 0 else "7.5",
        Meta_score="80",
        No_of_Votes="1,234",
        Gross="$5,000",
        Certificate="PG",
    )
    doc = {
        "schema_version": 1,
        "event_id": f"warm-up-{i}",
        "source": "warm-up",
        "row_number": i,
        "produced_at": "2000-01-01T00:00:00.000Z",
        "fields": fields,
    }
    return json.dumps(doc).encode()


def s3_batch_keys(config: PipelineConfig, stream_id: str, batch_id: int, ingest_date: str) -> tuple[str, str]:
    """(bad records key, rule outcomes key): the same batch always maps to the same keys."""
    batch = f"{stream_id}-{batch_id:010d}"
    partition = f"ingest_date={ingest_date}/job={config.job_name}/batch={batch}"
    bad = f"{config.bad_records_prefix}/{partition}/part-00000.jsonl"
    outcomes = f"{config.rule_outcomes_prefix}/{partition}.json"
    return bad, outcomes


def _lags(committed_at: datetime, stats: Any) -> dict[str, float]:
    """Seconds from production and from Kinesis arrival to commit, for the oldest and newest record."""
    lags = {}
    for name, oldest, newest in (
        ("produced", stats["min_produced_at"], stats["max_produced_at"]),
        ("arrival", stats["min_arrival_at"], stats["max_arrival_at"]),
    ):
        if oldest is not None:
            lags[f"lag_{name}_max_s"] = round((committed_at - oldest).total_seconds(), 3)
            lags[f"lag_{name}_min_s"] = round((committed_at - newest).total_seconds(), 3)
    return lags


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
        # The context's earlier runs, oldest first: read from the warehouse at the first batch
        # that needs them (only a ruleset with dynamic rules or DetectAnomalies reads them), then
        # kept here, each judged batch appended. Appended when judged, not when committed: the
        # backfill judges a chunk while the previous one commits, and a judged batch either
        # commits or stops the job (its history is then read again at the restart).
        self._history: list[dict[str, float]] | None = None
        self._references: ReferenceSet | None = None
        self.failure: str | None = None  # the permanent failure or outage that stopped a batch
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
        """The evaluation context's earlier runs, oldest first (read once, see __init__); empty
        when the ruleset reads no history."""
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
        return self._history

    # -- the failure policy (moviestream/failure.py) ---------------------------------------------
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

    def close(self, timeout_s: float = 3.0) -> None:
        """Send the metrics still queued (the job is ending), waiting at most ``timeout_s``."""
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
        """Run synthetic batches through every step but the writes before the first real batch.

        A cold start otherwise lands on the first batches' latency: Python workers start (one
        set per task slot, hence a partition per core), and the JVM runs Spark's generated code
        interpreted until it has run often enough to be compiled, so a few rounds of a realistic
        batch size (good and bad records) are needed, not one record.
        """
        from glue_streaming.kinesis_source import SOURCE_SCHEMA

        t0 = time.monotonic()
        slots = spark.sparkContext.defaultParallelism
        rows = [
            (f"warm-up-{i % slots}", str(i), "warm-up", datetime(2000, 1, 1), _warm_up_envelope(i))
            for i in range(records)
        ]
        source = spark.createDataFrame(rows, SOURCE_SCHEMA).repartition(slots, "shard_id")
        for _ in range(rounds):
            judged = self._judge.judge(source).persist()
            try:
                table = self._read_out(judged)
                self._judge.rules.outcomes(self._envelopes(judged))
            finally:
                judged.unpersist()
            split_read_out(table, BatchKey("warm-up", "warm-up", 0), datetime(2000, 1, 1))
        return time.monotonic() - t0

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
    ) -> PreparedBatch | None:
        """The Spark half of a batch: judge it and read out what the writes need. Nothing is
        written. None when the ledger has the batch already.

        ``file_records``: ``source`` holds a file's records, one per row (EXPANDED_SCHEMA), not
        raw Kinesis rows; no event id can repeat among them. ``ledger_extra``: more columns of
        the batch's ledger row (the backfill's file, checksum and row range).
        """
        t0 = time.monotonic()
        started_at = datetime.now(UTC).replace(tzinfo=None)
        key = BatchKey(self.config.job_name, self._stream_id(), batch_id)
        check = PreparedBatch(key, started_at, t0, {})  # counts the ledger check's errors
        if self.run_step("ledger check", "warehouse", lambda: self._warehouse.batch_committed(key), check):
            log.info("batch_skipped", reason="already in ledger", batch_id=batch_id, stream_id=key.stream_id)
            return None

        # Read before judging, under their own failure handling: they are I/O, not the data.
        history = self.history()
        references = self.references(source.sparkSession)
        # A file's expanded rows cannot repeat an event id (see BatchJudge.judge_expanded).
        expanded, redelivery = (True, False) if file_records else (False, True)
        isolated: list[str] = []
        kept: DataFrame | None = None  # the batch's raw records, kept from the retry on
        try:
            try:
                table, results = self._judge_batch(source, expanded, redelivery, history, references)
            except _NOT_DATA:
                raise
            except Exception as exc:  # retried once: a recurring error is data-caused
                log.warning("batch_judge_failed", batch_id=batch_id, attempt=1, error=_root_error(exc))
                # Read once more for the retry (as a retried Spark task would), and kept: poison
                # isolation bisects this copy and never reads the stream again.
                kept = source.persist()
                kept.count()  # every partition cached, also those whose judging failed
                table, results = self._judge_batch(kept, expanded, redelivery, history, references)
        except _NOT_DATA:
            raise
        except Exception as exc:  # the poison path: bisect down to the records that raise
            assert kept is not None
            table, results, isolated = self._isolate(kept, file_records, exc, key, history, references)
        finally:
            if kept is not None:
                kept.unpersist()
        stats = batch_stats(table)
        stats["isolated"] = len(isolated)
        stats["records_in"] += len(isolated)
        stats["bad"] += len(isolated)
        if not stats["records_in"]:
            return PreparedBatch(key, started_at, t0, stats, ledger_extra=ledger_extra or {})
        # A file's produced_at is an as-of time: a backfill has no lag to measure.
        lag_from = {} if file_records else lag_points(table)
        t_judge = time.monotonic()
        if results is None:  # every record was isolated: no rule had a record to judge
            results = Results([], [])
        outcomes = results.rules
        if self._history is not None and results.metrics:  # a batch no rule judged is no run
            self._history.append(results.metrics)
            del self._history[:-HISTORY_RUNS]  # a stream runs for months: keep what is read
        bad_lines, movies, genres = split_read_out(table, key, started_at)
        bad_lines += isolated
        return PreparedBatch(
            key,
            started_at,
            t0,
            stats,
            t_judge,
            time.monotonic(),
            outcomes,
            bad_lines,
            movies,
            genres,
            ledger_extra or {},
            lag_from,
            check.retried_errors,
            results.metrics,
            results.analyzers,
        )

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
            table = self._read_out(judged)
            if not table.num_rows:
                return table, None
            return table, self._judge.rules.results(self._envelopes(judged), history, references)
        finally:
            judged.unpersist()

    def _isolate(
        self,
        source: DataFrame,
        file_records: bool,
        error: BaseException,
        key: BatchKey,
        history: list[dict[str, float]],
        references: Mapping[str, DataFrame],
    ) -> tuple[pa.Table, Any, list[str]]:
        """Poison isolation: judging the batch raised twice, so the error is taken to be caused
        by some of its records. The batch's records (``source``: the copy cached at the retry, so
        no new read of the stream), read out as Arrow in a fixed order, are expanded on the
        driver record by record, then judged in halves down to the single user records that
        raise. Those become bad records ``internal error: <type>: <message>``; the rest are
        judged again together, so dataset-level rules see only them. Past
        ``max_isolated_records`` the original error is raised: the batch fails as before."""
        bound = self.config.max_isolated_records
        spark = source.sparkSession
        raw = source.toArrow()
        order = [("shard_id", "ascending"), ("sequence_number", "ascending")]
        if file_records:
            order.append(("sub_sequence_number", "ascending"))
        raw = raw.sort_by(order)
        log.error("batch_poisoned", batch_id=key.batch_id, records=raw.num_rows, error=_root_error(error))
        isolated: list[str] = []
        expanded = raw if file_records else _expand_each(raw, isolated)
        redelivery = not file_records
        # Each user record gets its place; probes filter one cached copy by place (no new copy of
        # the batch per probe). Halves are cut at a Kinesis record's edge where one is near the
        # middle: one Kinesis record's user records are looked at together first.
        places = pa.array(range(expanded.num_rows), pa.int64())
        base = spark.createDataFrame(expanded.append_column(_PLACE, places)).persist()
        keys = pc.binary_join_element_wise(
            expanded["shard_id"], expanded["sequence_number"], pa.scalar("/")
        ).to_pylist()
        edges = [i for i in range(1, len(keys)) if keys[i] != keys[i - 1]]
        bad: list[int] = []
        probes = 0

        def part(lo: int, hi: int) -> DataFrame:
            return base.where((F.col(_PLACE) >= lo) & (F.col(_PLACE) < hi)).drop(_PLACE)

        def raises(lo: int, hi: int, full: bool) -> BaseException | None:
            """What judging places [lo, hi) raises, if anything: the row-level read-out alone
            (one Spark job), or, ``full``, the rule results too."""
            nonlocal probes
            probes += 1
            try:
                if full:
                    self._judge_batch(part(lo, hi), True, redelivery, history, references)
                else:
                    self._read_out(self._judge.judge_expanded(part(lo, hi), redelivery))
            except _NOT_DATA:
                raise
            except Exception as exc:  # what isolation looks for
                return exc
            return None

        def search(lo: int, hi: int, full: bool, failure: BaseException | None = None) -> None:
            """Isolate the single places in [lo, hi) judging raises for, halving; ``failure``:
            what the range is already known to raise."""
            if len(isolated) + len(bad) > bound or lo >= hi:
                return
            failure = failure or raises(lo, hi, full)
            if failure is None:
                return
            if hi - lo == 1:
                bad.append(lo)
                isolated.append(_isolated_line(expanded.slice(lo, 1).to_pylist()[0], failure))
                return
            inside = [e for e in edges if lo < e < hi]
            mid = min(inside, key=lambda e: abs(2 * e - lo - hi)) if inside else (lo + hi) // 2
            left = raises(lo, mid, full)
            search(lo, mid, full, left)
            # When the left half judged fine, the right half holds what raised: no probe needed.
            search(mid, hi, full, failure if left is None else None)

        def judged() -> tuple[pa.Table, Any]:
            kept = base.where(~F.col(_PLACE).isin(bad)).drop(_PLACE) if bad else base.drop(_PLACE)
            return self._judge_batch(kept, True, redelivery, history, references)

        # Spark logs every failed task with its traceback at ERROR: a bisection fails dozens on
        # purpose, so its log is quiet meanwhile (the cause is in batch_poisoned, once).
        spark.sparkContext.setLogLevel("OFF")
        try:
            # The row-level read-out first (cheap probes); the rules too only if that was not it.
            search(0, expanded.num_rows, full=False)
            table = results = None
            if len(isolated) <= bound:
                try:
                    table, results = judged()
                except _NOT_DATA:
                    raise
                except Exception as exc:  # raised by dataset-level rules: bisect with them
                    search(0, expanded.num_rows, full=True, failure=exc)
                    if len(isolated) <= bound:
                        table, results = judged()
        finally:
            spark.sparkContext.setLogLevel(log_level())
            base.unpersist()
        if len(isolated) > bound:
            log.error("batch_isolation_gave_up", batch_id=key.batch_id, isolated=len(isolated), bound=bound)
            raise error
        log.warning("batch_isolated", batch_id=key.batch_id, isolated=len(isolated), probes=probes)
        return table, results, isolated

    def commit(self, batch: PreparedBatch) -> BatchResult:
        """The writing half: bad records and rule outcomes to S3, the alert if any, then the
        warehouse transaction (stage + MERGE + ledger). Safe to run in another thread than the
        next batch's ``prepare``; batches must still commit in order."""
        key, stats, t0 = batch.key, batch.stats, batch.t0
        if not stats["records_in"]:
            log.info("batch_empty", batch_id=key.batch_id)
            return BatchResult(key.batch_id, False, 0, 0, 0, 0, 0, time.monotonic() - t0)
        outcomes, bad_lines = batch.outcomes, batch.bad_lines
        t_write = time.monotonic()
        ingest_date = (stats["min_arrival_at"] or batch.started_at).strftime("%Y-%m-%d")
        bad_key, outcomes_key = s3_batch_keys(self.config, key.stream_id, key.batch_id, ingest_date)
        bad_uri = None
        if bad_lines:
            body = ("\n".join(bad_lines) + "\n").encode("utf-8")
            self.put_s3("s3 bad records", bad_key, body, "application/x-ndjson", batch)
            bad_uri = f"s3://{self.config.bucket}/{bad_key}"
        outcome_doc = {
            "job": key.job_name,
            "stream_id": key.stream_id,
            "batch_id": key.batch_id,
            "rows": stats["records_in"] - stats["duplicates"],
            "rules": outcomes,
            "analyzers": batch.analyzers,
        }
        self.put_s3(
            "s3 rule outcomes",
            outcomes_key,
            json.dumps(outcome_doc).encode("utf-8"),
            "application/json",
            batch,
        )
        t_s3 = time.monotonic()
        failpoint("after_s3", key.batch_id)

        # Judged whether or not alerts are sent (the backfill sends none): the ledger keeps it.
        alert = breach_message(
            job=key.job_name,
            stream_id=key.stream_id,
            batch_id=key.batch_id,
            good=stats["good"],
            bad=stats["bad"],
            duplicates=stats["duplicates"],
            outcomes=outcomes,
            dataset_rules=self._dataset_rules,
            threshold=(
                self.config.alerts.failure_ratio_threshold if self.config.alerts else DEFAULT_FAILURE_RATIO
            ),
            bad_records_uri=bad_uri,
            rule_outcomes_uri=f"s3://{self.config.bucket}/{outcomes_key}",
        )
        if alert is not None and self._alerts is not None:
            self._alerts.publish(alert)

        movies, genres = batch.movies, batch.genres
        ledger = {
            "records_in": stats["records_in"],
            "duplicates_dropped": stats["duplicates"],
            "good_records": stats["good"],
            "bad_records": stats["bad"],
            "movies_upserted": movies.num_rows,
            "bad_records_uri": bad_uri,
            "min_produced_at": stats["min_produced_at"],
            "max_produced_at": stats["max_produced_at"],
            "min_arrival_at": stats["min_arrival_at"],
            "max_arrival_at": stats["max_arrival_at"],
            "started_at": batch.started_at,
            "seconds_judge": batch.t_judge - t0,
            # outcomes and bad records read out, then written (not the wait between the two halves)
            "seconds_s3": (batch.t_read - batch.t_judge) + (t_s3 - t_write),
            "seconds_total": time.monotonic() - t0,
            "breached": alert is not None,
            **batch.ledger_extra,
        }

        def load_batch() -> datetime | None:
            # Read at each attempt: the row that commits counts the earlier attempts of this
            # step too (theirs rolled back).
            ledger["retried_errors"] = batch.retried_errors
            load = BatchLoad(
                key,
                movies,
                genres,
                ledger,
                outcomes,
                batch.lag_from,
                metrics=batch.metrics,
                history_context=self.config.context,
            )
            return self._warehouse.load_batch(load)

        committed_at = self.run_step("warehouse", "warehouse", load_batch, batch)
        loaded = committed_at is not None
        failpoint("after_commit", key.batch_id)
        t_end = time.monotonic()
        lags = lag_seconds(committed_at, batch.lag_from) if loaded else {}
        if loaded and self.metrics is not None:
            facts = BatchFacts(
                records_in=stats["records_in"],
                good=stats["good"],
                bad=stats["bad"],
                duplicates=stats["duplicates"],
                seconds_total=t_end - t0,
                seconds_judge=batch.t_judge - t0,
                seconds_s3=(batch.t_read - batch.t_judge) + (t_s3 - t_write),
                seconds_warehouse=t_end - t_s3,
                rule_outcomes=[(o["Rule"], o["Outcome"]) for o in outcomes],
                lag_p50_s=lags.get("lag_p50_s"),
                lag_max_s=lags.get("lag_max_s"),
                isolated=stats.get("isolated", 0),
            )
            self.metrics.publish(
                batch_metric_data(facts, key.job_name, committed_at.replace(tzinfo=UTC)),
                batch=f"{key.stream_id}/{key.batch_id}",
            )
        result = BatchResult(
            key.batch_id,
            loaded,
            stats["records_in"],
            stats["duplicates"],
            stats["good"],
            stats["bad"],
            movies.num_rows,
            t_end - t0,
        )
        log.info(
            "batch_committed" if loaded else "batch_skipped",
            batch_id=key.batch_id,
            stream_id=key.stream_id,
            records_in=result.records_in,
            good=result.good_records,
            bad=result.bad_records,
            duplicates=result.duplicates_dropped,
            isolated=stats.get("isolated", 0),
            movies=result.movies_upserted,
            judge_s=round(batch.t_judge - t0, 3),
            s3_s=round((batch.t_read - batch.t_judge) + (t_s3 - t_write), 3),
            warehouse_s=round(t_end - t_s3, 3),
            **(_lags(committed_at, stats) if loaded else {}),
            **{k: v for k, v in lags.items() if k != "lag_max_s"},  # lag_produced_max_s is it
            retried_errors=batch.retried_errors,
            failed_rules=[o["Rule"] for o in outcomes if o["Outcome"] != "Passed"],
        )
        return result

    @staticmethod
    def _envelopes(judged: DataFrame) -> DataFrame:
        """The records the rule outcomes are about: delivered once, and parsed."""
        return judged.where(~F.col("is_duplicate") & F.col("record_error").isNull())

    def _read_out(self, judged: DataFrame) -> pa.Table:
        """Every judged record as Arrow (see batch_stats and split_read_out): its flags, a bad
        record's JSON line, and a good record's warehouse columns."""
        return judged.select(*self._read_out_columns).toArrow()

    @cached_property
    def _read_out_columns(self) -> list[Column]:
        unique_bad = ~F.col("is_duplicate") & ~F.col("is_good")
        return [
            F.col("is_duplicate"),
            F.col("is_good"),
            F.when(unique_bad, self._bad_record_json).alias("bad_record"),
            F.col("approximate_arrival_timestamp"),
            *[F.col(c) for c in NEWEST_ORDER_COLUMNS],
            *self._movie_columns,
            F.col("genres").alias("_genre_list"),
        ]

    @cached_property
    def _bad_record_json(self) -> Column:
        doc = F.struct(
            F.col("reasons"),
            F.col(ROW_FAIL).alias("failed_rules"),
            *[F.col(c) for c in BAD_RECORD_FIELDS],
            F.struct(*[F.col(c) for c in TYPED_FIELDS]).alias("typed"),
            F.col("fields").alias("raw_fields"),
            F.when(F.col("record_error").isNotNull(), F.base64("payload")).alias("payload_base64"),
        )
        return F.to_json(doc)

    @cached_property
    def _movie_columns(self) -> list[Column]:
        """The staged movie columns that come from the data, in STAGE_COLUMNS order; the rest
        (PER_BATCH_COLUMNS) are the same for every row of a batch and are added on the driver."""
        computed = {
            "genres": F.array_join("genres", ", "),
            "event_produced_at": F.coalesce("produced_at", "approximate_arrival_timestamp"),
        }
        return [computed[c].alias(c) if c in computed else F.col(c) for c in DATA_STAGE_COLUMNS]


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def batch_stats(table: pa.Table) -> dict[str, Any]:
    """The batch's counts and time range from its read-out records: every record for the count
    and the times, re-deliveries apart for good and bad. Times are naive UTC."""
    duplicate = table["is_duplicate"]
    unique = pc.invert(duplicate)
    unique_good = pc.and_(unique, table["is_good"])
    unique_bad = pc.and_(unique, pc.invert(table["is_good"]))
    stats: dict[str, Any] = {
        "records_in": table.num_rows,
        "duplicates": pc.sum(duplicate.cast(pa.int64())).as_py() or 0,
        "good": pc.sum(unique_good.cast(pa.int64())).as_py() or 0,
        "bad": pc.sum(unique_bad.cast(pa.int64())).as_py() or 0,
    }
    for name, column in (("produced_at", "produced_at"), ("arrival_at", "approximate_arrival_timestamp")):
        span = pc.min_max(table[column])
        stats[f"min_{name}"] = _naive_utc(span["min"].as_py())
        stats[f"max_{name}"] = _naive_utc(span["max"].as_py())
    return stats


def lag_points(table: pa.Table) -> dict[str, datetime]:
    """The produced_at times a batch's lag columns are measured from: lag p50 from the median
    produced_at, p95 from its 5th percentile (older records lag more), max from the oldest.
    Every record counts, re-deliveries too: each one waited that long. Naive UTC."""
    produced = table["produced_at"]
    if produced.null_count == len(produced):
        return {}
    micros = produced.cast(pa.timestamp("us", tz=produced.type.tz)).cast(pa.int64())
    # "lower": an actual record's time, not a mean of two
    p05, p50 = pc.quantile(micros, q=[0.05, 0.5], interpolation="lower").to_pylist()
    oldest = pc.min(micros).as_py()
    epoch = datetime(1970, 1, 1)
    return {
        "lag_p50_s": epoch + timedelta(microseconds=p50),
        "lag_p95_s": epoch + timedelta(microseconds=p05),
        "lag_max_s": epoch + timedelta(microseconds=oldest),
    }


NEWEST_ORDER_COLUMNS = ("produced_at", "shard_id", "sequence_number", "sub_sequence_number")


def split_read_out(
    table: pa.Table, key: BatchKey, started_at: datetime
) -> tuple[list[str], pa.Table, pa.Table]:
    """(bad-record lines, staged movies, staged genres) from a batch's read-out records; a
    re-delivered record is in neither."""
    unique = table.filter(pc.invert(table["is_duplicate"]))
    bad_lines = unique.filter(pc.invert(unique["is_good"]))["bad_record"].to_pylist()
    movies, genres = stage_tables(newest_per_movie(unique.filter(unique["is_good"])), key, started_at)
    return bad_lines, movies, genres


def stage_tables(newest: pa.Table, key: BatchKey, started_at: datetime) -> tuple[pa.Table, pa.Table]:
    """The warehouse's two staged tables from one row per movie (DATA_STAGE_COLUMNS and
    ``_genre_list``): the movies with this batch's columns added, and one row per movie and genre."""
    newest = newest.combine_chunks()  # list_parent_indices below counts from the first chunk
    rows = newest.num_rows
    columns = []
    for name in DATA_STAGE_COLUMNS:
        column = newest[name]
        if pa.types.is_timestamp(column.type):  # the warehouse's TIMESTAMPs are naive UTC
            column = column.cast(pa.timestamp("us"))
        columns.append(column)
    when = pa.scalar(started_at, pa.timestamp("us"))
    columns += [
        pa.repeat(when, rows),  # first_seen_at (the MERGE keeps an existing movie's own)
        pa.repeat(when, rows),  # last_updated_at
        pa.repeat(pa.scalar(key.job_name), rows),
        pa.repeat(pa.scalar(key.batch_id, pa.int64()), rows),
    ]
    movies = pa.Table.from_arrays(columns, names=list(STAGE_COLUMNS))
    lists = newest["_genre_list"]
    genres = (
        pa.table(
            {
                "movie_id": newest["movie_id"].take(pc.list_parent_indices(lists)),
                "genre": pc.list_flatten(lists),
            }
        )
        .group_by(list(GENRE_COLUMNS), use_threads=False)  # a genre listed twice is one row
        .aggregate([])
        .sort_by([(c, "ascending") for c in GENRE_COLUMNS])
    )
    return movies, genres


_PLACE = "_isolation_place"  # a user record's place in a batch being bisected

# Errors of the I/O around judging, which the failure policy handles: never a record's fault.
_NOT_DATA = (PermanentFailure, GaveUp, ReferenceLoadError)


def _expand_each(raw: pa.Table, isolated: list[str]) -> pa.Table:
    """The Kinesis records as user records (EXPANDED_SCHEMA), expanded on the driver one by one:
    a record whose expansion raises is isolated whole (one bad record for the Kinesis record)."""
    columns = ["shard_id", "sequence_number", "partition_key", "approximate_arrival_timestamp", "data"]
    source = raw.select(columns)
    parts = []
    for i in range(source.num_rows):
        row = source.slice(i, 1)
        try:
            parts.extend(expand_batches(iter(row.to_batches())))
        except Exception as exc:  # isolated, like a user record that raises
            record = raw.slice(i, 1).to_pylist()[0]
            record["payload"] = record.get("data")
            isolated.append(_isolated_line(record, exc))
    return pa.Table.from_batches(parts, schema=ARROW_EXPANDED)


def _isolated_line(record: dict[str, Any], error: BaseException) -> str:
    """An isolated record's bad-record line: the same document as any bad record's, with what
    can be known without judging it (its envelope's identity, when its payload is JSON)."""
    reason = f"internal error: {_root_error(error)}"[:2000]
    payload = record.get("payload")
    envelope: dict[str, Any] = {}
    try:
        parsed = json.loads(payload) if payload else None
        envelope = parsed if isinstance(parsed, dict) else {}
    except (ValueError, RecursionError):
        pass
    arrival = record.get("approximate_arrival_timestamp")
    doc = dict.fromkeys(BAD_RECORD_FIELDS)
    doc.update(
        reasons=[reason],
        failed_rules=[],
        event_id=_text(envelope.get("event_id")),
        source=_text(envelope.get("source")),
        row_number=envelope.get("row_number") if isinstance(envelope.get("row_number"), int) else None,
        movie_id=record.get("movie_id"),
        shard_id=record.get("shard_id"),
        sequence_number=record.get("sequence_number"),
        sub_sequence_number=record.get("sub_sequence_number"),
        partition_key=record.get("partition_key"),
        approximate_arrival_timestamp=arrival.isoformat() if arrival is not None else None,
        record_error=reason,
        parse_errors=[],
        missing_fields=[],
        payload_base64=base64.b64encode(payload).decode() if payload else None,
    )
    return json.dumps(doc)


def _root_error(error: BaseException) -> str:
    """``Type: message`` of what raised. An error raised in a Python worker reaches the driver as
    PySpark's PythonException holding the worker's traceback: its last line names the cause."""
    if type(error).__name__ == "PythonException":
        lines = [line for line in str(error).splitlines() if line.strip()]
        causes = [line for line in lines if re.match(r"^[A-Za-z_][\w.]*: ", line)]
        if causes:
            return causes[-1].strip()
    return one_line(error)


def _text(value: Any) -> str | None:  # whatever the JSON held
    return value if isinstance(value, str) else None
