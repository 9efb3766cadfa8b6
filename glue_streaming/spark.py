"""A local SparkSession configured like the job expects (UTC, small parallelism, no UI)."""

from __future__ import annotations

import os
import sys

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQueryListener


def spark_master(cores: int | None = None) -> str:
    """``MOVIESTREAM_SPARK_MASTER`` when set (a standalone cluster's spark://host:7077, or any
    master Spark accepts), else local mode on ``cores`` cores, by default all of them."""
    configured = os.environ.get("MOVIESTREAM_SPARK_MASTER", "").strip()
    if configured:
        return configured
    return f"local[{cores}]" if cores else "local[*]"


def local_session(app_name: str, cores: int | None = None) -> SparkSession:
    """The session of the local entries (the job, the backfill, the demo, the benchmarks): every
    core of the machine unless ``cores`` or MOVIESTREAM_SPARK_MASTER says otherwise. The tests
    pin two cores so their timings do not depend on the machine."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Python workers must run the same interpreter (and so the same packages) as the driver.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(spark_master(cores))
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # One shuffle partition per core: Spark's 200 would be mostly empty tasks for a batch.
        .config("spark.sql.shuffle.partitions", str(cores or os.cpu_count() or 2))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", os.environ.get("MOVIESTREAM_SPARK_DRIVER_MEMORY", "4g"))
        .config("spark.sql.streaming.stopGracefullyOnShutdown", "true")
        # HotSpot does not JIT-compile methods over 8,000 bytes of bytecode, and Spark's default
        # limit (65,535) lets a generated stage grow past that: a ruleset's row-level columns then
        # ran interpreted, 3x slower. At 8,000 Spark falls back to per-operator generated code.
        .config("spark.sql.codegen.hugeMethodLimit", "8000")
        # The throughput collector: on 2 cores G1's concurrent work competed with the job's own
        # (a 400,000-row backfill took 47 s with G1, 44.5 s with this). Less inlining by the
        # optimizing JIT: compiling Spark's code and the generated code took a core for most of
        # a short job (18 of its 44 CPU-seconds); with FreqInlineSize=100 (default 325) the same
        # backfill ran in 37.8 s instead of 39.5.
        .config("spark.driver.extraJavaOptions", "-XX:+UseParallelGC -XX:FreqInlineSize=100")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel(log_level())
    return spark


class ProgressLogger(StreamingQueryListener):
    """Logs Spark's own timings of each micro-batch (offsets, planning, the batch, the logs),
    so the time around the pipeline's steps shows too."""

    def __init__(self, log) -> None:  # a structlog logger
        self._log = log

    def onQueryStarted(self, event) -> None:  # Spark's API
        pass

    def onQueryProgress(self, event) -> None:
        progress = event.progress
        if progress.numInputRows:
            self._log.info(
                "batch_progress",
                batch_id=progress.batchId,
                rows=progress.numInputRows,
                **{f"{k}_ms": v for k, v in progress.durationMs.items()},
            )

    def onQueryIdle(self, event) -> None:
        pass

    def onQueryTerminated(self, event) -> None:
        pass


def log_level() -> str:
    """Spark's log level for the jobs: MOVIESTREAM_SPARK_LOG_LEVEL, ERROR by default."""
    return os.environ.get("MOVIESTREAM_SPARK_LOG_LEVEL", "ERROR")
