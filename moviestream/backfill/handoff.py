"""How a chunk of a file's rows reaches Spark: two hand-offs, one reader.

The CSV reader (moviestream/core/csv_source.py) defines a row either way, and the event id and
movie_id come from the producer's own encoder (EnvelopeEncoder), so a row is the same record
whichever way it travels:

- ``columns`` (the default): the rows become Arrow columns in FILE_ROW_SCHEMA, the shape
  parse_envelopes gives an envelope, and a Python data source of this module yields them to
  Spark as Arrow batches. No JSON is written in Python, no row is pickled, and the JVM parses no
  JSON. The chunk is spooled to an Arrow file on the driver; the data source's planner (which
  Spark runs in a Python process on the driver) reads it and gives each partition its slice, so
  the tasks carry their rows to wherever they run (on Glue, other hosts than the driver's).
  Not a local relation (``createDataFrame`` of an Arrow table): Spark judged that on the driver,
  interpreted (bench/README.md).
- ``envelopes``: each row as the producer's JSON envelope, pickled to Spark in EXPANDED_SCHEMA,
  the shape of a de-aggregated Kinesis record. Kept so the two can be compared (the parity test,
  ``make bench-backfill``).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.ipc as ipc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.datasource import DataSource, DataSourceReader, InputPartition
from pyspark.sql.types import StructType

from moviestream.backfill import HANDOFFS
from moviestream.core.csv_source import Row
from moviestream.core.envelope import EnvelopeEncoder
from moviestream.core.record import SCHEMA_VERSION
from moviestream.core.transform import ARROW_FILE_ROWS, EXPANDED_SCHEMA, FILE_ROW_SCHEMA

FILE_ROWS_FORMAT: Final = "moviestream_file_rows"
# What a file row's Kinesis-shaped columns say: no shard, the row number as its position.
FILE_SHARD: Final = "backfill"


def file_rows_table(
    encoder: EnvelopeEncoder, rows: Sequence[Row], produced_at: str, arrival: datetime
) -> pa.Table:
    """A chunk's rows as ARROW_FILE_ROWS: the envelope's content, column by column."""
    n = len(rows)
    event_ids: list[str] = []
    keys: list[str] = []
    numbers: list[int] = []
    values: list[str] = []
    for row in rows:
        event_ids.append(encoder.event_id(row.row_number, row.values))
        keys.append(encoder.movie_key(row.values))
        numbers.append(row.row_number)
        values.extend(row.values)
    # Every row of a file has its header's columns (the reader refuses a header with repeats, and
    # classes a row of another width as a reject), so the map's keys are the header, n times.
    width = len(encoder.header)
    fields = pa.MapArray.from_arrays(
        pa.array(range(0, (n + 1) * width, width), pa.int32()),
        pa.array(list(encoder.header) * n, pa.string()),
        pa.array(values, pa.string()),
    )
    keys_array = pa.array(keys, pa.string())
    arrival_type = ARROW_FILE_ROWS.field("approximate_arrival_timestamp").type
    columns = {
        "shard_id": pa.array([FILE_SHARD] * n, pa.string()),
        "sequence_number": pa.array([str(number) for number in numbers], pa.string()),
        "sub_sequence_number": pa.array([0] * n, pa.int32()),
        "partition_key": keys_array,
        "approximate_arrival_timestamp": pa.array([arrival] * n, arrival_type),
        "payload": pa.nulls(n, pa.binary()),
        "movie_id": keys_array,
        "record_error": pa.nulls(n, pa.string()),
        "event_id": pa.array(event_ids, pa.string()),
        "schema_version": pa.array([SCHEMA_VERSION] * n, pa.int32()),
        "source": pa.array([encoder.source] * n, pa.string()),
        "row_number": pa.array(numbers, pa.int64()),
        "produced_at_raw": pa.array([produced_at] * n, pa.string()),
        "fields": fields,
    }
    return pa.table(list(columns.values()), schema=ARROW_FILE_ROWS)


def envelope_records(
    encoder: EnvelopeEncoder, rows: Sequence[Row], produced_at: str, arrival: datetime
) -> list[tuple]:
    """A chunk's rows as EXPANDED_SCHEMA tuples: one JSON envelope each, as the producer sends."""
    records = []
    for row in rows:
        key, envelope = encoder.encode(row.row_number, row.values, produced_at)
        records.append((FILE_SHARD, str(row.row_number), 0, key, arrival, envelope, None, key))
    return records


