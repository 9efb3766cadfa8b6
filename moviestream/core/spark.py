"""A local SparkSession configured like the job expects (UTC, small parallelism, no UI)."""

from __future__ import annotations

import os
import shutil
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pyspark import SparkContext
from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQueryListener


def spark_master(cores: int | None = None) -> str:
    """``MOVIESTREAM_SPARK_MASTER`` when set (a standalone cluster's spark://host:7077, or any
    master Spark accepts), else local mode on ``cores`` cores, by default all of them."""
    configured = os.environ.get("MOVIESTREAM_SPARK_MASTER", "").strip()
    if configured:
        return configured
    return f"local[{cores}]" if cores else "local[*]"


# Spark SQL settings every session of the pipeline runs with, local or on Glue (whose entries set
# them at start, moviestream/glue/streaming_job.py):
# - HotSpot does not JIT-compile methods over 8,000 bytes of bytecode, and Spark's default limit
#   (65,535) lets a generated stage grow past that: a ruleset's row-level columns then ran
#   interpreted, 3x slower. At 8,000 Spark falls back to per-operator generated code.
# - A batch is cached once judged, for the two jobs that read it, and then dropped: compressing
#   the cache's columns (dictionary and run-length statistics for every column) took a fifth of the
#   executors' time in a backfill's chunk, and saved memory the batch holds for a second.
SQL_SETTINGS = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.codegen.hugeMethodLimit": "8000",
    "spark.sql.inMemoryColumnarStorage.compressed": "false",
}


# The folder where the local entries' JVM finds a class-data archive of Spark's classes (unset:
# none). `make` trains one per checkout into .local/spark-classes (moviestream/devstack/spark_classes.py).
CLASS_ARCHIVE_ENV = "MOVIESTREAM_SPARK_CLASS_ARCHIVE_DIR"


def class_archive_name() -> str:
    """The archive's file name: one per Spark version and JDK, so a changed one trains anew rather
    than start every JVM slowly from an archive it would ignore."""
    import pyspark

    java_home = os.environ.get("JAVA_HOME")
    java = shutil.which("java", path=os.path.join(java_home, "bin") if java_home else None)
    jdk = Path(java).resolve().parent.parent.name if java else "no-java"
    return f"spark-{pyspark.__version__}-{jdk}.jsa"


# More options for the local driver's JVM, after the project's own (the tests' short-lived jobs
# run with the client compiler only; see tests/integration/conftest.py).
JAVA_OPTIONS_ENV = "MOVIESTREAM_SPARK_JAVA_OPTIONS"


def class_archive_options() -> str:
    """The JVM options that map the class-data archive in MOVIESTREAM_SPARK_CLASS_ARCHIVE_DIR, or
    "" when it is unset or has none yet. Spark's driver loads some 10,000 classes as it starts;
    mapped from an archive they are parsed and verified once per checkout instead of once per
    JVM: measured here, a session started in 3.2 s instead of 6.5 and its first query ran in 1.8 s
    instead of 4. An archive the JVM cannot use is ignored; its warnings are silenced so a
    command's output stays its own."""
    directory = os.environ.get(CLASS_ARCHIVE_ENV, "").strip()
    archive = os.path.join(directory, class_archive_name()) if directory else ""
    if not archive or not os.path.isfile(archive):
        return ""
    if any(c.isspace() for c in archive):
        archive = f'"{archive}"'  # Spark splits the options at spaces outside quotes
    return f"-XX:SharedArchiveFile={archive} -Xshare:auto -Xlog:cds=off -Xlog:cds+dynamic=off"


