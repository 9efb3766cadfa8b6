"""The one way the tests wait: for something observable to become true, with a deadline.

No test sleeps a fixed time and then asserts: it polls ``predicate`` until it returns something
truthy (which ``wait_for`` returns), and fails with ``what`` if the deadline passes first. The
poll interval only bounds how soon a change is seen; it never decides an outcome.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def wait_for[T](predicate: Callable[[], T], deadline_s: float, what: str, interval_s: float = 0.2) -> T:
    """``predicate()``'s first truthy value, polled every ``interval_s`` for at most ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {deadline_s:g} s: {what}")
        time.sleep(interval_s)


def running(proc: subprocess.Popen, log: Path | None = None) -> bool:
    """True while ``proc`` runs; a process that ended fails the wait at once, naming its log."""
    assert proc.poll() is None, f"the process exited with {proc.returncode}" + (f", see {log}" if log else "")
    return True