class _Slice(InputPartition):
    """One partition's rows, carried with its task."""

    def __init__(self, batch: pa.RecordBatch) -> None:
        self.batch = batch


class FileRowsReader(DataSourceReader):
    def __init__(self, path: str) -> None:
        self.path = path

    def partitions(self) -> list[InputPartition]:
        # Runs on the driver, where the spool file is.
        with pa.memory_map(self.path) as source:
            spool = ipc.open_file(source)
            return [_Slice(spool.get_batch(i)) for i in range(spool.num_record_batches)]

    def read(self, partition: InputPartition) -> Iterator[pa.RecordBatch]:
        assert isinstance(partition, _Slice)
        yield partition.batch


class FileRowsDataSource(DataSource):
    """``spark.read.format("moviestream_file_rows").load(<spool file>)``: a spooled chunk."""

    @classmethod
    def name(cls) -> str:
        return FILE_ROWS_FORMAT

    def schema(self) -> StructType:
        return FILE_ROW_SCHEMA

    def reader(self, schema: StructType) -> DataSourceReader:
        return FileRowsReader(self.options["path"])


class ChunkHandoff:
    """Turns a chunk's rows into the DataFrame the pipeline judges (``frame``); ``release`` once
    the pipeline has read it out, ``close`` at the end."""

    def __init__(self, spark: SparkSession, how: str = "columns") -> None:
        if how not in HANDOFFS:
            raise ValueError(f"the hand-off must be one of {', '.join(HANDOFFS)}, not {how!r}")
        self.spark, self.how = spark, how
        self._spool: Path | None = None
        self._primed: threading.Thread | None = None
        if how == "columns":
            spark.dataSource.register(FileRowsDataSource)
            self._spool = Path(tempfile.mkdtemp(prefix="moviestream-backfill-"))

    def prime(self) -> None:
        """Read an empty chunk through the data source, in the background, while the first file
        is verified and its first chunk read: Spark starts the Python processes that create,
        plan and read a Python data source (one interpreter each) once, and without this the
        first chunk waited for them. Called when the run starts, not before: a run refused at
        its start (a bad ruleset) starts no Python process."""
        if self._spool is not None and self._primed is None:
            self._primed = threading.Thread(target=self._prime, name="backfill-handoff-prime", daemon=True)
            self._primed.start()

    def _prime(self) -> None:
        """Only ever saves time: a failure here is the first chunk's to report."""
        assert self._spool is not None
        path = self._spool / "prime.arrow"
        try:
            with ipc.new_file(path, ARROW_FILE_ROWS) as spool:
                # One empty partition: its read starts a Python worker too.
                spool.write_batch(pa.RecordBatch.from_pylist([], schema=ARROW_FILE_ROWS))
            self.spark.read.format(FILE_ROWS_FORMAT).load(str(path)).collect()
        except Exception:  # see the docstring
            pass
        finally:
            path.unlink(missing_ok=True)

    def frame(
        self, encoder: EnvelopeEncoder, rows: Sequence[Row], produced_at: str, arrival: datetime, index: int
    ) -> DataFrame:
        if self._spool is None:
            records = envelope_records(encoder, rows, produced_at, arrival)
            return self.spark.createDataFrame(records, EXPANDED_SCHEMA, verifySchema=False)
        table = file_rows_table(encoder, rows, produced_at, arrival)
        # One partition per core, so every core judges.
        parts = max(1, min(self.spark.sparkContext.defaultParallelism, table.num_rows))
        size = -(-table.num_rows // parts)
        path = self._spool / f"chunk-{index}.arrow"
        with ipc.new_file(path, ARROW_FILE_ROWS) as spool:
            spool.write_table(table, max_chunksize=size)
        return self.spark.read.format(FILE_ROWS_FORMAT).load(str(path))

    def release(self, index: int) -> None:
        """The chunk is judged and read out: its spool file goes."""
        if self._spool is not None:
            (self._spool / f"chunk-{index}.arrow").unlink(missing_ok=True)

    def close(self) -> None:
        if self._primed is not None:
            self._primed.join()
        if self._spool is not None:
            shutil.rmtree(self._spool, ignore_errors=True)