def local_session(app_name: str, cores: int | None = None, java_options: str = "") -> SparkSession:
    """The session of the local entries (the job, the backfill, the demo, the benchmarks): every
    core of the machine unless ``cores`` or MOVIESTREAM_SPARK_MASTER says otherwise. The tests
    pin two cores so their timings do not depend on the machine. ``java_options``: more options
    for the driver's JVM (the class-archive training adds its own)."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # Python workers must run the same interpreter (and so the same packages) as the driver.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    builder = (
        SparkSession.builder.master(spark_master(cores))
        .appName(app_name)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        # One shuffle partition per core: Spark's 200 would be mostly empty tasks for a batch.
        .config("spark.sql.shuffle.partitions", str(cores or os.cpu_count() or 2))
        # With one partition per core there is nothing for adaptive execution to coalesce, and it
        # runs each shuffle's stages as jobs of their own, re-planned in between: 70 to 100 ms of
        # a streaming batch's fixed 0.5 s (1,800 records: 0.46 s without, 0.54 with; no change at
        # 100,000 records). Glue keeps it: there the shuffle has Spark's 200 partitions.
        .config("spark.sql.adaptive.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.memory", os.environ.get("MOVIESTREAM_SPARK_DRIVER_MEMORY", "4g"))
        .config("spark.sql.streaming.stopGracefullyOnShutdown", "true")
        # How soon a query with nothing new to read says so (QueryIdleEvent; Spark's default is
        # 10 s): ProgressLogger logs query_idle once after a batch, what tests and operators wait on.
        .config("spark.sql.streaming.noDataProgressEventInterval", "1000")
        # The throughput collector: on 2 cores G1's concurrent work competed with the job's own
        # (a 400,000-row backfill took 47 s with G1, 44.5 s with this). Less inlining by the
        # optimizing JIT: compiling Spark's code and the generated code took a core for most of
        # a short job (18 of its 44 CPU-seconds); with FreqInlineSize=100 (default 325) the same
        # backfill ran in 37.8 s instead of 39.5.
        .config(
            "spark.driver.extraJavaOptions",
            " ".join(
                filter(
                    None,
                    (
                        "-XX:+UseParallelGC -XX:FreqInlineSize=100",
                        class_archive_options(),
                        java_options,
                        os.environ.get(JAVA_OPTIONS_ENV, "").strip(),
                    ),
                )
            ),
        )
    )
    for key, value in SQL_SETTINGS.items():
        builder = builder.config(key, value)
    spark = _without_start_up_noise(builder.getOrCreate)
    spark.sparkContext.setLogLevel(log_level())
    return spark


@contextmanager
def command_session(app_name: str) -> Iterator[SparkSession]:
    """The session of a command that needs Spark for a moment (``quality check``, ``lint``,
    ``recommend``): a new local one, stopped at the end; or, in a process that already runs one
    (the tests' shared session), that one, borrowed and left running."""
    active = SparkSession.getActiveSession()
    if active is not None:
        yield active
        return
    spark = local_session(app_name)
    try:
        yield spark
    finally:
        spark.stop()


class ProgressLogger(StreamingQueryListener):
    """Logs Spark's own timings of each micro-batch (offsets, planning, the batch, the logs),
    so the time around the pipeline's steps shows too."""

    def __init__(self, log) -> None:  # a structlog logger
        self._log = log
        self._idle = True  # logged once per stretch without data, after a batch that had some

    def onQueryStarted(self, event) -> None:  # Spark's API
        pass

    def onQueryProgress(self, event) -> None:
        progress = event.progress
        if progress.numInputRows:
            self._idle = False
            self._log.info(
                "batch_progress",
                batch_id=progress.batchId,
                rows=progress.numInputRows,
                **{f"{k}_ms": v for k, v in progress.durationMs.items()},
            )

    def onQueryIdle(self, event) -> None:
        # The source found nothing new at a trigger: everything before it is read and committed.
        if not self._idle:
            self._idle = True
            self._log.info("query_idle")

    def onQueryTerminated(self, event) -> None:
        pass


def log_level() -> str:
    """Spark's log level for the jobs: MOVIESTREAM_SPARK_LOG_LEVEL, ERROR by default."""
    return os.environ.get("MOVIESTREAM_SPARK_LOG_LEVEL", "ERROR")


# What the JVM prints as it starts, which tells a user of a moviestream command nothing: the JDK's
# note on the vector module Spark 4 adds, log4j's banner, and Hadoop's native-library warning.
START_UP_NOISE = (
    b"WARNING: Using incubator modules: ",
    b"Using Spark's default log4j profile: ",
    b'Setting default log level to "',
    b"To adjust logging level use sc.setLogLevel(",
    b"NativeCodeLoader: Unable to load native-hadoop library",
)


def _without_start_up_noise(start: Callable[[], SparkSession]) -> SparkSession:
    """Run ``start`` with the JVM it launches writing its stderr through a filter that drops
    START_UP_NOISE lines and passes every other line on (errors, a Python worker's traceback).
    The driver's own stderr is restored as soon as the JVM is up. A JVM already running (a second
    session in one process) is left as it is."""
    if SparkContext._gateway is not None:
        return start()
    read_end, write_end = os.pipe()
    terminal = os.dup(2)
    threading.Thread(target=_forward, args=(read_end, terminal), name="spark-stderr", daemon=True).start()
    os.dup2(write_end, 2)  # inherited by the JVM that start() launches, and by its Python workers
    try:
        return start()
    finally:
        os.dup2(terminal, 2)
        os.close(write_end)


def _forward(read_end: int, terminal: int) -> None:
    """Copy the JVM's stderr to the terminal line by line, without START_UP_NOISE, until it closes."""
    pending = b""
    with os.fdopen(read_end, "rb", buffering=0) as source, os.fdopen(terminal, "wb", buffering=0) as sink:
        while chunk := source.read(65536):
            *lines, pending = (pending + chunk).split(b"\n")
            kept = [line + b"\n" for line in lines if not any(noise in line for noise in START_UP_NOISE)]
            if kept:
                sink.write(b"".join(kept))
        if pending:
            sink.write(pending)
