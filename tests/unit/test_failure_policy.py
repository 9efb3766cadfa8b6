"""The pipeline's failure policy (moviestream/core/failure.py): which errors are transient, the
backoff, degraded once and recovered once per outage, giving up, and permanent errors at once."""

from __future__ import annotations

import random

import psycopg
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from moviestream.core.failure import FailurePolicy, GaveUp, PermanentFailure, Retrier, is_transient
from moviestream.warehouse.contract import WarehouseUnavailable


def client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject"
    )


def sql_error(sqlstate: str) -> psycopg.Error:
    cls = psycopg.errors.lookup(sqlstate)
    return cls("from the server")


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connection refused"),
        TimeoutError("timed out"),
        EndpointConnectionError(endpoint_url="http://127.0.0.1:9"),
        ReadTimeoutError(endpoint_url="http://127.0.0.1:9"),
        client_error("ProvisionedThroughputExceededException"),
        client_error("SlowDown", 503),
        client_error("Anything", 500),
        client_error("TooManyRequestsException", 429),
        psycopg.OperationalError(
            'connection failed: connection to server at "127.0.0.1", port 5433 failed: Connection refused'
        ),
        psycopg.OperationalError("server closed the connection unexpectedly"),
        sql_error("57P01"),  # admin_shutdown: the server is being stopped
        sql_error("57P03"),  # cannot_connect_now: starting up
        sql_error("08006"),
        WarehouseUnavailable("cannot connect to the warehouse (h:5433/db): Connection refused"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_transient_errors(exc):
    assert is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        client_error("AccessDenied", 403),
        client_error("NoSuchBucket", 404),
        client_error("ResourceNotFoundException", 400),
        sql_error("42P01"),  # undefined_table
        sql_error("42703"),  # undefined_column
        sql_error("42501"),  # insufficient_privilege
        sql_error("22001"),  # string_data_right_truncation
        psycopg.OperationalError('password authentication failed for user "postgres"'),
        WarehouseUnavailable('cannot connect to the warehouse (h:5433/db): database "nope" does not exist'),
        ValueError("a bug"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_permanent_errors(exc):
    assert not is_transient(exc)


def test_a_transient_cause_makes_the_error_transient():
    try:
        try:
            raise ConnectionResetError("reset")
        except ConnectionResetError as inner:
            raise RuntimeError("load failed") from inner
    except RuntimeError as outer:
        assert is_transient(outer)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def failing(times: int, exc: Exception, clock: Clock, seconds_each: float = 0.0):
    calls = {"n": 0}

    def step() -> str:
        calls["n"] += 1
        clock.now += seconds_each
        if calls["n"] <= times:
            raise exc
        return "done"

    return step, calls


def test_an_outage_is_degraded_once_and_recovered_once_and_the_step_completes():
    clock, events = Clock(), []
    retrier = Retrier(
        FailurePolicy(degraded_after_s=5, base_delay_s=1, max_delay_s=4),
        on_degraded=lambda step, s, e: events.append(("degraded", step)),
        on_recovered=lambda step, s: events.append(("recovered", step, s)),
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(1),
    )
    step, calls = failing(12, ConnectionRefusedError("refused"), clock, seconds_each=1)
    assert retrier.run("warehouse", step) == "done"
    assert calls["n"] == 13 and retrier.retries == 12
    assert [e[0] for e in events] == ["degraded", "recovered"]
    assert events[1][2] == pytest.approx(clock.now - 1)  # measured from the first failure
    assert all(0 <= s <= 4 for s in clock.slept) and max(clock.slept) > 1  # jittered, capped


def test_a_short_outage_is_not_degraded_and_state_resets_between_outages():
    clock, events = Clock(), []
    retrier = Retrier(
        FailurePolicy(degraded_after_s=60),
        on_degraded=lambda *a: events.append("degraded"),
        on_recovered=lambda *a: events.append("recovered"),
        clock=clock,
        sleep=clock.sleep,
    )
    step, _ = failing(3, TimeoutError("timed out"), clock)
    retrier.run("s3", step)
    assert events == [] and retrier.outages == {} and not retrier.degraded


def recording_retrier(clock: Clock, events: list) -> Retrier:
    """Degraded after 3 s, 1-s retries, on ``clock``; records (degraded|recovered, step)."""
    return Retrier(
        FailurePolicy(degraded_after_s=3, base_delay_s=1, max_delay_s=1),
        on_degraded=lambda step, *a: events.append(("degraded", step)),
        on_recovered=lambda step, *a: events.append(("recovered", step)),
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(0),
    )


def test_one_outage_spans_steps():
    """The S3 write fails, then the warehouse: one outage, degraded once."""
    clock, events = Clock(), []
    retrier = recording_retrier(clock, events)
    s3, _ = failing(2, ConnectionRefusedError(), clock, seconds_each=1)
    retrier.run("s3", s3)
    assert events == []  # recovered before it was degraded
    warehouse, _ = failing(10, ConnectionRefusedError(), clock, seconds_each=1)
    retrier.run("warehouse", warehouse)
    assert events == [("degraded", "warehouse"), ("recovered", "warehouse")]


def test_giving_up_is_one_line_naming_the_step():
    clock = Clock()
    retrier = Retrier(
        FailurePolicy(give_up_after_s=10, base_delay_s=1, max_delay_s=2), clock=clock, sleep=clock.sleep
    )
    step, _ = failing(10_000, ConnectionRefusedError("Connection refused"), clock, seconds_each=1)
    with pytest.raises(
        GaveUp, match=r"^warehouse still failing after 1\d s, giving up: ConnectionRefusedError"
    ):
        retrier.run("warehouse", step)


def test_a_permanent_error_fails_at_once():
    clock = Clock()
    retrier = Retrier(clock=clock, sleep=clock.sleep)
    step, calls = failing(1, sql_error("42P01"), clock)
    with pytest.raises(PermanentFailure, match="^warehouse failed: UndefinedTable: from the server$"):
        retrier.run("warehouse", step)
    assert calls["n"] == 1 and clock.slept == []


def test_steps_of_one_dependency_share_an_outage_and_dependencies_are_apart():
    clock, events = Clock(), []
    retrier = recording_retrier(clock, events)
    # The Kinesis poller fails on its own thread meanwhile: its outage is its own.
    retrier.observe("kinesis poll", ConnectionRefusedError(), "kinesis")
    check, _ = failing(2, ConnectionRefusedError(), clock, seconds_each=1)
    retrier.run("ledger check", check, "warehouse")
    load, _ = failing(6, ConnectionRefusedError(), clock, seconds_each=1)
    retrier.run("warehouse", load, "warehouse")  # a new outage: the ledger check ended the last one
    assert events == [("degraded", "warehouse"), ("recovered", "warehouse")]
    assert retrier.outages.keys() == {"kinesis"} and retrier.outage_seconds() > 3
    retrier.observe("kinesis poll", ConnectionRefusedError(), "kinesis")  # past 3 s: degraded
    retrier.observe("kinesis poll", None, "kinesis")
    assert events[2:] == [("degraded", "kinesis poll"), ("recovered", "kinesis poll")]
    retrier.observe("kinesis poll", ValueError("not transient"), "kinesis")  # ignored
    assert retrier.outages == {}


def test_a_watched_retrier_hears_reports_from_elsewhere_in_the_process():
    from moviestream.core import failure

    retrier = Retrier()
    failure.watch(retrier)
    try:
        failure.report("kinesis poll", TimeoutError("timed out"), "kinesis")
        assert "kinesis" in retrier.outages
        failure.report("kinesis poll", None, "kinesis")
        assert retrier.outages == {}
    finally:
        failure.watch(None)
    failure.report("kinesis poll", TimeoutError())  # nobody watching: nothing happens
