"""PySpark's worker daemon, with coverage measured in the workers it forks (make test).

Alone in its folder, which tests/conftest.py puts on Spark's Python workers' path
(spark.executorEnv.PYTHONPATH): importable wherever a test runs Spark from.

Spark starts `spark.python.daemon.module` (conftest names this one when coverage runs) and asks it
for a worker per Python task; the daemon forks one and reuses it for later tasks. Coverage is
*not* running in the daemon itself: the daemon has threads when it forks, and a child forked while
another thread held one of coverage's locks deadlocked (a demo batch that never finished). So the
daemon stays unmeasured, and each forked worker, single-threaded from its first instruction,
starts a coverage of its own from the configuration the tests' process handed down
(COVERAGE_SPARK_WORKERS, coverage's serialized settings, with an absolute data file).

A worker ends by SIGKILL or SIGHUP when Spark retires it, which runs no exit handler, so the
worker saves its data after every task instead.
"""

from __future__ import annotations

import os

from pyspark import daemon

CONFIG_VARIABLE = "COVERAGE_SPARK_WORKERS"


def _measure_this_worker() -> None:
    import coverage
    from coverage.control import CONFIG_DATA_PREFIX

    measured = coverage.Coverage(
        config_file=CONFIG_DATA_PREFIX + os.environ[CONFIG_VARIABLE], data_suffix=True
    )
    measured.start()
    run_task = daemon.worker

    def run_and_save(sock, authenticated):  # the daemon calls it once per task
        try:
            return run_task(sock, authenticated)
        finally:
            measured.save()

    daemon.worker = run_and_save


if __name__ == "__main__":
    if os.environ.get(CONFIG_VARIABLE):
        os.register_at_fork(after_in_child=_measure_this_worker)
    daemon.manager()
