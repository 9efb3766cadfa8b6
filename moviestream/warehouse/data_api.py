"""Applying the schema through the Redshift Data API, and the Glue jobs' database user.

A Redshift Serverless workgroup of this pipeline is private: only the Glue jobs' security group
reaches it. The Data API is an AWS API (HTTPS, IAM), so an operator can apply the schema from
anywhere with AWS credentials, with no network path to the workgroup:

    moviestream warehouse apply --data-api --workgroup moviestream --database moviestream \
        --secret-arn "$(terraform -chdir=terraform output -raw warehouse_admin_secret_arn)" \
        --grant-role "$(terraform -chdir=terraform output -raw glue_jobs_role_name)"

The algorithm is ``warehouse.apply_statements``'s, in Data API calls: the base schema in one
BatchExecuteStatement (one transaction), each migration not yet recorded in one
BatchExecuteStatement with its schema_migrations row (so a migration and its record commit
together or not at all), then the views in one, then the grants. The Data API takes no
parameters in a batch: the only values written into SQL are migration versions (checked against
the file-name pattern) and the role name (checked against IAM's role-name characters).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from moviestream.warehouse.sql_files import SCHEMA_FILES, materialized_views, migrations, redshift_statements

VERSION = re.compile(r"^[0-9]{4}_[a-z0-9_]+$")
ROLE_NAME = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,64}$")  # IAM's role-name characters
DONE = ("FINISHED", "FAILED", "ABORTED")


class DataApiError(RuntimeError):
    """A statement failed or the Data API refused a call: the message says which, in one line."""


def jobs_user(role_name: str) -> str:
    """The database user Redshift maps an IAM role to when it connects with GetCredentials."""
    if not ROLE_NAME.match(role_name):
        raise ValueError(f"not an IAM role name: {role_name!r}")
    return f"IAMR:{role_name}"


def grant_statements(role_name: str, user_exists: bool, owns_views: bool = True) -> list[str]:
    """What the Glue jobs' role needs in the warehouse: a database user for the role (created
    with its password disabled: it signs in only with IAM), use of the schema, the tables'
    rows, and the same on tables created later (ALTER DEFAULT PRIVILEGES), since later
    migrations add tables. LOCK, which the loads take on the ledger, needs these table rights.
    With ``owns_views``, the user also becomes the owner of the materialized views: only a
    view's owner may refresh it, and the jobs refresh them (moviestream/warehouse/views.py).
    The apply drops and creates the views every time, so this runs every time after them."""
    user = f'"{jobs_user(role_name)}"'
    statements = [] if user_exists else [f"CREATE USER {user} PASSWORD DISABLE"]
    statements += [
        f"GRANT USAGE ON SCHEMA movies TO {user}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA movies TO {user}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA movies GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {user}",
    ]
    if owns_views:
        statements += [f"ALTER TABLE {view} OWNER TO {user}" for view in materialized_views()]
    return statements


@dataclass
class DataApi:
    """The calls of one apply, on a boto3 ``redshift-data`` client."""

    client: Any
    workgroup: str
    database: str
    secret_arn: str | None = None  # None: the caller's IAM identity (GetCredentials)
    poll_s: float = 0.5
    timeout_s: float = 900.0
    sleep: Callable[[float], None] = field(default=time.sleep)

    def _target(self) -> dict[str, str]:
        target = {"WorkgroupName": self.workgroup, "Database": self.database}
        if self.secret_arn:
            target["SecretArn"] = self.secret_arn
        return target

    def _call(self, name: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self.client, name)(**kwargs)
        except Exception as exc:  # botocore raises many types; all end the apply
            raise DataApiError(f"Redshift Data API {name} failed: {str(exc).splitlines()[0]}") from exc

    def _wait(self, statement_id: str, what: str) -> dict[str, Any]:
        waited = 0.0
        while True:
            described = self._call("describe_statement", Id=statement_id)
            if described["Status"] in DONE:
                break
            if waited >= self.timeout_s:
                raise DataApiError(f"{what}: still {described['Status']} after {self.timeout_s:.0f} s")
            self.sleep(self.poll_s)
            waited += self.poll_s
        if described["Status"] != "FINISHED":
            error = (described.get("Error") or described["Status"]).splitlines()[0]
            raise DataApiError(f"{what} failed: {error}")
        return described

    def batch(self, sqls: Sequence[str], what: str) -> None:
        """Statements in one transaction (BatchExecuteStatement)."""
        if not sqls:
            return
        started = self._call("batch_execute_statement", Sqls=list(sqls), **self._target())
        self._wait(started["Id"], what)

    def rows(self, sql: str, parameters: Sequence[dict[str, str]] = ()) -> list[list[Any]]:
        """A query's rows (see ``query``)."""
        return self.query(sql, parameters)[1]

    def query(self, sql: str, parameters: Sequence[dict[str, str]] = ()) -> tuple[list[str], list[list[Any]]]:
        """(column names, rows) of a query: ExecuteStatement, then every page of
        GetStatementResult; a NULL field is None, any other its one typed value."""
        kwargs: dict[str, Any] = {"Sql": sql, **self._target()}
        if parameters:
            kwargs["Parameters"] = list(parameters)
        started = self._call("execute_statement", **kwargs)
        described = self._wait(started["Id"], sql.split()[0])
        if not described.get("HasResultSet"):
            return [], []
        result, rows = self._call("get_statement_result", Id=started["Id"]), []
        columns = [c.get("name", "") for c in result.get("ColumnMetadata", [])]
        while True:
            rows += [[_value(field) for field in record] for record in result["Records"]]
            token = result.get("NextToken")
            if not token:
                return columns, rows
            result = self._call("get_statement_result", Id=started["Id"], NextToken=token)


