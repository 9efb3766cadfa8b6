"""The stack manager against real processes: idempotent up, clear errors, status, bootstrap."""

from __future__ import annotations

import socket

import pytest

from devstack.bootstrap import bootstrap
from devstack.stack import LocalStack, Postgres, StackConfig, StackError, status, up
from moviestream.config import AwsSettings, resource_names


def test_up_is_idempotent_and_status_reports_pids(stack):
    before = status(stack)
    assert all(c["running"] and c["healthy"] for c in before)
    messages = up(stack)
    assert all("already running" in m for m in messages)
    assert [c["pid"] for c in status(stack)] == [c["pid"] for c in before]


def test_bootstrap_is_idempotent_and_creates_the_named_resources(stack):
    first = bootstrap(AwsSettings(), stack.warehouse_dsn)
    second = bootstrap(AwsSettings(), stack.warehouse_dsn)
    assert first == second
    names = resource_names()
    kinesis = AwsSettings().client("kinesis")
    summary = kinesis.describe_stream_summary(StreamName=names["stream_name"])["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == names["stream_shards"] == 2
    sns = AwsSettings().client("sns")
    subs = sns.list_subscriptions_by_topic(TopicArn=first["alert_topic_arn"])["Subscriptions"]
    assert [s["Protocol"] for s in subs] == ["sqs"]


@pytest.mark.parametrize("component", [Postgres, LocalStack])
def test_a_taken_port_is_one_clear_error_naming_the_component(tmp_path, component):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        cfg = StackConfig(state_dir=tmp_path, localstack_port=port, postgres_port=port)
        with pytest.raises(StackError) as err:
            component(cfg).start()
    assert str(err.value).startswith(f"{component.name}: port {port} is taken")


def test_status_of_a_stack_that_never_started(tmp_path):
    rows = status(StackConfig(state_dir=tmp_path, localstack_port=1, postgres_port=1))
    assert [(r["component"], r["running"], r["pid"]) for r in rows] == [
        ("postgres", False, None),
        ("localstack", False, None),
    ]
