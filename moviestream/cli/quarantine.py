"""``moviestream quarantine``: the bad records the pipeline rejected, indexed in the warehouse.

moviestream quarantine reindex [--bucket B] [--prefix bad_records]
moviestream quarantine list [--job J] [--status open] [--since T] [--until T] [--rule R] [--reason R]
                            [--limit N] [--json]
moviestream quarantine show QUARANTINE_ID [--json]
moviestream quarantine dismiss QUARANTINE_ID... --note TEXT

The index holds no raw fields: ``show`` reads a record's line from its S3 file with the caller's
own credentials.
"""

from __future__ import annotations

import getpass
import json
import os
from datetime import UTC, datetime
from typing import Any

import click

from moviestream.cli.exit_codes import ExitCode, fail
from moviestream.cli.options import DSN_OPTION
from moviestream.core.config import resource_names
from moviestream.warehouse.contract import WarehouseUnavailable
from moviestream.warehouse.quarantine import STATUSES

# A record's line read back for `show`: the pipeline writes a few kilobytes a record.
MAX_SHOW_BYTES = 64 * 1024 * 1024


def who() -> str:
    """Who changes a record's status: $MOVIESTREAM_USER, else the OS user."""
    try:
        return os.environ.get("MOVIESTREAM_USER") or getpass.getuser()
    except OSError:
        return "unknown"


def _warehouse_errors(call):
    from moviestream.core.failure import one_line

    try:
        return call()
    except (WarehouseUnavailable, ValueError) as exc:  # unreachable, refused, a bad DSN or flag
        fail(str(exc))
    except Exception as exc:  # e.g. the index's tables missing: say so in one line
        fail(f"the warehouse refused: {one_line(exc)} (apply the schema: moviestream warehouse apply)")


