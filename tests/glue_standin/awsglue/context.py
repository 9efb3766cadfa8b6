"""``GlueContext``: the Kinesis source and ``forEachBatch`` on local Spark (see ../README.md)."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from awsglue import record_call
from awsglue.kinesis_options import KINESIS_OPTIONS


def _spark() -> SparkSession:
    """Glue starts Spark before the script runs: so does the stand-in, on import."""
    from moviestream.core.spark import local_session
    from moviestream.streaming.kinesis_source import KinesisDataSource

    spark = local_session(os.environ.get("GLUE_STANDIN_APP_NAME", "glue-standin"))
    spark.dataSource.register(KinesisDataSource)
    return spark


_SPARK = _spark()


def local_checkpoint(location: str) -> str:
    """An ``s3://bucket/key/`` checkpoint as a folder under $GLUE_STANDIN_CHECKPOINT_ROOT."""
    if not location.startswith("s3://"):
        raise ValueError(f"checkpointLocation is not an s3:// URI: {location!r}")
    root = os.environ.get("GLUE_STANDIN_CHECKPOINT_ROOT")
    if not root:
        raise RuntimeError("GLUE_STANDIN_CHECKPOINT_ROOT is not set")
    folder = Path(root, location.removeprefix("s3://").rstrip("/"))
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder)


def _starting_position(value: str) -> str:
    """Glue's startingPosition as the local source's: trim_horizon | latest | an ISO time."""
    lowered = value.strip().lower()
    if lowered in ("trim_horizon", "earliest"):
        return "trim_horizon"
    if lowered == "latest":
        return "latest"
    return f"at_timestamp:{value.strip()}"


class DataFrameReader:
    def __init__(self, glue_context: GlueContext) -> None:
        self._glue_context = glue_context

    def from_options(
        self,
        connection_type,
        connection_options={},  # noqa: B006 - Glue's signature
        format=None,
        format_options={},  # noqa: B006
        transformation_ctx="",
        push_down_predicate="",
        **kwargs,
    ) -> DataFrame:
        record_call(
            "awsglue.dataframereader.DataFrameReader.from_options",
            connection_type,
            connection_options,
            format=format,
            format_options=format_options,
            transformation_ctx=transformation_ctx,
            push_down_predicate=push_down_predicate,
            **kwargs,
        )
        if connection_type != "kinesis":
            raise ValueError(f"the stand-in serves only kinesis, not {connection_type!r}")
        unknown = sorted(set(connection_options) - KINESIS_OPTIONS)
        if unknown:
            raise ValueError(f"connection options Glue does not document for Kinesis: {unknown}")
        import json

        from moviestream.streaming.kinesis_source import parse_starting_position

        options = connection_options
        if "streamARN" in options:
            # arn:aws:kinesis:REGION:ACCOUNT:stream/NAME
            parts = options["streamARN"].split(":", 5)
            region, stream = parts[3], parts[5].split("/", 1)[1]
        else:
            region, stream = "", options["streamName"]
        start = parse_starting_position(_starting_position(options.get("startingPosition", "latest")))
        reader = (
            self._glue_context.spark_session.readStream.format("moviestream_kinesis")
            .option("stream_name", stream)
            .option("region", region)
            .option("starting_position_json", json.dumps(start))
        )
        if "maxFetchRecordsPerShard" in options:
            reader = reader.option("max_records_per_batch", options["maxFetchRecordsPerShard"])
        raw = reader.load()
        # Glue's frame without schema inference: the payload as a `data` column, and with
        # addRecordTimestamp the arrival time as `__src_timestamp`.
        columns = [F.col("data").cast("string").alias("data")]
        if options.get("addRecordTimestamp", "false").lower() == "true":
            columns.append(F.col("approximate_arrival_timestamp").alias("__src_timestamp"))
        return raw.select(*columns)


class GlueContext:
    def __init__(self, sparkContext=None, **options) -> None:  # Glue's name
        record_call("awsglue.context.GlueContext.__init__", sparkContext, **options)
        self.spark_session = _SPARK
        self.sparkSession = _SPARK  # Glue's name
        self.create_data_frame = DataFrameReader(self)

    def forEachBatch(self, frame, batch_function, options={}):  # noqa: B006 - Glue's names
        record_call("awsglue.context.GlueContext.forEachBatch", frame, batch_function, options)
        if "windowSize" not in options:
            raise Exception("Missing windowSize argument")
        if "checkpointLocation" not in options:
            raise Exception("Missing checkpointLocation argument")
        checkpoint = local_checkpoint(options["checkpointLocation"])
        persist = options.get("persistDataFrame", "true").lower() != "false"
        max_retries = int(options.get("batchMaxRetries", 3))
        if not 0 <= max_retries <= 100:
            raise ValueError("batchMaxRetries must be in [0, 100]")

        def each_batch(batch: DataFrame, batch_id: int) -> None:
            # Glue skips empty batches; with persistDataFrame it caches the batch around the call.
            if not persist:
                if batch.take(1):
                    batch_function(batch, batch_id)
                return
            batch.persist()
            try:
                if batch.count():
                    batch_function(batch, batch_id)
            finally:
                batch.unpersist()

        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        attempt = 0
        while True:
            query = (
                frame.writeStream.foreachBatch(each_batch)
                .trigger(processingTime=options["windowSize"])
                .option("checkpointLocation", checkpoint)
                .start()
            )
            try:
                while not query.awaitTermination(0.5):
                    if stop.is_set():  # finish the batch in flight, then return to the script
                        while query.status.get("isTriggerActive"):
                            query.awaitTermination(0.2)
                        query.stop()
                        return
                return
            except Exception:
                attempt += 1
                if attempt > max_retries:
                    raise
                # Glue's back-off, 1 s, 2 s, then 5 s; a stop request (SIGTERM) cuts it short.
                stop.wait(attempt if attempt < 3 else 5)
