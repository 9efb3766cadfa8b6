"""What one judged batch becomes on the driver, and the typed facts the pipeline keeps of it.

The judged records are read out of Spark once, as Arrow (``read_out``): each record's flags, a bad
record's JSON line and a good record's warehouse columns. Everything after that is pure Arrow on
the driver: the batch's counts and time range (``BatchStats``), the produced_at times its lag is
measured from (``lag_points``), and the bad-record lines and staged tables (``split_read_out``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from moviestream.core.record import TYPED_COLUMNS
from moviestream.pipeline.judge import newest_per_movie
from moviestream.quality.evaluate import ROW_FAIL
from moviestream.warehouse.contract import GENRE_COLUMNS, STAGE_COLUMNS, BatchKey

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
NEWEST_ORDER_COLUMNS = ("produced_at", "shard_id", "sequence_number", "sub_sequence_number")


@dataclass
class BatchStats:
    """A batch's counts and time range. Every record counts in ``records_in`` and the times,
    re-deliveries (``duplicates``) apart for ``good`` and ``bad``; ``isolated`` records (poison
    isolation) are among ``records_in`` and ``bad``. Times are naive UTC."""

    records_in: int
    duplicates: int
    good: int
    bad: int
    min_produced_at: datetime | None = None
    max_produced_at: datetime | None = None
    min_arrival_at: datetime | None = None
    max_arrival_at: datetime | None = None
    isolated: int = 0

    @classmethod
    def of(cls, table: pa.Table) -> BatchStats:
        """From a batch's read-out records."""
        duplicate = table["is_duplicate"]
        unique = pc.invert(duplicate)
        produced = pc.min_max(table["produced_at"])
        arrival = pc.min_max(table["approximate_arrival_timestamp"])
        return cls(
            records_in=table.num_rows,
            duplicates=_count(duplicate),
            good=_count(pc.and_(unique, table["is_good"])),
            bad=_count(pc.and_(unique, pc.invert(table["is_good"]))),
            min_produced_at=_naive_utc(produced["min"].as_py()),
            max_produced_at=_naive_utc(produced["max"].as_py()),
            min_arrival_at=_naive_utc(arrival["min"].as_py()),
            max_arrival_at=_naive_utc(arrival["max"].as_py()),
        )

    def add_isolated(self, count: int) -> None:
        """Records poison isolation took out before judging: they came in, and are bad."""
        self.isolated += count
        self.records_in += count
        self.bad += count

    def span_points(self) -> dict[str, datetime]:
        """The times the log's lag fields are measured from: from production and from Kinesis
        arrival to commit, for the oldest (``max``) and the newest (``min``) record."""
        points = {}
        for name, oldest, newest in (
            ("produced", self.min_produced_at, self.max_produced_at),
            ("arrival", self.min_arrival_at, self.max_arrival_at),
        ):
            if oldest is not None and newest is not None:
                points[f"lag_{name}_max_s"] = oldest
                points[f"lag_{name}_min_s"] = newest
        return points


def _count(flags: pa.ChunkedArray) -> int:
    return pc.sum(flags.cast(pa.int64())).as_py() or 0


def _naive_utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


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


def read_out(judged: DataFrame, columns: list[Column]) -> pa.Table:
    """Every judged record as Arrow (see BatchStats and split_read_out): its flags, a bad
    record's JSON line, and a good record's warehouse columns (``columns``: read_out_columns())."""
    return judged.select(*columns).toArrow()


def envelopes(judged: DataFrame) -> DataFrame:
    """The records the rule outcomes are about: delivered once, and parsed."""
    return judged.where(~F.col("is_duplicate") & F.col("record_error").isNull())


def read_out_columns() -> list[Column]:
    """What ``read_out`` selects. Build them once per pipeline, when Spark runs, and reuse them
    for every batch (see BatchJudge for why)."""
    unique_bad = ~F.col("is_duplicate") & ~F.col("is_good")
    return [
        F.col("is_duplicate"),
        F.col("is_good"),
        F.when(unique_bad, bad_record_json()).alias("bad_record"),
        F.col("approximate_arrival_timestamp"),
        *[F.col(c) for c in NEWEST_ORDER_COLUMNS],
        *movie_columns(),
        F.col("genres").alias("_genre_list"),
    ]


def bad_record_json() -> Column:
    """A bad record's line in the bad-records store (the catalog's bad_records table reads it)."""
    doc = F.struct(
        F.col("reasons"),
        F.col(ROW_FAIL).alias("failed_rules"),
        *[F.col(c) for c in BAD_RECORD_FIELDS],
        F.struct(*[F.col(c) for c in TYPED_FIELDS]).alias("typed"),
        F.col("fields").alias("raw_fields"),
        F.when(F.col("record_error").isNotNull(), F.base64("payload")).alias("payload_base64"),
    )
    return F.to_json(doc)


def movie_columns() -> list[Column]:
    """The staged movie columns that come from the data, in STAGE_COLUMNS order; the rest
    (PER_BATCH_COLUMNS) are the same for every row of a batch and are added on the driver."""
    computed = {
        "genres": F.array_join("genres", ", "),
        "event_produced_at": F.coalesce("produced_at", "approximate_arrival_timestamp"),
    }
    return [computed[c].alias(c) if c in computed else F.col(c) for c in DATA_STAGE_COLUMNS]