def _timestamp(_ctx, _param, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time (2026-12-07T10:00:00Z)") from None
    return parsed.astimezone(UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


@click.group("quarantine")
def cli() -> None:
    """The quarantine: bad records, indexed in the warehouse, with what became of each."""


@cli.command()
@DSN_OPTION
@click.option(
    "--bucket", default=resource_names()["bucket_name"], show_default=True, envvar="MOVIESTREAM_BUCKET"
)
@click.option(
    "--prefix", default="bad_records", show_default=True, help="Where the bad records are in the bucket."
)
def reindex(dsn: str, bucket: str, prefix: str) -> None:
    """Index the bad records in S3 that the index lacks (idempotent)."""
    from moviestream.core import logs

    logs.configure()  # one line per file read, on stderr
    from moviestream.core.config import AwsConfigError, AwsSettings
    from moviestream.quarantine.reindex import reindex as run

    try:
        s3 = AwsSettings().client("s3")
    except AwsConfigError as exc:
        fail(str(exc))
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        result = _warehouse_errors(lambda: run(dsn, s3, bucket, prefix, f"reindex by {who()}"))
    except (BotoCoreError, ClientError) as exc:
        fail(f"cannot read s3://{bucket}/{prefix}/: {exc}")
    click.echo(result.line())


def selection_options(command):
    for option in reversed(
        (
            click.option("--job", help="Only this job's records."),
            click.option("--status", type=click.Choice(STATUSES), help="Only records in this status."),
            click.option("--since", callback=_timestamp, help="Quarantined at or after (ISO 8601, UTC)."),
            click.option("--until", callback=_timestamp, help="Quarantined before (ISO 8601, UTC)."),
            click.option("--rule", help="A failed rule's text contains this."),
            click.option("--reason", help="A reason contains this."),
            click.option("--id", "ids", multiple=True, help="This record (repeatable)."),
        )
    ):
        command = option(command)
    return command


def _selection(job, status, since, until, rule, reason, ids):
    from moviestream.warehouse.quarantine_store import Selection

    return Selection(job, status, since, until, rule, reason, tuple(ids))


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


@cli.command("list")
@DSN_OPTION
@selection_options
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record.")
def list_cmd(dsn: str, job, status, since, until, rule, reason, ids, limit: int, as_json: bool) -> None:
    """List quarantined records, oldest first."""
    from moviestream.warehouse.quarantine_store import select

    records = _warehouse_errors(
        lambda: select(dsn, _selection(job, status, since, until, rule, reason, ids), limit)
    )
    if as_json:
        for record in records:
            click.echo(json.dumps({k: _plain(v) for k, v in record.items()}, ensure_ascii=False))
        return
    if not records:
        click.echo("no records in quarantine match")
        return
    header = ("ID", "STATUS", "QUARANTINED", "JOB", "BATCH", "REASONS")
    rows = [
        (
            r["quarantine_id"][:12],
            r["status"],
            r["quarantined_at"].strftime("%Y-%m-%d %H:%M:%S"),
            r["job_name"],
            str(r["batch_id"]),
            "; ".join(json.loads(r["reasons"]))[:80],
        )
        for r in records
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    for row in (header, *rows):
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _find(dsn: str, prefix: str) -> dict[str, Any]:
    """The record whose id is ``prefix`` or starts with it (list shows 12 characters)."""
    from moviestream.warehouse.quarantine_store import Selection, select

    if len(prefix) < 8 or any(c not in "0123456789abcdef" for c in prefix):
        fail(f"{prefix!r} is not a quarantine id (64 hex characters; 8 or more of its first are enough)")
    matches = _warehouse_errors(lambda: select(dsn, Selection(id_prefix=prefix), 2))
    if not matches:
        fail(f"no record in quarantine has the id {prefix}", ExitCode.FAILED)
    if len(matches) > 1:
        fail(f"{len(matches)} records have ids starting {prefix}: give more of it")
    return matches[0]


def _s3_line(s3_uri: str, line_number: int) -> dict[str, Any]:
    from moviestream.core.config import AwsConfigError, AwsSettings

    bucket, _, key = s3_uri.removeprefix("s3://").partition("/")
    try:
        body = AwsSettings().client("s3").get_object(Bucket=bucket, Key=key)["Body"]
    except AwsConfigError as exc:
        fail(str(exc))
    except Exception as exc:  # missing (expired), or no access with the caller's credentials
        from moviestream.core.failure import one_line

        fail(f"cannot read {s3_uri}: {one_line(exc)}", ExitCode.FAILED)
    read = 0
    for number, raw in enumerate(body.iter_lines(), start=1):
        read += len(raw) + 1
        if number == line_number:
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = None
            return (
                doc if isinstance(doc, dict) else {"unreadable_line": raw[:1024].decode("utf-8", "replace")}
            )
        if read > MAX_SHOW_BYTES:
            break
    fail(f"{s3_uri} has no line {line_number}", ExitCode.FAILED)


@cli.command()
@DSN_OPTION
@click.argument("quarantine_id")
@click.option("--json", "as_json", is_flag=True, help="The record as one JSON object.")
def show(dsn: str, quarantine_id: str, as_json: bool) -> None:
    """A record: its reasons, the rules it failed and its raw fields (read from S3)."""
    record = _find(dsn, quarantine_id.lower())
    line = _s3_line(record["s3_uri"], record["line_number"])
    if as_json:
        out = {k: _plain(v) for k, v in record.items()}
        out.update(raw_fields=line.get("raw_fields"), payload_base64=line.get("payload_base64"))
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    click.echo(f"quarantine_id  {record['quarantine_id']}")
    click.echo(f"status         {record['status']} (since {record['status_changed_at']:%Y-%m-%d %H:%M:%S},"
               f" by {record['status_changed_by']})")  # fmt: skip
    click.echo(f"quarantined    {record['quarantined_at']:%Y-%m-%d %H:%M:%S} by {record['job_name']},"
               f" batch {record['batch_id']}")  # fmt: skip
    click.echo(f"event_id       {record['event_id'] or '(none: the record did not parse)'}")
    click.echo(f"stored at      {record['s3_uri']} line {record['line_number']}")
    click.echo("reasons")
    for reason in json.loads(record["reasons"]):
        click.echo(f"  - {reason}")
    rules = json.loads(record["failed_rules"])
    if rules:
        click.echo("failed rules")
        for rule in rules:
            click.echo(f"  - {rule}")
    if record["note"]:
        click.echo(f"note           {record['note']}")
    raw = line.get("raw_fields")
    if raw:
        click.echo("raw fields")
        width = max(len(k) for k in raw)
        for name, value in raw.items():
            click.echo(
                f"  {name.ljust(width)}  {value!r}" if value is not None else f"  {name.ljust(width)}  (none)"
            )
    elif line.get("raw_line"):  # a row the backfill could not read as CSV
        click.echo(f"raw line       {line['raw_line'][:2000]!r}")
    elif line.get("payload_base64"):
        click.echo(f"payload (base64)  {line['payload_base64'][:400]}")


@cli.command()
@DSN_OPTION
@click.argument("quarantine_ids", nargs=-1, required=True)
@click.option("--note", required=True, help="Why they are closed without loading.")
def dismiss(dsn: str, quarantine_ids: tuple[str, ...], note: str) -> None:
    """Close records without loading them, with a note."""
    from moviestream.warehouse.quarantine_store import set_status

    records = [_find(dsn, q.lower()) for q in quarantine_ids]
    ids = [r["quarantine_id"] for r in records]
    at = datetime.now(UTC).replace(tzinfo=None)
    changed = _warehouse_errors(lambda: set_status(dsn, ids, "dismissed", who(), at, note=note[:1024]))
    click.echo(f"dismissed {changed} record{'s' if changed != 1 else ''}")
