"""The pipeline's failure policy (moviestream/core/failure.py): which errors are transient, the
backoff, degraded once and recovered once per outage, giving up, and permanent errors at once."""

from __future__ import annotations

import random

import botocore.exceptions
import psycopg
import pytest
import urllib3.exceptions
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from moviestream.core.failure import (
    FailurePolicy,
    GaveUp,
    PermanentFailure,
    Retrier,
    is_transient,
    one_line,
    policy_from,
    report,
    watch,
)
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


# -- the contract in exact values --------------------------------------------------------------


def aws_answer(response: dict) -> ClientError:
    return ClientError(response, "PutObject")


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (aws_answer({"Error": {"Code": "SlowDown"}}), True),  # no status at all
        (aws_answer({"ResponseMetadata": {"HTTPStatusCode": 503}}), True),  # no error code at all
        (aws_answer({"ResponseMetadata": {"HTTPStatusCode": 429}}), True),
        (aws_answer({"ResponseMetadata": {"HTTPStatusCode": 500}}), True),
        (aws_answer({"ResponseMetadata": {"HTTPStatusCode": 499}}), False),
        (aws_answer({"ResponseMetadata": {"HTTPStatusCode": 430}}), False),
        (aws_answer({}), False),
        (urllib3.exceptions.NewConnectionError(None, "refused"), True),
        (urllib3.exceptions.ReadTimeoutError(None, "/", "read timed out"), True),
        (urllib3.exceptions.DecodeError("bad gzip"), False),
        (botocore.exceptions.ConnectionClosedError(endpoint_url="http://x"), True),
        (botocore.exceptions.ProxyConnectionError(proxy_url="http://p"), True),
        (botocore.exceptions.NoCredentialsError(), False),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_aws_errors_are_transient_by_their_code_status_or_class(exc, transient):
    assert is_transient(exc) is transient


class InterfaceError(Exception):
    """A driver's error with no SQLSTATE, judged by its words."""


class OperationalError(Exception):
    sqlstate = ""  # a driver that sets an empty code: the words decide


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (InterfaceError("connection is closed"), True),
        (InterfaceError("bad parameter"), False),
        (OperationalError("could not connect to server"), True),
        (OperationalError("password authentication failed"), False),
        # Redshift Serverless past a deactivating usage limit: wait for the reset (issue 29).
        (InterfaceError("Query cancelled: the workgroup reached its Usage Limit"), True),
    ],
)
def test_errors_without_a_code_are_judged_by_their_words(exc, transient):
    assert is_transient(exc) is transient


def test_the_cause_alone_makes_an_error_transient_and_a_cycle_of_causes_ends():
    only_cause = RuntimeError("wrapped")
    only_cause.__cause__ = ConnectionResetError()
    assert only_cause.__context__ is None and is_transient(only_cause)
    a, b = ValueError("a"), ValueError("b")
    a.__context__, b.__context__ = b, a  # a cycle: walked once, then it stops
    assert is_transient(a) is False


def test_one_line_names_the_type_and_the_first_line():
    assert one_line(ValueError()) == "ValueError"
    assert one_line(ValueError("  \n ")) == "ValueError"
    assert one_line(ValueError(" first\nsecond ")) == "ValueError: first"


def test_the_failures_name_their_step_in_one_line():
    permanent = PermanentFailure("s3_write", ValueError("no such bucket\nmore"))
    assert (str(permanent), permanent.step) == ("s3_write failed: ValueError: no such bucket", "s3_write")
    gave_up = GaveUp("warehouse", 61.6, ConnectionRefusedError("refused"))
    assert (str(gave_up), gave_up.step) == (
        "warehouse still failing after 62 s, giving up: ConnectionRefusedError: refused",
        "warehouse",
    )


class Bounds:
    """An rng that returns the bounds it was asked for: the jitter's range, exactly."""

    def uniform(self, low: float, high: float) -> tuple[float, float]:
        return (low, high)


def test_full_jitter_draws_between_zero_and_the_capped_exponential_step():
    policy = FailurePolicy(base_delay_s=0.5, max_delay_s=15.0)
    assert [policy.delay(n, Bounds()) for n in range(7)] == [  # type: ignore[arg-type]
        (0, 0.5), (0, 1.0), (0, 2.0), (0, 4.0), (0, 8.0), (0, 15.0), (0, 15.0)
    ]  # fmt: skip


