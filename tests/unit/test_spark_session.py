"""The local entries' Spark session uses every core by default and MOVIESTREAM_SPARK_MASTER when
it is set (a standalone cluster, or any master Spark accepts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from moviestream.core.spark import spark_master

ROOT = Path(__file__).parents[2]


def test_the_master_is_every_core_unless_cores_or_the_environment_say_otherwise(monkeypatch):
    monkeypatch.delenv("MOVIESTREAM_SPARK_MASTER", raising=False)
    assert spark_master() == "local[*]"
    assert spark_master(2) == "local[2]"
    monkeypatch.setenv("MOVIESTREAM_SPARK_MASTER", " spark://host:7077 ")
    assert spark_master() == spark_master(2) == "spark://host:7077"
    monkeypatch.setenv("MOVIESTREAM_SPARK_MASTER", "  ")
    assert spark_master() == "local[*]"


# Run in a subprocess: the test session's own Spark is pinned to two cores.
SCRIPT = """
import json, os
from moviestream.core.spark import local_session

os.environ["MOVIESTREAM_SPARK_MASTER"] = "local[1]"
spark = local_session("cores-test")
print(json.dumps([spark.sparkContext.master, spark.sparkContext.defaultParallelism]))
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
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == ["local[1]", 1]
