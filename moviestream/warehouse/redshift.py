"""Amazon Redshift as the warehouse of the Glue job: the same batch contract as PostgreSQL locally.

One micro-batch = one transaction on one redshift_connector connection:
1. the staged rows go to S3 first (gzipped JSON lines under deterministic keys per batch, so a
   replay overwrites them), because Redshift loads bulk data with COPY from S3, not from the client;
2. ``LOCK movies.batch_ledger``: Redshift does not enforce primary keys, so the ledger key cannot
   serialise two attempts at the same batch as it does in PostgreSQL; the lock does;
3. skip the batch if the ledger has it; else create the temporary staging tables (stage.sql),
   COPY into them, run merge_movies.sql and refresh_bridges.sql as written (Redshift dialect), insert the
   ledger row and the rule outcomes with parameters, commit.

The DSN: ``redshift://USER:PASSWORD@HOST:5439/DATABASE?iam_role=ARN&staging_uri=s3://BUCKET/PREFIX``
(the role is the one Redshift assumes to read the staging prefix). Redshift itself does not run
here: tests check the statements against a recording connection and the staging files in LocalStack.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from moviestream.core.dsn import MASK, redact
from moviestream.warehouse import loading
from moviestream.warehouse.contract import (
    ANNOTATION_COLUMNS,
    ANNOTATIONS_QUERY,
    GENRE_COLUMNS,
    HISTORY_QUERY,
    LEDGER_CHECK,
    STAGE_COLUMNS,
    BatchKey,
    BatchLoad,
    RunKey,
    WarehouseUnavailable,
    history_runs,
    table_rows,
)
from moviestream.warehouse.quarantine import REPLAY_STAGE_COLUMNS
from moviestream.warehouse.sql_files import multi_row_inserts, redshift_statements
from moviestream.warehouse.views import ViewsRefresh

_ROLE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
_S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/[\w!.*()=/-]*)?$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,126}$")


@dataclass(frozen=True)
class RedshiftSettings:
    host: str
    port: int
    database: str
    user: str  # empty with IAM authentication (workgroup)
    password: str = field(repr=False)  # never in a repr, a log or a traceback's locals
    iam_role: str
    staging_uri: str  # s3://bucket/prefix, no trailing slash
    workgroup: str = ""  # Redshift Serverless workgroup: IAM authentication, no password

    @classmethod
    def from_dsn(cls, dsn: str) -> RedshiftSettings:
        parts = urlsplit(dsn)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        workgroup = query.get("workgroup", "")
        missing = [
            name
            for name, value in (
                ("host", parts.hostname),
                ("database", parts.path.lstrip("/")),
                ("user or workgroup", parts.username or workgroup),
                ("iam_role", query.get("iam_role")),
                ("staging_uri", query.get("staging_uri")),
            )
            if not value
        ]
        if parts.scheme != "redshift" or missing:
            raise ValueError(
                "a Redshift DSN is redshift://USER:PASSWORD@HOST:PORT/DATABASE"
                "?iam_role=ARN&staging_uri=s3://BUCKET/PREFIX, or for IAM authentication to Redshift"
                " Serverless redshift://HOST:PORT/DATABASE?workgroup=NAME&iam_role=ARN&staging_uri=..."
                f" (missing: {', '.join(missing) or 'scheme'})"
            )
        if not _ROLE.match(query["iam_role"]):
            raise ValueError(f"iam_role is not an IAM role ARN: {query['iam_role']!r}")
        staging = query["staging_uri"].rstrip("/")
        if not _S3_URI.match(staging):
            raise ValueError(f"staging_uri is not an s3://bucket/prefix URI: {staging!r}")
        return cls(
            host=parts.hostname or "",
            port=parts.port or 5439,
            database=parts.path.lstrip("/"),
            user=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
            iam_role=query["iam_role"],
            staging_uri=staging,
            workgroup=workgroup,
        )


def _identifier(name: str) -> str:
    """A column name safe to write into SQL unquoted (names come from code, never from data)."""
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a plain SQL identifier: {name!r}")
    return name


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")  # COPY ... TIMEFORMAT 'auto'
    if isinstance(value, Decimal):
        return float(value)
    return value


def staging_file(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """Gzipped JSON lines, one object per row keyed by column name (COPY's JSON 'auto')."""
    lines = (json.dumps({c: _json_value(v) for c, v in zip(columns, row, strict=True)}) for row in rows)
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"))


def copy_statement(table: str, columns: Sequence[str], uri: str, iam_role: str) -> str:
    """COPY from S3. Its source and role must be literals in Redshift; both come from validated
    configuration (never from data), and are checked again here."""
    if not _S3_URI.match(uri) or not _ROLE.match(iam_role):
        raise ValueError("refusing to build a COPY from an unvalidated S3 URI or role")
    return (
        f"COPY {table} ({', '.join(columns)}) FROM '{uri}' IAM_ROLE '{iam_role}' "
        # STATUPDATE ON: the staging table gets statistics for the MERGE's plan (see warehouse.py).
        "FORMAT AS JSON 'auto' GZIP TIMEFORMAT 'auto' STATUPDATE ON"
    )


class RedshiftWarehouse:
    def __init__(
        self,
        settings: RedshiftSettings,
        s3_client_factory: Callable[[], Any],
        connect: Callable[..., Any] | None = None,
    ) -> None:
        self.settings = settings
        self._s3 = s3_client_factory
        self._connect_fn = connect

    @classmethod
    def from_dsn(cls, dsn: str, s3_client_factory: Callable[[], Any]) -> RedshiftWarehouse:
        return cls(RedshiftSettings.from_dsn(dsn), s3_client_factory)

    def connect(self):  # a redshift_connector.Connection
        connect = self._connect_fn
        if connect is None:
            import redshift_connector

            connect = redshift_connector.connect
        s = self.settings
        try:
            if s.workgroup:  # temporary credentials for the caller's IAM identity (GetCredentials)
                return connect(
                    iam=True,
                    is_serverless=True,
                    serverless_work_group=s.workgroup,
                    host=s.host,
                    port=s.port,
                    database=s.database,
                )
            return connect(host=s.host, port=s.port, database=s.database, user=s.user, password=s.password)
        except Exception as exc:  # any failure to connect is "unavailable"
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            for secret in (s.password,) if s.password else ():  # the driver may quote what it got
                first = first.replace(secret, MASK)
            raise WarehouseUnavailable(
                f"cannot connect to Redshift at {s.host}:{s.port}/{s.database}: {redact(first)}"
            ) from None

    def check_reachable(self) -> None:
        self.connect().close()

    def batch_committed(self, key: BatchKey) -> bool:
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(LEDGER_CHECK, (key.job_name, key.stream_id, key.batch_id))
            return cur.fetchone() is not None
        finally:
            conn.close()

    def read_metric_history(self, context: str, limit: int) -> list[tuple[RunKey, dict[str, float]]]:
        """The newest ``limit`` runs of an evaluation context, oldest first, each with its key."""
        return history_runs(self._query(HISTORY_QUERY, (context, limit, context)))

    def read_annotations(self, context: str) -> list[dict[str, Any]]:
        """The context's annotations (ANNOTATION_COLUMNS), in the order they were made."""
        return [
            dict(zip(ANNOTATION_COLUMNS, r, strict=True)) for r in self._query(ANNOTATIONS_QUERY, (context,))
        ]

    def _query(self, sql: str, params: tuple) -> list[tuple]:
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(sql, params)
            return list(cur.fetchall())
        finally:
            conn.close()

    def views_refresh(self, refresher: str) -> ViewsRefresh:
        return ViewsRefresh(self.connect, refresher)

    def staging_uris(self, key: BatchKey) -> tuple[str, str]:
        base = (
            f"{self.settings.staging_uri}/job={key.job_name}/stream={key.stream_id}/batch={key.batch_id:010d}"
        )
        return f"{base}/movies.jsonl.gz", f"{base}/genres.jsonl.gz"

    def _upload(self, uri: str, body: bytes) -> None:
        bucket, object_key = uri.removeprefix("s3://").split("/", 1)
        self._s3().put_object(Bucket=bucket, Key=object_key, Body=body, ContentType="application/x-ndjson")

    def load_batch(self, load: BatchLoad, timings: dict[str, float] | None = None) -> datetime | None:
        """Load one batch exactly once (loading.load): the ledger's committed_at, or None if it
        was loaded before. The staged rows go to S3 first, outside the transaction."""
        clock = loading.StepClock(timings)
        uris = self.staging_uris(load.key)
        if load.movies.num_rows:
            self._upload(uris[0], staging_file(STAGE_COLUMNS, table_rows(load.movies)))
        if load.genres.num_rows:
            self._upload(uris[1], staging_file(GENRE_COLUMNS, table_rows(load.genres)))
        conn = self.connect()
        try:
            return loading.load(RedshiftLoad(conn, self.settings.iam_role, uris), load, clock)
        finally:
            conn.close()


class RedshiftLoad:
    """loading.LoadSession on one redshift_connector connection; the staging tables are filled
    by COPY from the batch's files in S3 (``uris``: movies, genres)."""

    def __init__(self, conn: Any, iam_role: str, uris: tuple[str, str]) -> None:
        self.conn = conn
        self.cur = conn.cursor()
        self.iam_role = iam_role
        self.uris = uris

    def lock_ledger(self) -> None:
        self.cur.execute("LOCK movies.batch_ledger")

    def committed(self, key: BatchKey) -> bool:
        self.cur.execute(LEDGER_CHECK, (key.job_name, key.stream_id, key.batch_id))
        return self.cur.fetchone() is not None

    def run_file(self, name: str) -> None:
        for stmt in redshift_statements(name):  # as written: Redshift's own dialect
            self.cur.execute(stmt)

    def fill_stage(self, load: BatchLoad) -> None:
        movies_uri, genres_uri = self.uris
        if load.movies.num_rows:
            self.cur.execute(copy_statement("stage_movies", STAGE_COLUMNS, movies_uri, self.iam_role))
        if load.genres.num_rows:
            self.cur.execute(copy_statement("stage_genres", GENRE_COLUMNS, genres_uri, self.iam_role))

    def insert(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        for statement, params in multi_row_inserts(
            _identifier(table), [_identifier(c) for c in columns], rows
        ):
            self.cur.execute(statement, params)

    def fill_replay(self, rows: Sequence[Sequence[Any]]) -> None:
        for statement, params in multi_row_inserts("stage_replay", REPLAY_STAGE_COLUMNS, rows, schema=None):
            self.cur.execute(statement, params)

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()
