"""What the health page shows, read from where the pipeline keeps it: the warehouse's ledger and
rule outcomes (one Redshift-dialect query each, so a Redshift DSN works too) and the bad-record
files in S3 that the ledger rows point at. The only I/O of the page; everything after is pure.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from moviestream.core import logs
from moviestream.warehouse.contract import ANNOTATIONS_QUERY, HISTORY_QUERY
from moviestream.warehouse.targets import query_many
from moviestream.warehouse.views import STALENESS, Staleness

log = logs.get("health")

LEDGER_COLUMNS = (
    "job_name",
    "stream_id",
    "batch_id",
    "records_in",
    "duplicates_dropped",
    "good_records",
    "bad_records",
    "movies_upserted",
    "bad_records_uri",
    "started_at",
    "committed_at",
    "seconds_judge",
    "seconds_s3",
    "seconds_total",
    "seconds_warehouse",
    "lag_p50_s",
    "lag_p95_s",
    "lag_max_s",
    "retried_errors",
    "breached",
)
SAMPLES_PER_REASON = 3
# A bad-record file is one batch's: megabytes at most. Past this the page reads no further (a
# file that large is not what the pipeline writes), reports it, and flags the batch.
MAX_BAD_FILE_BYTES = 32 * 1024 * 1024


class S3Unreadable(RuntimeError):
    """S3 cannot be read at all (no credentials, unreachable): not a batch's fault."""


@dataclass(frozen=True)
class BadRecordsFile:
    """One batch's bad-record file: its line count and each record's reasons, event id and a few
    of its raw fields (the page's samples)."""

    uri: str
    lines: int
    records: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # the file could not be read


@dataclass(frozen=True)
class Facts:
    ledger: list[dict[str, Any]]  # LEDGER_COLUMNS, newest first
    outcomes: list[dict[str, Any]]  # job_name, stream_id, batch_id, rule, outcome
    loaded: dict[tuple[str, int], int]  # (job, batch id) -> warehouse rows it last updated
    upserted: dict[tuple[str, int], int]  # (job, batch id) -> movies upserted, every stream's
    last_hour: dict[str, int]  # batches, records_in, good, bad committed in the hour before read_at
    bad_files: dict[str, BadRecordsFile]  # by bad_records_uri
    read_at: datetime  # naive UTC
    # The materialized views: how far they lag the ledger, and the newest refresh (refresher,
    # started_at, seconds, succeeded, error), None before the first.
    views: Staleness = Staleness(None, None, None)
    last_refresh: dict[str, Any] | None = None
    # The quarantine index (movies.quarantine): records by status; the open ones by cause (the
    # first rule a record failed, else its first reason) and age; each replay's records by the
    # status it left them in.
    quarantine_by_status: dict[str, int] = field(default_factory=dict)
    quarantine_open: list[dict[str, Any]] = field(default_factory=list)  # reason, age, records
    replays: list[dict[str, Any]] = field(default_factory=list)  # replay_id, at, status, records
    # The job's metric history (its evaluation context is the job's name): HISTORY_QUERY's rows for
    # the newest runs the page shows, and the context's annotations (ANNOTATION_COLUMNS order).
    history_rows: list[tuple] = field(default_factory=list)
    annotation_rows: list[tuple] = field(default_factory=list)


# The open records' ages, youngest first: (label, upper bound), the last unbounded.
QUARANTINE_AGES = (
    ("under 1 hour", timedelta(hours=1)),
    ("1 to 24 hours", timedelta(days=1)),
    ("1 to 7 days", timedelta(days=7)),
    ("over 7 days", None),
)


def _age_case(now: datetime) -> tuple[str, list[Any]]:
    """A CASE naming an open record's age bucket, with its parameters."""
    whens, params = [], []
    for label, bound in QUARANTINE_AGES:
        if bound is None:
            whens.append(f"ELSE '{label}'")
        else:
            whens.append(f"WHEN quarantined_at >= %s THEN '{label}'")
            params.append(now - bound)
    return f"CASE {' '.join(whens)} END", params


def _latest_batches(job: str | None, batches: int) -> tuple[str, list[Any]]:
    """The newest ``batches`` ledger rows (of one job, or of all), as a Redshift subquery."""
    where = "WHERE job_name = %s " if job else ""
    return (
        f"SELECT job_name, stream_id, batch_id FROM movies.batch_ledger {where}"
        f"ORDER BY committed_at DESC LIMIT {int(batches)}",
        [job] if job else [],
    )


