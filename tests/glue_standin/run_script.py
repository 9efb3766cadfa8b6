"""Runs a Glue job script as Glue's launcher does: the runtime's ``awsglue`` is imported before
the script, so nothing the script imports can put another ``awsglue`` ahead of it (aws_kinesis_agg,
for one, moves site-packages to the front of sys.path when imported).

    python tests/glue_standin/run_script.py SCRIPT.py --JOB_NAME x --other value ...
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import awsglue  # noqa: F401 - the stand-in, first

script = sys.argv[1]
sys.argv = sys.argv[1:]  # the script sees itself as argv[0], as on Glue
runpy.run_path(script, run_name="__main__")