def _value(field: dict[str, Any]) -> Any:
    if field.get("isNull"):
        return None
    return next(iter(field.values()))


def with_named_parameters(sql: str, params: Sequence[Any]) -> tuple[str, list[dict[str, str]]]:
    """A DB-API query (``%s`` placeholders) in the Data API's form: ``:p1``, ``:p2`` and their
    values as strings (Redshift casts them as the SQL needs)."""
    parts = sql.split("%s")
    if len(parts) - 1 != len(params):
        raise ValueError(f"{len(parts) - 1} placeholders for {len(params)} parameters")
    text = parts[0] + "".join(f":p{i}{part}" for i, part in enumerate(parts[1:], start=1))
    return text, [{"name": f"p{i}", "value": str(v)} for i, v in enumerate(params, start=1)]


def apply_with_data_api(
    api: DataApi,
    grant_roles: Sequence[str] = (),
    statements: Callable[[str], Sequence[str]] = redshift_statements,
) -> int:
    """Apply the schema, pending migrations, views and grants; returns the statements run."""
    base, views = SCHEMA_FILES
    count = 0
    api.batch(statements(base), "the base schema")
    count += len(statements(base))
    applied = {row[0] for row in api.rows("SELECT version FROM movies.schema_migrations")}
    for name in migrations():
        version = name.removeprefix("migrations/").removesuffix(".sql")
        if not VERSION.match(version):
            raise ValueError(f"unexpected migration file name {name!r}")
        if version in applied:
            continue
        body = list(statements(name))
        api.batch(
            [
                # A second applier that looked before this one committed waits here, then fails
                # on the migration's own statements (its columns exist) and rolls back whole.
                "LOCK movies.schema_migrations",
                *body,
                f"INSERT INTO movies.schema_migrations (version, applied_at) VALUES ('{version}', GETDATE())",
            ],
            f"migration {version}",
        )
        count += len(body) + 2
    api.batch(statements(views), "the views")
    count += len(statements(views))
    for i, role in enumerate(grant_roles):
        user = jobs_user(role)
        exists = bool(
            api.rows("SELECT 1 FROM pg_user WHERE usename = :name", [{"name": "name", "value": user}])
        )
        grants = grant_statements(role, exists, owns_views=i == 0)  # the first role: the loader
        api.batch(grants, f"the grants to {user}")
        count += len(grants)
    return count
