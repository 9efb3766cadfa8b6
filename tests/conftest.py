"""Shared fixtures and the test tiers.

Tiers (markers; `make test` runs all four, `make test-unit` the first):
- unit: pure Python, no JVM, no subprocess, no network. Unmarked tests are unit tests, and a
  guard makes one that starts a process, a JVM or a network connection fail;
- spark: uses the one shared local SparkSession (the `spark` fixture marks a test spark);
- tools: runs other programs: terraform, checkov, asl-validator, sqlfluff's grammar, the
  `moviestream` command as a subprocess, worker processes;
- integration: the local stack (LocalStack, PostgreSQL), started once per test session.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
from pathlib import Path

import pytest
from hypothesis import settings

# Every run draws the same examples (no database, no randomness): a failure reproduces, and a
# pass means the same thing on every machine. No deadline: how long an example takes is not what
# a test asserts (a loaded machine, coverage or mutmut's tracing made one "flaky").
# The settings of a test file inherit this.
settings.register_profile("moviestream", derandomize=True, database=None, deadline=None)
settings.load_profile("moviestream")

TIERS = ("spark", "tools", "integration")

# The Spark JVMs the tests start (the shared session, every job they run) map the checkout's
# class-data archive when `make` has trained one (moviestream/devstack/spark_classes.py).
os.environ.setdefault(
    "MOVIESTREAM_SPARK_CLASS_ARCHIVE_DIR", str(Path(__file__).parents[1] / ".local" / "spark-classes")
)

# Every JVM the tests start (the shared session, each job and backfill they run) lives seconds
# to minutes: the client compiler alone (no C2) spends less CPU compiling than C2 wins back in
# so short a life, and on two cores that CPU came out of the other worker's tests. Measured on
# the stream benchmark's tiny run (two job starts): 48.7 s instead of 54.8.
os.environ.setdefault("MOVIESTREAM_SPARK_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1")

if os.environ.get("COVERAGE_PROCESS_CONFIG"):
    # Measured (make test): Spark's Python workers are measured by tests/coverage_hook/moviestream_coverage_daemon.py, which
    # starts coverage in each worker after the daemon forks it; the daemon itself runs unmeasured
    # (coverage in a daemon that forks while threaded deadlocked a worker). Every session the tests
    # start, in this process or in a job they run, launches its JVM with this.
    # The daemon's folder holds that one module and goes on the workers' path only: a test that
    # runs packaged code from another directory (the Glue entries) still finds it.
    os.environ["COVERAGE_SPARK_WORKERS"] = os.environ["COVERAGE_PROCESS_CONFIG"]
    hook = Path(__file__).parent / "coverage_hook"
    os.environ.setdefault(
        "PYSPARK_SUBMIT_ARGS",
        "--conf spark.executorEnv.COVERAGE_PROCESS_CONFIG= "
        f"--conf spark.executorEnv.PYTHONPATH={shlex.quote(str(hook))} "
        "--conf spark.python.daemon.module=moviestream_coverage_daemon pyspark-shell",
    )


class TierViolation(AssertionError):
    """A unit test reached for what only another tier may use."""


@pytest.fixture(scope="session")
def spark():
    from moviestream.core.spark import local_session

    session = local_session("moviestream-tests", cores=2)
    yield session
    session.stop()


# Session fixtures that more than one test file uses: their tests run on one worker (make test
# runs two, `--dist loadgroup`), so the job run they share is made once.
SHARED_RUNS = frozenset({"reference", "loaded_stream"})


# tryfirst: xdist's worker turns the xdist_group marks into node ids in its own hook of the same
# name, so they must be set before it runs (without it every test was its own group, and a module's
# fixtures, the demos and the reference run among them, were made on both workers).
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if "spark" in fixtures:
            item.add_marker(pytest.mark.spark)
        # A test file's tests stay on one worker (module fixtures are made once); each worker has
        # its own stack and Spark session.
        group = "streaming-runs" if fixtures & SHARED_RUNS else item.module.__name__
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(autouse=True)
def unit_tier_guard(request, monkeypatch):
    """In the unit tier, starting a process (a JVM is one), forking workers or opening a network
    connection fails the test, naming the tier it belongs in."""
    if any(request.node.get_closest_marker(tier) for tier in TIERS):
        yield
        return

    def refuse(what: str):
        def refused(*args, **kwargs):
            raise TierViolation(f"a unit test {what}: mark it spark, tools or integration")

        return refused

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse("started a process"))
    monkeypatch.setattr("os.fork", refuse("forked"))
    monkeypatch.setattr("multiprocessing.process.BaseProcess.start", refuse("started a worker process"))
    real_connect = socket.socket.connect

    def connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            raise TierViolation(f"a unit test connected to {address}: mark it integration")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield
