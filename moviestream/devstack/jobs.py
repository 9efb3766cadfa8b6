"""Run the local streaming job as a child process and watch its progress in the ledger.

Shared by the demo, the integration tests and the streaming benchmark.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg


@dataclass(frozen=True)
class LedgerTotals:
    records_in: int
    good: int
    bad: int
    duplicates: int
    batches: int


def ledger_totals(dsn: str, job_name: str, stream_id: str | None = None) -> LedgerTotals:
    """Sums over the ledger rows of one job (and one stream id, when given)."""
    query = (
        "SELECT COALESCE(SUM(records_in), 0), COALESCE(SUM(good_records), 0),"
        " COALESCE(SUM(bad_records), 0), COALESCE(SUM(duplicates_dropped), 0), COUNT(*)"
        " FROM movies.batch_ledger WHERE job_name = %s"
    )
    params: tuple = (job_name,)
    if stream_id is not None:
        query += " AND stream_id = %s"
        params += (stream_id,)
    with psycopg.connect(dsn) as conn:
        row = conn.execute(query, params).fetchone()
    assert row is not None  # an aggregate has one row
    return LedgerTotals(*(int(v) for v in row))


def start_local_job(args: list[str], log_path: Path, env: dict[str, str]) -> subprocess.Popen:
    """``moviestream job ARGS`` in its own process group (Spark's JVM is in
    it too, so stop_job can end both), output to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "moviestream", "job", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def wait_for_status(proc: subprocess.Popen, status_file: Path, timeout_s: float = 180.0) -> str:
    """The stream id the job writes once its query runs; RuntimeError if it exits or times out."""
    deadline = time.monotonic() + timeout_s
    while not status_file.exists():
        if proc.poll() is not None:
            raise RuntimeError(f"the streaming job exited with code {proc.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the streaming job did not start within {timeout_s:.0f} s")
        time.sleep(0.2)
    return json.loads(status_file.read_text())["stream_id"]


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the job's whole process group (Python driver and JVM) and reap it."""
    with contextlib.suppress(ProcessLookupError):  # already gone
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def stop_job(proc: subprocess.Popen, timeout_s: float = 60.0) -> int | None:
    """SIGTERM (the job finishes its batch in flight), SIGKILL after ``timeout_s``. Returns the
    exit code, or None if it had to be killed. The process group is always cleaned up."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            return None
    code = proc.returncode
    kill_group(proc)  # anything left in the group (a JVM slow to notice its parent is gone)
    return code
