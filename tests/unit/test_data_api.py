"""`moviestream warehouse apply --data-api`: the schema through the Redshift Data API, checked with
botocore's Stubber on a real ``redshift-data`` client (LocalStack's community edition has no Data
API), so every request is validated against the service's own model: each migration is one
BatchExecuteStatement with its record, a failed statement stops the apply, and the Glue jobs'
database user is created once and granted the schema's tables now and later."""

from __future__ import annotations

import re

import boto3
import pytest
from botocore.stub import Stubber

from moviestream.warehouse.data_api import (
    DataApi,
    DataApiError,
    apply_with_data_api,
    grant_statements,
    jobs_user,
)
from moviestream.warehouse.sql_files import SCHEMA_FILES, migrations, redshift_statements
from tests.redshift_grammar import parse_problems

TARGET = {
    "WorkgroupName": "moviestream",
    "Database": "moviestream",
    "SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:admin-AbCdEf",
}
ROLE = "moviestream-glue-jobs"


@pytest.fixture
def stubbed():
    client = boto3.client(
        "redshift-data", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def api_for(client) -> DataApi:
    return DataApi(
        client, TARGET["WorkgroupName"], TARGET["Database"], TARGET["SecretArn"], sleep=lambda _: None
    )


def expect_batch(
    stubber, sqls: list[str], statement_id: str, status: str = "FINISHED", error: str = ""
) -> None:
    stubber.add_response("batch_execute_statement", {"Id": statement_id}, {"Sqls": sqls, **TARGET})
    described = {"Id": statement_id, "Status": status}
    if error:
        described["Error"] = error
    stubber.add_response("describe_statement", described, {"Id": statement_id})


def expect_query(stubber, sql: str, statement_id: str, records: list[list[dict]], parameters=None) -> None:
    params = {"Sql": sql, **TARGET}
    if parameters:
        params["Parameters"] = parameters
    stubber.add_response("execute_statement", {"Id": statement_id}, params)
    stubber.add_response(
        "describe_statement",
        {"Id": statement_id, "Status": "FINISHED", "HasResultSet": True},
        {"Id": statement_id},
    )
    stubber.add_response("get_statement_result", {"Records": records}, {"Id": statement_id})


def migration_batch(name: str) -> list[str]:
    version = name.removeprefix("migrations/").removesuffix(".sql")
    return [
        "LOCK movies.schema_migrations",
        *redshift_statements(name),
        f"INSERT INTO movies.schema_migrations (version, applied_at) VALUES ('{version}', GETDATE())",
    ]


def test_a_fresh_warehouse_gets_every_migration_in_its_own_transaction_then_views_and_grants(stubbed):
    client, stubber = stubbed
    base, views = SCHEMA_FILES
    pending = migrations()
    assert len(pending) >= 3
    expect_batch(stubber, list(redshift_statements(base)), "base")
    expect_query(stubber, "SELECT version FROM movies.schema_migrations", "applied", [])
    for i, name in enumerate(pending):
        expect_batch(stubber, migration_batch(name), f"m{i}")
    expect_batch(stubber, list(redshift_statements(views)), "views")
    user = [{"name": "name", "value": f"IAMR:{ROLE}"}]
    expect_query(stubber, "SELECT 1 FROM pg_user WHERE usename = :name", "user", [], parameters=user)
    expect_batch(stubber, grant_statements(ROLE, user_exists=False), "grants")

    count = apply_with_data_api(api_for(client), [ROLE])
    assert count == (
        len(redshift_statements(base))
        + sum(len(migration_batch(n)) for n in pending)
        + len(redshift_statements(views))
        + 4  # the user, the schema, the tables now and later
        + 5  # the five materialized views' owner: the loader refreshes them
    )


def test_recorded_migrations_are_skipped_and_an_existing_user_is_not_created_again(stubbed):
    client, stubber = stubbed
    base, views = SCHEMA_FILES
    *done, last = migrations()
    expect_batch(stubber, list(redshift_statements(base)), "base")
    versions = [[{"stringValue": n.removeprefix("migrations/").removesuffix(".sql")}] for n in done]
    expect_query(stubber, "SELECT version FROM movies.schema_migrations", "applied", versions)
    expect_batch(stubber, migration_batch(last), "last")
    expect_batch(stubber, list(redshift_statements(views)), "views")
    user = [{"name": "name", "value": f"IAMR:{ROLE}"}]
    expect_query(stubber, "SELECT 1 FROM pg_user WHERE usename = :name", "user", [[{"longValue": 1}]], user)
    grants = grant_statements(ROLE, user_exists=True)
    assert not any(g.startswith("CREATE USER") for g in grants)
    expect_batch(stubber, grants, "grants")
    apply_with_data_api(api_for(client), [ROLE])


def test_a_failed_migration_stops_the_apply_with_one_line(stubbed):
    client, stubber = stubbed
    base, _ = SCHEMA_FILES
    first = migrations()[0]
    expect_batch(stubber, list(redshift_statements(base)), "base")
    expect_query(stubber, "SELECT version FROM movies.schema_migrations", "applied", [])
    expect_batch(
        stubber,
        migration_batch(first),
        "m0",
        status="FAILED",
        error='ERROR: column "min_arrival_at" of relation "batch_ledger" already exists\nDETAIL: ...',
    )
    version = first.removeprefix("migrations/").removesuffix(".sql")
    with pytest.raises(DataApiError, match=rf"^migration {version} failed: ERROR: column .* already exists$"):
        apply_with_data_api(api_for(client))  # nothing after it is sent: the Stubber has no more


def test_a_running_statement_is_polled_until_done(stubbed):
    client, stubber = stubbed
    stubber.add_response("batch_execute_statement", {"Id": "b"}, {"Sqls": ["SELECT 1"], **TARGET})
    for status in ("SUBMITTED", "STARTED", "FINISHED"):
        stubber.add_response("describe_statement", {"Id": "b", "Status": status}, {"Id": "b"})
    slept = []
    api = DataApi(
        client, TARGET["WorkgroupName"], TARGET["Database"], TARGET["SecretArn"], sleep=slept.append
    )
    api.batch(["SELECT 1"], "a probe")
    assert slept == [0.5, 0.5]


def test_a_refused_call_is_one_line(stubbed):
    client, stubber = stubbed
    stubber.add_client_error(
        "batch_execute_statement", "ValidationException", "Workgroup moviestream not found\nmore", 400
    )
    with pytest.raises(DataApiError, match="^Redshift Data API batch_execute_statement failed: .*not found$"):
        api_for(client).batch(["SELECT 1"], "a probe")


def test_without_a_secret_the_data_api_uses_the_callers_identity(stubbed):
    client, stubber = stubbed
    target = {k: v for k, v in TARGET.items() if k != "SecretArn"}
    stubber.add_response("batch_execute_statement", {"Id": "b"}, {"Sqls": ["SELECT 1"], **target})
    stubber.add_response("describe_statement", {"Id": "b", "Status": "FINISHED"}, {"Id": "b"})
    DataApi(client, target["WorkgroupName"], target["Database"], None, sleep=lambda _: None).batch(
        ["SELECT 1"], "x"
    )


def test_role_names_are_checked_before_they_reach_sql():
    assert jobs_user("moviestream-glue-jobs") == "IAMR:moviestream-glue-jobs"
    for bad in ('x"; DROP TABLE movies.batch_ledger; --', "", "a" * 65, "role/with/path"):
        with pytest.raises(ValueError, match="not an IAM role name"):
            jobs_user(bad)


def test_every_statement_of_the_data_api_path_parses_as_redshift():
    statements = [
        *grant_statements(ROLE, user_exists=False),
        *migration_batch(migrations()[0]),
        "SELECT 1 FROM pg_user WHERE usename = :name".replace(":name", "'IAMR:x'"),
    ]
    for statement in statements:
        count, problems = parse_problems(statement + ";")
        assert count == 1 and not problems, (statement, problems)
    assert all(re.match(r"^\d{4}_", n.removeprefix("migrations/")) for n in migrations())


def test_a_view_is_read_through_the_data_api_with_its_columns_and_nulls(stubbed):
    from moviestream.warehouse.data_api import with_named_parameters

    client, stubber = stubbed
    sql, params = with_named_parameters(
        "SELECT * FROM movies.top_rated ORDER BY imdb_rating DESC LIMIT %s", [2]
    )
    assert sql.endswith("LIMIT :p1") and params == [{"name": "p1", "value": "2"}]
    stubber.add_response("execute_statement", {"Id": "q"}, {"Sql": sql, "Parameters": params, **TARGET})
    stubber.add_response(
        "describe_statement", {"Id": "q", "Status": "FINISHED", "HasResultSet": True}, {"Id": "q"}
    )
    stubber.add_response(
        "get_statement_result",
        {
            "ColumnMetadata": [{"name": "series_title"}, {"name": "imdb_rating"}, {"name": "gross_usd"}],
            "Records": [[{"stringValue": "The Godfather"}, {"stringValue": "9.2"}, {"longValue": 134966411}]],
            "NextToken": "page-2",
        },
        {"Id": "q"},
    )
    stubber.add_response(
        "get_statement_result",
        {"Records": [[{"stringValue": "Parasite"}, {"stringValue": "8.6"}, {"isNull": True}]]},
        {"Id": "q", "NextToken": "page-2"},
    )
    columns, rows = api_for(client).query(sql, params)
    assert columns == ["series_title", "imdb_rating", "gross_usd"]
    assert rows == [["The Godfather", "9.2", 134966411], ["Parasite", "8.6", None]]


def test_placeholders_and_parameters_must_agree():
    from moviestream.warehouse.data_api import with_named_parameters

    with pytest.raises(ValueError, match="1 placeholders for 2 parameters"):
        with_named_parameters("SELECT %s", [1, 2])
