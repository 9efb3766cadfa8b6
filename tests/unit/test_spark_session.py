"""The local entries' Spark session uses every core by default and MOVIESTREAM_SPARK_MASTER when
it is set (a standalone cluster, or any master Spark accepts). Run in a subprocess: the test
session's own Spark is pinned to two cores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]

SCRIPT = """
import json, os
from moviestream.core.spark import local_session
seen = []
for master in ("", "local[1]"):
    if master:
        os.environ["MOVIESTREAM_SPARK_MASTER"] = master
    spark = local_session("cores-test")
    seen.append([spark.sparkContext.master, spark.sparkContext.defaultParallelism])
    spark.stop()
print(json.dumps(seen))
"""


def test_all_cores_by_default_and_the_master_the_environment_names():
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
    default, configured = json.loads(proc.stdout.strip().splitlines()[-1])
    assert default == ["local[*]", os.cpu_count()]
    assert configured == ["local[1]", 1]
