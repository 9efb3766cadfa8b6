"""The contract between the pipeline and the warehouse, whichever it is (PostgreSQL locally,
Amazon Redshift on AWS): what one batch's load carries, the rows it becomes, and the
``Warehouse`` protocol both implementations follow. No I/O here and no database driver: the
pipeline, the backfill and the health page import this, never a warehouse implementation."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa

from moviestream.core.record import TYPED_COLUMNS

if TYPE_CHECKING:
    from moviestream.warehouse.views import ViewsRefresh


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached (the message names where, never a password)."""


# Columns of the staging table, in COPY order (the table is LIKE movies.imdb_movies_rating).
STAGE_COLUMNS: tuple[str, ...] = (
    *TYPED_COLUMNS,
    "event_id",
    "event_produced_at",
    "first_seen_at",
    "last_updated_at",
    "last_job",
    "last_batch_id",
)


@dataclass(frozen=True)
class BatchKey:
    job_name: str
    stream_id: str
    batch_id: int


GENRE_COLUMNS: tuple[str, ...] = ("movie_id", "genre")


@dataclass(frozen=True)
class BadRecordsFile:
    """A batch's bad-records file in S3: where it is, its partition's date, and its lines in
    order (each a bad record; movies.quarantine indexes them, see quarantine.py)."""

    s3_uri: str
    ingest_date: date
    lines: Sequence[str]


@dataclass(frozen=True)
class Verdict:
    """What a replay made of one quarantined record (moviestream/quarantine/replay.py): it passed
    (``replayed``, with the movie and event time it loads as) or failed again (``still_bad``, with
    its new reasons). Whether a passed record is ``superseded`` instead is decided in the load's
    transaction, under the ledger's lock (replay_verdicts.sql)."""

    quarantine_id: str
    status: str  # replayed | still_bad | expired (its bad-records file is gone)
    movie_id: str | None = None
    event_produced_at: datetime | None = None
    reasons: Sequence[str] = ()
    failed_rules: Sequence[str] = ()


@dataclass(frozen=True)
class ReplayVerdicts:
    """A replay chunk's verdicts, applied to movies.quarantine in the chunk's own transaction, so
    the ledger row, the loaded rows and the records' statuses agree across crashes."""

    replay_id: str
    by: str  # who runs the replay (an OS or IAM user)
    verdicts: Sequence[Verdict]


@dataclass
class BatchLoad:
    """One batch for the warehouse. ``movies`` and ``genres`` are Arrow tables, the form the
    pipeline collects them in; rows (sequences in column order) are accepted too and converted."""

    key: BatchKey
    movies: pa.Table  # STAGE_COLUMNS, newest event per movie
    genres: pa.Table  # GENRE_COLUMNS
    ledger: dict[str, Any]  # counts and timings, see movies.batch_ledger
    rule_outcomes: list[dict[str, Any]]
    # Lag columns (lag_p50_s, ...) -> the produced_at each is measured from; the seconds are
    # taken against committed_at, known only inside the transaction. Empty: no lag (backfill).
    lag_from: dict[str, datetime] = field(default_factory=dict)
    # The run's data-quality metrics (Glue's names), recorded in movies.metric_history under
    # this evaluation context in the batch's transaction; None: not recorded.
    metrics: dict[str, float] = field(default_factory=dict)
    history_context: str | None = None
    # The batch's bad records as written to S3, indexed in movies.quarantine in the batch's
    # transaction; None: the batch had none.
    bad_records: BadRecordsFile | None = None
    # A replay's chunk: its records' verdicts (None: not a replay).
    replay: ReplayVerdicts | None = None

    def __post_init__(self) -> None:
        self.movies = as_table(STAGE_COLUMNS, self.movies)
        self.genres = as_table(GENRE_COLUMNS, self.genres)


def as_table(columns: Sequence[str], rows: pa.Table | Iterable[Sequence[Any]]) -> pa.Table:
    """``rows`` as an Arrow table with ``columns`` (each column's type inferred from its values)."""
    if isinstance(rows, pa.Table):
        if rows.column_names != list(columns):
            raise ValueError(f"expected the columns {list(columns)}, got {rows.column_names}")
        return rows
    rows = list(rows)
    values = list(zip(*rows, strict=True)) if rows else [()] * len(columns)
    if len(values) != len(columns):
        raise ValueError(f"expected rows of {len(columns)} values")
    return pa.table({c: pa.array(list(v)) for c, v in zip(columns, values, strict=True)})


def table_rows(table: pa.Table) -> Iterator[tuple]:
    """The table's rows as tuples of Python values."""
    return zip(*(column.to_pylist() for column in table.columns), strict=True)


OUTCOME_COLUMNS = (
    "job_name",
    "stream_id",
    "batch_id",
    "rule",
    "outcome",
    "failure_reason",
    "evaluated_metrics",
    "observations",  # migration 0007: DetectAnomalies' findings, JSON; NULL otherwise
)


