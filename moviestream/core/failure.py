"""The failure policy of the per-batch pipeline: which errors are worth waiting out, and how.

Pure logic (no I/O of its own): the pipeline hands each step that talks to the outside world
(the ledger check, the S3 writes, the warehouse transaction) to ``Retrier.run``.

- **Transient** errors (a refused, reset or timed-out connection, throttling, a 5xx from an AWS
  service, a warehouse that is starting, shutting down or unreachable) are retried with
  exponential backoff and full jitter, for as long as it takes: every step is idempotent (the
  ledger skips a committed batch, S3 keys are deterministic per batch), so a retry never
  duplicates anything, and the batch keeps its place in the stream meanwhile.
  Past ``degraded_after_s`` of one outage the pipeline is *degraded*: ``on_degraded`` is called
  once (the pipeline logs and alerts); when a step succeeds again ``on_recovered`` is called once.
  Past ``give_up_after_s`` (None: never) ``GaveUp`` ends the job with one line.
- **Permanent** errors (an SQL error, permission denied, a missing table, bucket or stream,
  anything not known to be transient) raise ``PermanentFailure`` at once, naming the step.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

# AWS error codes that mean "try again": throttling and the service's own trouble.
TRANSIENT_AWS_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "LimitExceededException",  # Kinesis: too many GetShardIterator / ListShards calls
        "SlowDown",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "KMSInternalException",
        "EC2ThrottledException",
    }
)
# PostgreSQL SQLSTATE classes and codes that mean the server, not the statement, is the problem.
TRANSIENT_SQLSTATE_CLASSES = ("08",)  # connection exception
TRANSIENT_SQLSTATES = frozenset(
    {
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, recovering)
        "53300",  # too_many_connections
        "40001",  # serialization_failure (Redshift's concurrent-write conflict too)
        "40P01",  # deadlock_detected
    }
)
# Words of connection-level failures, for drivers that give no code (redshift_connector, a
# psycopg error raised before any SQLSTATE arrives).
TRANSIENT_WORDS = (
    "connection refused",
    "connection reset",
    "connection timed out",
    "timed out",
    "timeout expired",
    "server closed the connection",
    "terminating connection",
    "the database system is starting up",
    "the database system is shutting down",
    "could not connect",
    "no route to host",
    "broken pipe",
    "connection is closed",
    "network is unreachable",
    "communication error",  # redshift_connector's socket failures
    # Redshift Serverless past a usage limit whose action is deactivate: queries are off until
    # the period resets (00:00 UTC for a daily limit), so the job waits, degraded, as for any
    # warehouse outage. The exact text is not documented; terraform/README.md says how to check.
    "usage limit",
)


def is_transient(exc: BaseException) -> bool:
    """Whether waiting and trying again can make this error go away."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # the error and what caused it
        seen.add(id(current))
        if _transient_one(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _transient_one(exc: BaseException) -> bool:
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    name = type(exc).__name__
    if type(exc).__module__.startswith(("botocore", "urllib3")):
        response = getattr(exc, "response", None)
        if isinstance(response, dict):  # a ClientError: the service answered
            error = response.get("Error", {})
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            return error.get("Code") in TRANSIENT_AWS_CODES or status >= 500 or status == 429
        # No answer at all: EndpointConnectionError, ProxyConnectionError, ConnectTimeoutError,
        # ReadTimeoutError, ConnectionClosedError, urllib3's NewConnectionError, ...
        return name.endswith(("ConnectionError", "TimeoutError", "ConnectionClosedError"))
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate:
        return sqlstate.startswith(TRANSIENT_SQLSTATE_CLASSES) or sqlstate in TRANSIENT_SQLSTATES
    if name in ("WarehouseUnavailable", "OperationalError", "InterfaceError"):
        # No code: judged by the words (a refused connection is transient, a wrong password not).
        text = str(exc).lower()
        return any(word in text for word in TRANSIENT_WORDS)
    return False


def one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


class PermanentFailure(RuntimeError):
    """A step failed with an error that waiting will not fix."""

    def __init__(self, step: str, cause: BaseException) -> None:
        super().__init__(f"{step} failed: {one_line(cause)}")
        self.step = step


class GaveUp(RuntimeError):
    """An outage lasted longer than the give-up time."""

    def __init__(self, step: str, seconds: float, cause: BaseException) -> None:
        super().__init__(f"{step} still failing after {seconds:.0f} s, giving up: {one_line(cause)}")
        self.step = step


@dataclass(frozen=True)
class FailurePolicy:
    degraded_after_s: float = 60.0
    give_up_after_s: float | None = None  # None: never
    base_delay_s: float = 0.5
    max_delay_s: float = 15.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform between 0 and the capped exponential step."""
        return rng.uniform(0, min(self.max_delay_s, self.base_delay_s * 2**attempt))


@dataclass
class Retrier:
    """Runs steps under the policy. Outages are per dependency (the warehouse, S3, Kinesis): one
    outage of a dependency spans every step that uses it (the ledger check and the warehouse
    transaction, say) until one of them succeeds, and is degraded and recovered once."""

    policy: FailurePolicy = field(default_factory=FailurePolicy)
    on_degraded: Callable[[str, float, BaseException], None] = lambda *_: None
    on_recovered: Callable[[str, float], None] = lambda *_: None
    on_retry: Callable[[str, int, float, BaseException], None] = lambda *_: None
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Any] = time.sleep
    rng: random.Random = field(default_factory=random.Random)
    outages: dict[str, float] = field(default_factory=dict)  # dependency -> when its outage began
    degraded: set[str] = field(default_factory=set)
    retries: int = 0  # every retry of this retrier, for the run's counters
    # Steps may run on several threads at once (the backfill commits one chunk while it prepares
    # the next; the Kinesis source polls on its own): the outages change under this lock, the
    # steps themselves run outside it.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def outage_seconds(self) -> float:
        """How long the oldest current outage has lasted (0 when there is none)."""
        with self._lock:
            started = min(self.outages.values(), default=None)
        return 0.0 if started is None else self.clock() - started

    def _failed(self, step: str, dependency: str, exc: BaseException, give_up: bool) -> None:
        with self._lock:
            now = self.clock()
            started = self.outages.setdefault(dependency, now)
            elapsed = now - started
            limit = self.policy.give_up_after_s
            if give_up and limit is not None and elapsed >= limit:
                raise GaveUp(step, elapsed, exc) from exc
            newly_degraded = dependency not in self.degraded and elapsed >= self.policy.degraded_after_s
            if newly_degraded:
                self.degraded.add(dependency)
        if newly_degraded:
            self.on_degraded(step, elapsed, exc)

    def _succeeded(self, step: str, dependency: str) -> None:
        with self._lock:
            started = self.outages.pop(dependency, None)
            if started is None:
                return
            recovered = dependency in self.degraded
            self.degraded.discard(dependency)
            elapsed = self.clock() - started
        if recovered:
            self.on_recovered(step, elapsed)

    def observe(self, step: str, exc: BaseException | None = None, dependency: str | None = None) -> None:
        """The outcome of a step that retries by itself (the Kinesis source's polling loop): a
        transient failure counts toward its dependency's outage (degraded, never giving up), a
        success ends it."""
        if exc is None:
            self._succeeded(step, dependency or step)
        elif is_transient(exc):
            self._failed(step, dependency or step, exc, give_up=False)

    def run(self, step: str, fn: Callable[[], T], dependency: str | None = None) -> T:
        """``fn()`` until it succeeds or fails permanently; ``dependency`` (default: the step)
        names what it talks to, whose outage it shares with other steps."""
        dependency = dependency or step
        attempt = 0
        while True:
            try:
                result = fn()
            except Exception as exc:  # classified below; nothing is swallowed
                if not is_transient(exc):
                    raise PermanentFailure(step, exc) from exc
                self._failed(step, dependency, exc, give_up=True)
                with self._lock:
                    self.retries += 1
                delay = self.policy.delay(attempt, self.rng)
                self.on_retry(step, attempt + 1, delay, exc)
                self.sleep(delay)
                attempt += 1
                continue
            self._succeeded(step, dependency)
            return result


# The retrier of this process's pipeline, for steps that run elsewhere in the process (the local
# Kinesis source's prefetch thread), so their outages are reported the same way.
_watching: Retrier | None = None


def watch(retrier: Retrier | None) -> None:
    global _watching
    _watching = retrier


def report(step: str, exc: BaseException | None = None, dependency: str | None = None) -> None:
    """Tell the watched retrier, if any, how a step that retries by itself went."""
    retrier = _watching
    if retrier is not None:
        retrier.observe(step, exc, dependency)


def policy_from(degraded_after_s: float, give_up_after_s: float) -> FailurePolicy:
    """The policy of the command-line and job arguments: a give-up time of 0 means never."""
    if degraded_after_s < 0 or give_up_after_s < 0:
        raise ValueError("the degraded and give-up times must not be negative")
    return FailurePolicy(degraded_after_s=degraded_after_s, give_up_after_s=give_up_after_s or None)


def root_cause(message: str) -> str:
    """The most specific 'SomethingError: ...' line of a Spark/py4j error text."""
    causes = [
        line.strip() for line in message.splitlines() if re.match(r"^\s*[\w.]+(Error|Exception): ", line)
    ]
    return causes[-1] if causes else (message.strip().splitlines() or [""])[0]
