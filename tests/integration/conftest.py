"""The real local stack for integration tests: LocalStack + PostgreSQL, started once per test
session on free ports with a private state directory, bootstrapped, and stopped at the end."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import pytest

from moviestream.devstack.stack import REPO_ROOT, StackConfig, down, up

SFN_MOCK_CONFIG_NAME = "sfn-mock-config.json"


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    state = tmp_path_factory.mktemp("stack")
    # Reuse the checkout's LocalStack virtualenv (same lock file) instead of installing it per run.
    os.environ.setdefault("MOVIESTREAM_LOCALSTACK_VENV", str(REPO_ROOT / ".local" / "localstack-venv"))
    # Jobs started by tests: no warm-up rounds (they only tune the first batches' latency, which
    # no test asserts; a round cost about 4 s more per job start than it saved its first batch).
    os.environ.setdefault("MOVIESTREAM_WARM_UP_ROUNDS", "0")
    cfg = StackConfig(
        state_dir=Path(state),
        localstack_port=_free_port(),
        postgres_port=_free_port(),
        start_timeout_s=180,
        # Step Functions' mocked service integrations (the Glue task in test_backfill_state_machine);
        # LocalStack rereads the file when it changes, so tests write it when they need it.
        localstack_env=(("SFN_MOCK_CONFIG", str(Path(state) / SFN_MOCK_CONFIG_NAME)),),
    )
    saved = {k: os.environ.get(k) for k in cfg.env()}
    # A SIGTERM (a CI timeout, a kill) would end pytest without finalizers and leave the stack
    # running: turn it into KeyboardInterrupt, which pytest unwinds through every fixture.
    previous_handler = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        up(cfg)
        os.environ.update(cfg.env())
        from moviestream.core.config import AwsSettings
        from moviestream.devstack.bootstrap import bootstrap

        bootstrap(AwsSettings(), cfg.warehouse_dsn)
        yield cfg
    finally:
        down(cfg)
        signal.signal(signal.SIGTERM, previous_handler)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def faulty_kinesis(tmp_path_factory, stack):
    """A second LocalStack whose PutRecords calls fail with probability 0.3 (KINESIS_ERROR_PROBABILITY).

    Yields its endpoint URL; it has the project's stream. Depends on ``stack`` so that the shared
    LocalStack virtualenv exists first.
    """
    import boto3

    from moviestream.core.config import resource_names
    from moviestream.devstack.stack import LocalStack

    cfg = StackConfig(
        state_dir=Path(tmp_path_factory.mktemp("faulty")),
        localstack_port=_free_port(),
        postgres_port=_free_port(),
        start_timeout_s=180,
        localstack_env=(("KINESIS_ERROR_PROBABILITY", "0.3"),),
    )
    localstack = LocalStack(cfg)
    try:
        localstack.start()
        client = boto3.client(
            "kinesis",
            endpoint_url=cfg.aws_endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
        )
        names = resource_names()
        client.create_stream(StreamName=names["stream_name"], ShardCount=names["stream_shards"])
        client.get_waiter("stream_exists").wait(
            StreamName=names["stream_name"], WaiterConfig={"Delay": 0.5, "MaxAttempts": 60}
        )
        yield cfg.aws_endpoint
    finally:
        localstack.stop()


@pytest.fixture
def stream(stack):
    """A fresh 2-shard stream on the test stack, deleted afterwards: (name, kinesis client)."""
    import uuid

    from moviestream.core.config import AwsSettings

    name = f"test-{uuid.uuid4().hex[:8]}"
    client = AwsSettings().client("kinesis")
    client.create_stream(StreamName=name, ShardCount=2)
    client.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.5, "MaxAttempts": 60})
    yield name, client
    client.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


@pytest.fixture(scope="session")
def loaded_stream(stack, tmp_path_factory):
    """The streaming tests' stream (tests/integration/streaming_runs.py), loaded once."""
    from tests.integration.streaming_runs import load_stream

    return load_stream(tmp_path_factory)


@pytest.fixture(scope="session")
def reference(stack, loaded_stream, tmp_path_factory):
    """A crash-free run of the streaming job over the whole stream, and a snapshot of its output."""
    from tests.integration.streaming_runs import run_job, snapshot

    run = run_job(stack, loaded_stream, tmp_path_factory.mktemp("reference"))
    return run, snapshot(run)