def _dicts(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    return [dict(zip(columns, row, strict=True)) for row in rows]


# The views' newest refresh, succeeded or not.
LAST_REFRESH = (
    "SELECT refresher, started_at, seconds, succeeded, error FROM movies.views_refreshes"
    " ORDER BY started_at DESC LIMIT 1"
)


def read_facts(
    dsn: str,
    s3_client: Callable[[], Any],
    *,
    job: str | None = None,
    batches: int = 200,
    now: datetime,
    file_cache: dict[str, BadRecordsFile] | None = None,
) -> Facts:
    """The newest ``batches`` batches' facts. ``file_cache`` keeps bad-record files between
    calls (``health watch``): a batch's file is written once (a replay rewrites the same records)."""
    latest, params = _latest_batches(job, batches)
    for_job = [job] if job else []
    (
        (ledger_columns, ledger_rows),
        (outcome_columns, outcome_rows),
        (_, loaded_rows),
        (_, upserted_rows),
        (columns, rows),
        (_, staleness_rows),
        (refresh_columns, refresh_rows),
        *index,  # the quarantine index's
    ) = query_many(
        dsn,
        [
            (
                f"SELECT {', '.join('l.' + c for c in LEDGER_COLUMNS)} FROM movies.batch_ledger l"
                f" JOIN ({latest}) b ON b.job_name = l.job_name AND b.stream_id = l.stream_id"
                " AND b.batch_id = l.batch_id ORDER BY l.committed_at DESC",
                params,
            ),
            (
                "SELECT o.job_name, o.stream_id, o.batch_id, o.rule, o.outcome FROM movies.rule_outcomes o"
                f" JOIN ({latest}) b ON b.job_name = o.job_name AND b.stream_id = o.stream_id"
                " AND b.batch_id = o.batch_id",
                params,
            ),
            (
                "SELECT last_job, last_batch_id, COUNT(*) FROM movies.imdb_movies_rating "
                f"{'WHERE last_job = %s ' if job else ''}GROUP BY last_job, last_batch_id",
                for_job,
            ),
            # A movie names only its last batch's job and id, not the stream: compare with what
            # batches of that job and id upserted on every stream.
            (
                f"SELECT job_name, batch_id, SUM(movies_upserted) FROM movies.batch_ledger "
                f"{'WHERE job_name = %s ' if job else ''}GROUP BY job_name, batch_id",
                for_job,
            ),
            (
                "SELECT COUNT(*) AS batches, COALESCE(SUM(records_in), 0) AS records_in,"
                " COALESCE(SUM(good_records), 0) AS good, COALESCE(SUM(bad_records), 0) AS bad"
                f" FROM movies.batch_ledger WHERE committed_at >= %s{' AND job_name = %s' if job else ''}",
                [now - timedelta(hours=1), *for_job],
            ),
            (STALENESS, []),
            (LAST_REFRESH, []),
            *_quarantine_queries(job, now),
            *_history_queries(job, batches),
        ],
    )
    ledger = _dicts(ledger_columns, ledger_rows)
    outcomes = _dicts(outcome_columns, outcome_rows)
    loaded = {(j, int(b)): int(n) for j, b, n in loaded_rows}
    upserted = {(j, int(b)): int(n) for j, b, n in upserted_rows}
    last_hour = {c: int(v) for c, v in zip(columns, rows[0], strict=True)}
    bad_files = _bad_files(ledger, s3_client, {} if file_cache is None else file_cache)
    views = Staleness(*staleness_rows[0]) if staleness_rows else Staleness(None, None, None)
    last_refresh = _dicts(refresh_columns, refresh_rows)[0] if refresh_rows else None
    # fmt: off
    return Facts(ledger, outcomes, loaded, upserted, last_hour, bad_files, now, views, last_refresh,
                 **_quarantine(index[:-2]), history_rows=list(index[-2][1]),
                 annotation_rows=list(index[-1][1]))
    # fmt: on


def _history_queries(job: str | None, batches: int) -> list[tuple[str, list[Any]]]:
    """The job's metric history (its evaluation context is its name; with no job, none: contexts
    are per job) for the newest ``batches`` runs, and the context's annotations."""
    context = job or ""
    return [(HISTORY_QUERY, [context, batches, context]), (ANNOTATIONS_QUERY, [context])]


def _bad_files(
    ledger: list[dict[str, Any]], s3_client: Callable[[], Any], cache: dict[str, BadRecordsFile]
) -> dict[str, BadRecordsFile]:
    """The ledger rows' bad-record files, read once each into ``cache``, which then keeps only
    those (`health watch`: keep what is shown)."""
    for row in ledger:
        uri = row["bad_records_uri"]
        if uri and uri not in cache:
            cache[uri] = read_bad_records(uri, s3_client)
    bad_files = {
        row["bad_records_uri"]: cache[row["bad_records_uri"]] for row in ledger if row["bad_records_uri"]
    }
    for uri in [uri for uri in cache if uri not in bad_files]:
        del cache[uri]
    return bad_files


def _quarantine_queries(job: str | None, now: datetime) -> list[tuple[str, list[Any]]]:
    """The quarantine index's queries: records by status; the open ones by their failed rules,
    reasons and age; each replay's records by status."""
    for_job = [job] if job else []
    age, age_params = _age_case(now)
    return [
        (
            f"SELECT status, COUNT(*) FROM movies.quarantine {'WHERE job_name = %s ' if job else ''}"
            "GROUP BY status",
            for_job,
        ),
        (
            f"SELECT failed_rules, reasons, {age}, COUNT(*) FROM movies.quarantine WHERE status = 'open'"
            f"{' AND job_name = %s' if job else ''} GROUP BY 1, 2, 3",
            [*age_params, *for_job],
        ),
        (
            "SELECT replay_id, MIN(changed_at) AS at, status, COUNT(*) AS records"
            " FROM movies.quarantine_changes WHERE replay_id IS NOT NULL GROUP BY replay_id, status"
            " ORDER BY MIN(changed_at) DESC LIMIT 60",
            [],
        ),
    ]


def _quarantine(results: list[tuple[list[str], list[tuple]]]) -> dict[str, Any]:
    """Facts' quarantine fields from the results of _quarantine_queries."""
    (_, status_rows), (_, open_rows), (replay_columns, replay_rows) = results
    return {
        "quarantine_by_status": {status: int(n) for status, n in status_rows},
        "quarantine_open": _open_by_cause(open_rows),
        "replays": _dicts(replay_columns, replay_rows),
    }


def _open_by_cause(open_rows: Sequence[Sequence[Any]]) -> list[dict[str, Any]]:
    """Open records by cause (the first rule failed, else the first reason) and age."""
    by_cause: dict[tuple[str, str], int] = {}
    for rules, reasons, bucket, records in open_rows:
        cause = (_first(rules) or _first(reasons) or "(no reason given)", bucket)
        by_cause[cause] = by_cause.get(cause, 0) + int(records)
    return [{"reason": r, "age": a, "records": n} for (r, a), n in sorted(by_cause.items())]


def _first(json_list: str | None) -> str | None:
    """The first item of a JSON array the index keeps (failed rules, reasons), if any: the rule a
    record failed names its cause without the record's own values, which its reason holds."""
    try:
        items = json.loads(json_list or "[]")
    except ValueError:
        return "(unreadable)"
    return str(items[0]) if isinstance(items, list) and items else None


def read_bad_records(
    uri: str, s3_client: Callable[[], Any], max_bytes: int = MAX_BAD_FILE_BYTES
) -> BadRecordsFile:
    """A bad-record file's lines, at most ``max_bytes`` of it; a file that cannot be read, or is
    larger, is reported, not raised."""
    from botocore.exceptions import ClientError

    bucket, key = uri.removeprefix("s3://").split("/", 1)
    try:
        body = s3_client().get_object(Bucket=bucket, Key=key)["Body"].read(max_bytes + 1)
    except ClientError as exc:
        # The file (or its bucket) is gone: the page flags the batch. Anything else (no
        # credentials, S3 unreachable) is not the batch's fault and is raised.
        if exc.response.get("Error", {}).get("Code") not in ("NoSuchKey", "NoSuchBucket", "404"):
            raise S3Unreadable(f"cannot read the bad records in S3 ({uri}): {exc}") from None
        log.warning("bad_records_missing", uri=uri)
        return BadRecordsFile(uri, 0, error="the file is missing")
    except Exception as exc:  # endpoint, credentials: one line for the user
        raise S3Unreadable(f"cannot read the bad records in S3 ({uri}): {str(exc).splitlines()[0]}") from None
    too_large = len(body) > max_bytes
    if too_large:  # the lines read so far, the last one cut off
        body = body[:max_bytes].rsplit(b"\n", 1)[0]
        log.warning("bad_records_too_large", uri=uri, max_bytes=max_bytes)
    records = []
    lines = body.decode("utf-8", errors="replace").splitlines()
    for line in lines:
        try:
            doc = json.loads(line)
        except ValueError:
            records.append({"reasons": ["unreadable line in the bad-record file"], "event_id": None})
            continue
        raw = doc.get("raw_fields") or {}
        records.append(
            {
                "reasons": doc.get("reasons") or ["(no reason recorded)"],
                "failed_rules": doc.get("failed_rules") or [],
                "event_id": doc.get("event_id"),
                "record_error": doc.get("record_error"),
                "title": raw.get("Series_Title"),
                "year": raw.get("Released_Year"),
                "rating": raw.get("IMDB_Rating"),
            }
        )
    error = f"larger than {max_bytes:,} bytes: only its first lines were read" if too_large else None
    return BadRecordsFile(uri, len(lines), records, error)