def test_retries_report_their_step_attempt_delay_and_error_and_back_off_exponentially():
    clock, retries = Clock(), []
    error = ConnectionRefusedError("refused")
    step, _ = failing(3, error, clock)
    seen_outages = []
    retrier = Retrier(
        policy=FailurePolicy(base_delay_s=1.0, max_delay_s=100.0),
        clock=clock,
        sleep=clock.sleep,
        rng=random.Random(0),
        on_retry=lambda *args: (retries.append(args), seen_outages.append(dict(retrier.outages))),
    )
    assert retrier.run("ledger", step) == "done"
    bounds = [1.0, 2.0, 4.0]
    assert [(s, n, e) for s, n, _, e in retries] == [
        ("ledger", 1, error),
        ("ledger", 2, error),
        ("ledger", 3, error),
    ]
    assert all(0 <= d <= b for (_, _, d, _), b in zip(retries, bounds, strict=True))
    assert clock.slept == [d for _, _, d, _ in retries] and retrier.retries == 3
    assert seen_outages == [{"ledger": 0.0}] * 3  # keyed by the step when no dependency is named
    assert retrier.outages == {} and retrier.outage_seconds() == 0.0


def test_a_step_that_succeeds_at_once_leaves_no_outage():
    retrier = Retrier()
    assert retrier.run("s3", lambda: 7) == 7
    assert (retrier.outages, retrier.degraded, retrier.retries) == ({}, set(), 0)


def test_degraded_and_giving_up_happen_exactly_at_their_times():
    clock, degraded = Clock(), []
    retrier = Retrier(
        policy=FailurePolicy(degraded_after_s=10.0, give_up_after_s=20.0, base_delay_s=0.0),
        clock=clock,
        sleep=clock.sleep,
        on_degraded=lambda *args: degraded.append(args),
    )
    error = ConnectionRefusedError("refused")
    for now in (1.0, 10.0):
        clock.now = now
        retrier.observe("poll", error, "kinesis")
    assert degraded == [] and retrier.outage_seconds() == 9.0
    clock.now = 11.0
    retrier.observe("poll", error, "kinesis")
    assert degraded == [("poll", 10.0, error)]
    clock.now = 500.0
    retrier.observe("poll", error, "kinesis")  # observing never gives up
    assert retrier.outages == {"kinesis": 1.0}

    step, _ = failing(100, error, clock, seconds_each=5.0)
    clock.now = 0.0
    with pytest.raises(GaveUp, match=r"^merge still failing after 20 s"):
        Retrier(
            policy=FailurePolicy(give_up_after_s=20.0, base_delay_s=0.0), clock=clock, sleep=clock.sleep
        ).run("merge", step)
    assert clock.now == 25.0  # failures at 5, 10, 15, 20 (elapsed 0, 5, 10, 15) and 25 (elapsed 20)


def test_each_outage_is_degraded_again_after_a_recovery():
    clock, events = Clock(), []
    retrier = Retrier(
        policy=FailurePolicy(degraded_after_s=0.0),
        clock=clock,
        on_degraded=lambda step, *_: events.append(("degraded", step)),
        on_recovered=lambda step, *_: events.append(("recovered", step)),
    )
    error = ConnectionRefusedError("refused")
    for _ in range(2):
        retrier.observe("poll", error)
        retrier.observe("poll")
    assert events == [("degraded", "poll"), ("recovered", "poll")] * 2


def test_a_report_reaches_the_watched_retrier_with_its_step():
    degraded = []
    retrier = Retrier(
        policy=FailurePolicy(degraded_after_s=0.0), on_degraded=lambda *a: degraded.append(a[0])
    )
    watch(retrier)
    try:
        report("prefetch", ConnectionResetError(), "kinesis")
    finally:
        watch(None)
    report("ignored", ConnectionResetError())  # no retrier watched: nothing happens
    assert degraded == ["prefetch"] and set(retrier.outages) == {"kinesis"}


@pytest.mark.parametrize(
    ("degraded", "give_up", "expected"),
    [
        (0, 0, FailurePolicy(degraded_after_s=0, give_up_after_s=None)),
        (5, 30, FailurePolicy(degraded_after_s=5, give_up_after_s=30)),
        (-0.5, 0, None),
        (0, -1, None),
    ],
)
def test_the_policy_of_the_command_line(degraded, give_up, expected):
    if expected is None:
        with pytest.raises(ValueError, match=r"^the degraded and give-up times must not be negative$"):
            policy_from(degraded, give_up)
    else:
        assert policy_from(degraded, give_up) == expected