def lag_seconds(committed_at: datetime, lag_from: dict[str, datetime]) -> dict[str, float]:
    """Each lag column's seconds: committed_at minus the produced_at it is measured from."""
    return {name: round((committed_at - produced).total_seconds(), 3) for name, produced in lag_from.items()}


def ledger_row(load: BatchLoad, load_started: float) -> dict[str, Any]:
    """The batch's movies.batch_ledger row, committed_at taken now (just before the commit);
    ``load_started``: time.perf_counter() when the warehouse step began."""
    committed_at = datetime.now(UTC).replace(tzinfo=None)
    return {
        **load.ledger,
        **lag_seconds(committed_at, load.lag_from),
        "seconds_warehouse": round(time.perf_counter() - load_started, 3),
        "job_name": load.key.job_name,
        "stream_id": load.key.stream_id,
        "batch_id": load.key.batch_id,
        "committed_at": committed_at,
    }


def outcome_rows(load: BatchLoad) -> list[tuple]:
    """The batch's rule outcomes as movies.rule_outcomes rows, in OUTCOME_COLUMNS order."""
    key = load.key
    return [
        (
            key.job_name,
            key.stream_id,
            key.batch_id,
            o["Rule"],
            o["Outcome"],
            o["FailureReason"],
            json.dumps(o["EvaluatedMetrics"]),
            json.dumps(o["Observations"]) if o.get("Observations") else None,
        )
        for o in load.rule_outcomes
    ]


HISTORY_COLUMNS = ("context", "job_name", "stream_id", "batch_id", "recorded_at", "metric", "value")


def history_rows(load: BatchLoad, committed_at: datetime) -> list[tuple]:
    """The run's metrics as movies.metric_history rows, in HISTORY_COLUMNS order."""
    if load.history_context is None:
        return []
    key = load.key
    return [
        (load.history_context, key.job_name, key.stream_id, key.batch_id, committed_at, metric, value)
        for metric, value in sorted(load.metrics.items())
    ]


# The newest runs of one context (at most the limit), read back oldest first. Plain SQL that
# PostgreSQL and Redshift both run.
HISTORY_QUERY = """
SELECT h.job_name, h.stream_id, h.batch_id, r.recorded_at, h.metric, h.value
FROM movies.metric_history h
JOIN (
    SELECT job_name, stream_id, batch_id, MAX(recorded_at) AS recorded_at
    FROM movies.metric_history
    WHERE context = %s
    GROUP BY job_name, stream_id, batch_id
    ORDER BY recorded_at DESC, batch_id DESC
    LIMIT %s
) r ON h.job_name = r.job_name AND h.stream_id = r.stream_id AND h.batch_id = r.batch_id
WHERE h.context = %s
ORDER BY r.recorded_at, h.stream_id, h.batch_id
"""


RunKey = tuple[str, str, int]  # (job name, stream id, batch id): a run of the metric history


def history_runs(rows: Iterable[Sequence[Any]]) -> list[tuple[RunKey, dict[str, float]]]:
    """HISTORY_QUERY's rows as runs, each its key and its metrics, in the rows' order."""
    runs: dict[RunKey, dict[str, float]] = {}
    for job_name, stream_id, batch_id, _, metric, value in rows:
        runs.setdefault((job_name, stream_id, int(batch_id)), {})[metric] = float(value)
    return list(runs.items())


ANNOTATION_COLUMNS = ("context", "job_name", "stream_id", "batch_id", "metric", "action", "note",
                      "annotated_at", "annotated_by")  # fmt: skip
# An evaluation context's annotations, in the order they were made (the later one wins).
ANNOTATIONS_QUERY = (
    f"SELECT {', '.join(ANNOTATION_COLUMNS)} FROM movies.metric_annotations"
    " WHERE context = %s ORDER BY annotated_at, batch_id"
)


LEDGER_CHECK = "SELECT 1 FROM movies.batch_ledger WHERE job_name = %s AND stream_id = %s AND batch_id = %s"


class Warehouse(Protocol):
    """What the pipeline needs of a warehouse (moviestream/warehouse/targets.py opens one from a DSN)."""

    def check_reachable(self) -> None:
        """Raise WarehouseUnavailable unless a connection can be made."""

    def batch_committed(self, key: BatchKey) -> bool:
        """Whether the ledger has this batch (it was loaded, exactly once)."""

    def load_batch(self, load: BatchLoad, timings: dict[str, float] | None = None) -> datetime | None:
        """Load one batch exactly once (moviestream/warehouse/loading.py): the ledger's
        committed_at, or None if it was loaded before."""

    def read_metric_history(self, context: str, limit: int) -> list[tuple[RunKey, dict[str, float]]]:
        """The newest ``limit`` runs of an evaluation context, oldest first, each with its key."""

    def read_annotations(self, context: str) -> list[dict[str, Any]]:
        """The context's annotations (ANNOTATION_COLUMNS), in the order they were made."""

    def views_refresh(self, refresher: str) -> ViewsRefresh:
        """Refreshing the materialized views on this warehouse (moviestream/warehouse/views.py),
        recorded under ``refresher``."""
