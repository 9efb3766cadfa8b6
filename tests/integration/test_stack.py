"""The stack manager against real processes: idempotent up, clear errors, status, bootstrap."""

from __future__ import annotations

import socket

import pytest

from moviestream.core.config import AwsSettings, resource_names
from moviestream.devstack.bootstrap import bootstrap
from moviestream.devstack.stack import LocalStack, Postgres, StackConfig, StackError, status, up


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


def test_migrations_apply_once_in_order_over_existing_rows(stack):
    import uuid

    import psycopg

    from moviestream.warehouse.sql_files import migrations, postgres_statements
    from moviestream.warehouse.targets import apply_schema

    name = f"migrations_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stack.warehouse_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = psycopg.conninfo.make_conninfo(stack.warehouse_dsn, dbname=name)
    with psycopg.connect(dsn) as conn:  # a warehouse from before any migration, with a ledger row
        for stmt in postgres_statements("001_schema.sql"):
            conn.execute(stmt)
        conn.execute(
            "INSERT INTO movies.batch_ledger (job_name, stream_id, batch_id, records_in, duplicates_dropped,"
            " good_records, bad_records, movies_upserted, started_at, committed_at, seconds_total)"
            " VALUES ('old', 's', 0, 1, 0, 1, 0, 1, now(), now(), 0.5)"
        )
    apply_schema(dsn)
    apply_schema(dsn)
    with psycopg.connect(dsn) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM movies.schema_migrations ORDER BY 1")]
        old = conn.execute(
            "SELECT seconds_judge, seconds_s3, min_arrival_at FROM movies.batch_ledger"
        ).fetchall()
    assert versions == [m.removeprefix("migrations/").removesuffix(".sql") for m in migrations()]
    assert old == [(0.0, 0.0, None)]


def test_components_connect_as_a_role_that_is_no_superuser(stack):
    """What a ruleset's reference or a query runs as locally: it owns the warehouse, nothing more."""
    import psycopg

    with psycopg.connect(stack.warehouse_dsn, autocommit=True) as conn:
        role = conn.execute(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        owner = conn.execute(
            "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()"
        ).fetchone()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT pg_read_file('PG_VERSION')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("COPY (SELECT 1) TO PROGRAM 'true'")
    assert role == ("loader", False, True, False)
    assert owner == ("loader",)


def test_a_database_the_superuser_made_is_handed_to_the_loader(stack):
    """A cluster from before the loader role: its warehouse, schema, tables, serial sequence,
    materialized views and routines all owned by `postgres`. Starting the stack again hands them
    over, and the loader can then migrate, load, refresh and drop it."""
    import uuid

    import psycopg

    from moviestream.warehouse.targets import apply_schema

    name = f"legacy_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(stack.admin_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    apply_schema(stack.admin_dsn(name))
    with psycopg.connect(stack.admin_dsn(name), autocommit=True) as conn:
        conn.execute("CREATE TABLE movies.legacy_notes (id serial PRIMARY KEY, note text)")
        conn.execute("CREATE FUNCTION movies.legacy_twice(x int) RETURNS int LANGUAGE sql AS 'SELECT 2 * x'")

    assert "already running" in Postgres(stack).start()

    owners_sql = (
        "SELECT DISTINCT pg_get_userbyid(owner) FROM ("
        " SELECT nspowner AS owner FROM pg_namespace WHERE nspname = 'movies'"
        " UNION ALL SELECT relowner FROM pg_class WHERE relnamespace = 'movies'::regnamespace"
        " UNION ALL SELECT proowner FROM pg_proc WHERE pronamespace = 'movies'::regnamespace"
        " UNION ALL SELECT datdba FROM pg_database WHERE datname = current_database()) o"
    )
    loader_dsn = stack.dsn_of(name)
    apply_schema(loader_dsn)
    with psycopg.connect(loader_dsn, autocommit=True) as conn:
        assert conn.execute(owners_sql).fetchall() == [("loader",)]
        conn.execute("INSERT INTO movies.legacy_notes (note) VALUES ('kept')")
        assert conn.execute(
            "SELECT id, note, movies.legacy_twice(id) FROM movies.legacy_notes"
        ).fetchall() == [(1, "kept", 2)]
        conn.execute("REFRESH MATERIALIZED VIEW movies.top_rated")
    with psycopg.connect(stack.dsn_of("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}"')


def test_bootstrap_routes_a_glue_job_failure_to_the_alert_topic(stack):
    """The bootstrap's alert rules use moviestream/core/eventbridge/ (the same files as Terraform)."""
    import json
    import time
    import uuid

    from moviestream.core.config import AwsSettings, resource_names

    names = resource_names()
    aws = AwsSettings()
    sqs = aws.client("sqs")
    marker = uuid.uuid4().hex
    detail = {"jobName": names["backfill_job_name"], "state": "FAILED", "jobRunId": marker}
    sent = aws.client("events").put_events(
        Entries=[{"Source": "aws.glue", "DetailType": "Glue Job State Change", "Detail": json.dumps(detail)}]
    )
    assert sent["FailedEntryCount"] == 0
    queue_url = sqs.get_queue_url(QueueName=names["alert_queue_name"])["QueueUrl"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            if marker in message["Body"]:  # raw delivery: the body is the EventBridge event
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
                assert json.loads(message["Body"])["detail"]["jobRunId"] == marker
                return
            # Another test's alert: leave it for that test, hidden for a moment so the next
            # receive reaches the messages behind it (a queue holding many alerts is scanned).
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=3
            )
    raise AssertionError("the Glue job failure did not reach the alert topic's queue")
