"""Train the class-data archive the local Spark JVMs start from (see class_archive_options in
moviestream/core/spark.py for what it saves).

``python -m moviestream.devstack.spark_classes DIR`` makes the archive in DIR once: a JVM runs a small
pipeline workload (judging warm-up batches, Parquet, a streaming query over a Python data source)
and, as it exits, writes every class it loaded into an archive. It is written in a scratch
folder in DIR and renamed into place only after a JVM has mapped it, so a JVM never meets a half-written
one (HotSpot 17 crashes on a truncated archive). Nothing here is needed on AWS: Glue starts its
own JVMs.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from moviestream.core.spark import CLASS_ARCHIVE_ENV, class_archive_name

# How long one training may take before it is given up (48 to 60 s measured on these machines).
TRAINING_TIMEOUT_S = 600


def ensure_archive(directory: Path) -> Path | None:
    """The trained archive in ``directory``, training it first if missing. None (and the JVMs
    start without one) when training fails: it is a speed-up, never a requirement."""
    directory.mkdir(parents=True, exist_ok=True)
    archive = directory / class_archive_name()
    with open(directory / ".training-lock", "w") as lock:
        # Two makes at once: one trains while the other waits, then finds the archive.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if archive.is_file():
            return archive
        started = time.monotonic()
        print(f"training the Spark class-data archive {archive} (once per checkout)", file=sys.stderr)
        with tempfile.TemporaryDirectory(dir=directory, prefix=".training-") as scratch:
            written = Path(scratch) / archive.name
            env = {k: v for k, v in os.environ.items() if k != CLASS_ARCHIVE_ENV}
            try:
                subprocess.run(
                    [sys.executable, "-m", "moviestream.devstack.spark_classes", "--workload", str(written)],
                    env=env,
                    check=True,
                    timeout=TRAINING_TIMEOUT_S,
                    stdout=subprocess.DEVNULL,
                )
                _check_mappable(written)
            except (subprocess.SubprocessError, OSError) as exc:
                print(f"no Spark class-data archive (the JVMs start without one): {exc}", file=sys.stderr)
                return None
            os.replace(written, archive)
        print(f"trained {archive} in {time.monotonic() - started:.0f} s", file=sys.stderr)
        return archive


def _check_mappable(archive: Path) -> None:
    """A JVM maps the archive and exits cleanly (a truncated or foreign one fails here, not in a job)."""
    if not archive.is_file():
        raise OSError(f"the training JVM wrote no archive at {archive}")
    subprocess.run(
        ["java", f"-XX:SharedArchiveFile={archive}", "-Xshare:auto", "-Xlog:cds=off", "-version"],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _workload(archive: Path) -> None:
    """What the local jobs do, small: every class they load lands in the archive when the JVM
    exits. Runs in its own process (the archive is written at the JVM's exit)."""
    from pyspark import SparkContext

    from moviestream.core.spark import local_session

    spark = local_session(
        "moviestream-class-archive", cores=2, java_options=f"-XX:ArchiveClassesAtExit={archive}"
    )
    _judge_and_write(spark)
    _stream(spark)
    spark.stop()
    # The JVM writes the archive as it exits, which it does when its stdin closes: wait for that,
    # so the archive is whole when this process returns.
    gateway = SparkContext._gateway
    assert gateway is not None
    proc = gateway.proc
    gateway.shutdown()
    proc.stdin.close()
    proc.wait(timeout=TRAINING_TIMEOUT_S)


def _judge_and_write(spark) -> None:
    from moviestream.pipeline.batch_pipeline import BatchPipeline
    from moviestream.pipeline.config import PipelineConfig
    from moviestream.quality.dqdl import read_ruleset

    rules = Path(__file__).resolve().parents[1] / "rules" / "movies.dqdl"
    # Judging only: the warehouse and S3 are never reached (the DSN is not dialled).
    config = PipelineConfig("class-archive", read_ruleset(rules), "unused", "postgresql://127.0.0.1:9/unused")
    BatchPipeline(config, lambda: "class-archive").warm_up(spark, rounds=1)
    with tempfile.TemporaryDirectory() as scratch:
        frame = spark.range(1000).selectExpr(
            "id", "cast(id as string) AS title", "to_json(named_struct('id', id)) AS j"
        )
        frame.write.parquet(f"{scratch}/p")
        spark.read.parquet(f"{scratch}/p").selectExpr("from_json(j, 'id BIGINT') AS parsed").toPandas()


def _stream(spark) -> None:
    """One micro-batch through a Python streaming data source and foreachBatch, as the job reads
    Kinesis."""
    from pyspark.sql.datasource import DataSource, SimpleDataSourceStreamReader

    class _Reader(SimpleDataSourceStreamReader):
        def initialOffset(self):
            return {"n": 0}

        def read(self, start):
            if start["n"]:
                return iter(()), start
            return iter([(i, f"row-{i}") for i in range(100)]), {"n": 100}

        def readBetweenOffsets(self, start, end):
            return iter([(i, f"row-{i}") for i in range(start["n"], end["n"])])

    class _Source(DataSource):
        @classmethod
        def name(cls):
            return "moviestream_class_archive"

        def schema(self):
            return "id INT, value STRING"

        def simpleStreamReader(self, schema):
            return _Reader()

    spark.dataSource.register(_Source)
    seen: list[int] = []
    with tempfile.TemporaryDirectory() as scratch:
        query = (
            spark.readStream.format(_Source.name())
            .load()
            .writeStream.option("checkpointLocation", scratch)
            .foreachBatch(lambda frame, batch_id: seen.append(frame.count()))
            .start()
        )
        deadline = time.monotonic() + 120
        while not seen and time.monotonic() < deadline and query.isActive:
            query.awaitTermination(0.2)
        with contextlib.suppress(Exception):
            query.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m moviestream.devstack.spark_classes", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("path", type=Path, help="the folder to keep the archive of this Spark and JDK in")
    parser.add_argument("--workload", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.workload:
        _workload(args.path)
        return 0
    return 0 if ensure_archive(args.path) else 1


if __name__ == "__main__":
    sys.exit(main())
