"""The local entries' Spark session uses every core by default and MOVIESTREAM_SPARK_MASTER when
it is set (a standalone cluster, or any master Spark accepts), and maps the class-data archive
make trains."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from moviestream.core.spark import class_archive_name, class_archive_options, spark_master

ROOT = Path(__file__).parents[2]


def test_the_master_is_every_core_unless_cores_or_the_environment_say_otherwise(monkeypatch):
    monkeypatch.delenv("MOVIESTREAM_SPARK_MASTER", raising=False)
    assert spark_master() == "local[*]"
    assert spark_master(2) == "local[2]"
    monkeypatch.setenv("MOVIESTREAM_SPARK_MASTER", " spark://host:7077 ")
    assert spark_master() == spark_master(2) == "spark://host:7077"
    monkeypatch.setenv("MOVIESTREAM_SPARK_MASTER", "  ")
    assert spark_master() == "local[*]"


def test_the_class_archive_is_mapped_only_when_its_folder_has_one(monkeypatch, tmp_path):
    monkeypatch.delenv("MOVIESTREAM_SPARK_CLASS_ARCHIVE_DIR", raising=False)
    assert class_archive_options() == ""
    monkeypatch.setenv("MOVIESTREAM_SPARK_CLASS_ARCHIVE_DIR", str(tmp_path))
    assert class_archive_options() == ""  # not trained yet: the JVM starts as it always did
    (tmp_path / class_archive_name()).write_bytes(b"archive")
    assert class_archive_options() == (
        f"-XX:SharedArchiveFile={tmp_path / class_archive_name()} -Xshare:auto -Xlog:cds=off -Xlog:cds+dynamic=off"
    )
    spaced = tmp_path / "a folder"
    spaced.mkdir()
    (spaced / class_archive_name()).write_bytes(b"archive")
    monkeypatch.setenv("MOVIESTREAM_SPARK_CLASS_ARCHIVE_DIR", str(spaced))
    assert class_archive_options().startswith(f'-XX:SharedArchiveFile="{spaced / class_archive_name()}" ')


def test_the_archive_is_named_by_the_spark_version_and_the_jdk(monkeypatch, tmp_path):
    import pyspark

    jdk = tmp_path / "jdk-17-test"
    (jdk / "bin").mkdir(parents=True)
    (jdk / "bin" / "java").write_text("#!/bin/sh\n")
    (jdk / "bin" / "java").chmod(0o755)
    monkeypatch.setenv("JAVA_HOME", str(jdk))
    assert class_archive_name() == f"spark-{pyspark.__version__}-jdk-17-test.jsa"


# Run in a subprocess: the test session's own Spark is pinned to two cores.
SCRIPT = """
import json, os
from moviestream.core.spark import local_session

os.environ["MOVIESTREAM_SPARK_MASTER"] = "local[1]"
spark = local_session("cores-test")
jvm_args = spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
archived = any(str(a).startswith("-XX:SharedArchiveFile=") for a in jvm_args)
print(json.dumps([spark.sparkContext.master, spark.sparkContext.defaultParallelism, archived]))
spark.stop()
"""


@pytest.mark.spark
def test_a_session_runs_on_the_master_the_environment_names():
    env = {k: v for k, v in os.environ.items() if k != "MOVIESTREAM_SPARK_MASTER"}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    # The JVM maps the checkout's class archive when make has trained one (make test has).
    trained = bool(class_archive_options())
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == ["local[1]", 1, trained]


@pytest.mark.spark
def test_the_local_session_runs_with_the_pipelines_sql_settings_and_no_adaptive_execution(spark):
    # Literal values: a setting dropped from SQL_SETTINGS or from the session fails here.
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.conf.get("spark.sql.codegen.hugeMethodLimit") == "8000"
    assert spark.conf.get("spark.sql.inMemoryColumnarStorage.compressed") == "false"
    assert spark.conf.get("spark.sql.adaptive.enabled") == "false"
