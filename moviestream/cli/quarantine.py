"""``moviestream quarantine``: the bad records the pipeline rejected, indexed in the warehouse.

moviestream quarantine reindex [--bucket B] [--prefix bad_records]
moviestream quarantine list [--job J] [--status open] [--since T] [--until T] [--rule R] [--reason R]
                            [--limit N] [--json]
moviestream quarantine show QUARANTINE_ID [--json]
moviestream quarantine dismiss QUARANTINE_ID... --note TEXT
moviestream quarantine replay [selection as for list] [--fixes FILE] [--ruleset FILE] [--dry-run] [--json]

The index holds no raw fields: ``show`` and ``replay`` read a record's line from its S3 file with
the caller's own credentials.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click

from moviestream.cli.exit_codes import ExitCode, fail
from moviestream.cli.options import (
    DSN_OPTION,
    failure_options,
    metrics_option,
    reference_options,
    warehouse_errors,
    who,
)
from moviestream.core.config import resource_names
from moviestream.warehouse.quarantine import STATUSES

DEFAULT_RULESET = Path(__file__).parents[1] / "rules" / "movies.dqdl"


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
        result = warehouse_errors(lambda: run(dsn, s3, bucket, prefix, f"reindex by {who()}"))
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
    return value.isoformat() if isinstance(value, date) else value  # a datetime is a date too


@cli.command("list")
@DSN_OPTION
@selection_options
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per record.")
def list_cmd(dsn: str, job, status, since, until, rule, reason, ids, limit: int, as_json: bool) -> None:
    """List quarantined records, oldest first."""
    from moviestream.warehouse.quarantine_store import select

    records = warehouse_errors(
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
    matches = warehouse_errors(lambda: select(dsn, Selection(id_prefix=prefix), 2))
    if not matches:
        fail(f"no record in quarantine has the id {prefix}", ExitCode.FAILED)
    if len(matches) > 1:
        fail(f"{len(matches)} records have ids starting {prefix}: give more of it")
    return matches[0]


def _s3_line(s3_uri: str, line_number: int) -> dict[str, Any]:
    from moviestream.core.config import AwsConfigError, AwsSettings
    from moviestream.core.failure import one_line
    from moviestream.quarantine.bad_record_files import read_lines

    try:
        found = read_lines(AwsSettings().client("s3"), s3_uri, [line_number])
    except AwsConfigError as exc:
        fail(str(exc))
    except Exception as exc:  # no access with the caller's credentials, or S3 is down
        fail(f"cannot read {s3_uri}: {one_line(exc)}", ExitCode.FAILED)
    if found is None:
        fail(f"{s3_uri} is gone (the bucket's lifecycle expires bad records)", ExitCode.FAILED)
    if line_number not in found:
        fail(f"{s3_uri} has no line {line_number}", ExitCode.FAILED)
    return found[line_number]


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
    changed = warehouse_errors(lambda: set_status(dsn, ids, "dismissed", who(), at, note=note[:1024]))
    click.echo(f"dismissed {changed} record{'s' if changed != 1 else ''}")


@cli.command()
@DSN_OPTION
@selection_options
@click.option(
    "--fixes",
    "fixes_path",
    type=click.Path(path_type=Path),
    help="Corrected rows keyed by quarantine_id (CSV or JSON Lines); alone, they select their records.",
)
@click.option(
    "--ruleset", "ruleset_path", type=click.Path(path_type=Path), default=DEFAULT_RULESET, show_default=True
)
@click.option("--job-name", default="moviestream-replay", show_default=True, help="The replay's ledger job.")
@click.option(
    "--bucket", default=resource_names()["bucket_name"], show_default=True, envvar="MOVIESTREAM_BUCKET"
)
@click.option("--chunk-records", type=click.IntRange(min=1), default=1000, show_default=True)
@click.option("--dry-run", is_flag=True, help="Judge and show what would happen; write nothing.")
@click.option("--json", "as_json", is_flag=True, help="The summary as one JSON object.")
@failure_options(give_up_default=600.0)
@metrics_option
@reference_options(reload=False)
def replay(
    dsn: str,
    job,
    status,
    since,
    until,
    rule,
    reason,
    ids,
    fixes_path: Path | None,
    ruleset_path: Path,
    job_name: str,
    bucket: str,
    chunk_records: int,
    dry_run: bool,
    as_json: bool,
    degraded_after_seconds: float,
    give_up_after_seconds: float,
    metrics_namespace: str,
    references: tuple[str, ...],
    ref_schemas: str,
) -> None:
    """Judge quarantined records again with the current ruleset (corrected by --fixes), and load
    those that now pass, exactly once. Rerun after a crash: it resumes."""
    from moviestream.core import logs

    logs.configure()
    from moviestream.core.config import AwsSettings
    from moviestream.pipeline.config import build_config
    from moviestream.quality.dqdl import read_ruleset
    from moviestream.quarantine.fixes import FixesError, read_fixes
    from moviestream.quarantine.replay import replay_id
    from moviestream.warehouse.targets import open_warehouse

    aws = AwsSettings()
    try:  # everything a user can get wrong, before Spark starts
        fixes = read_fixes(fixes_path) if fixes_path is not None else {}
        selected = _replay_selection(job, status, since, until, rule, reason, ids, fixes)
        ruleset = read_ruleset(ruleset_path)
        replay = replay_id(selected, ruleset_path.read_text(encoding="utf-8"), fixes)
        config = build_config(
            job_name=job_name,
            ruleset=ruleset,
            bucket=bucket,
            warehouse_dsn=dsn,
            aws=aws,
            metrics_namespace="" if dry_run else metrics_namespace,
            evaluation_context=f"replay-{replay}",  # never the live context's history
            references=references,
            reference_schemas=ref_schemas,
            reference_reload_seconds=0.0,
            degraded_after_seconds=degraded_after_seconds,
            give_up_after_seconds=give_up_after_seconds,
            max_isolated_records=100,
            views_refresh_seconds=0.0 if dry_run else 60.0,
        )
        warehouse_errors(lambda: open_warehouse(dsn, lambda: aws.client("s3")).check_reachable())
    except (FixesError, ValueError) as exc:
        fail(str(exc))
    summary = _run_replay(config, replay, selected, fixes, dry_run, chunk_records, str(ruleset_path))
    _print_replay(summary, as_json)


def _replay_selection(job, status, since, until, rule, reason, ids, fixes) -> Any:
    from moviestream.quarantine.replay import replay_selection

    return replay_selection(_selection(job, status, since, until, rule, reason, ids), fixes)


def _run_replay(config, replay: str, selected, fixes, dry_run: bool, chunk_records: int, rules: str) -> Any:
    from moviestream.core.failure import GaveUp, PermanentFailure
    from moviestream.core.spark import local_session
    from moviestream.quality.reference_sources import ReferenceLoadError
    from moviestream.quality.sql_guard import RulesetRefused, refuse_unsafe
    from moviestream.quarantine.replay import Replay

    spark = local_session(config.job_name)
    runner = Replay(spark, config, replay, who(), chunk_records)
    try:
        refuse_unsafe(spark, config.ruleset, rules)
        runner.pipeline.references(spark)
        return runner.run(selected, fixes, dry_run=dry_run)
    except (ReferenceLoadError, RulesetRefused, ValueError) as exc:
        fail(str(exc))
    except (PermanentFailure, GaveUp) as exc:  # logged by the pipeline; the replay resumes
        fail(f"the replay stopped: {exc} (run it again to resume)", ExitCode.FAILED)
    finally:
        runner.close()
        spark.stop()


def _print_replay(summary: Any, as_json: bool) -> None:
    out = summary.as_dict()
    if as_json:
        click.echo(json.dumps(out, ensure_ascii=False))
        return
    counts = ", ".join(f"{n} {s}" for s, n in out["this_run"].items()) or "nothing"
    verb = "would make" if summary.dry_run else "made"
    click.echo(f"replay {summary.replay_id}: {summary.pending} records to judge; this run {verb} {counts}")
    if summary.fixes_unused:
        click.echo(f"  {summary.fixes_unused} corrections are for records this replay did not judge")
    if summary.dry_run:
        for row in out["preview"]:
            why = "; ".join(row["reasons"])[:80]
            click.echo(
                f"  {row['quarantine_id'][:12]}  {row['status']:<10}  {row['movie_id'] or '':<16}  {why}"
            )
        click.echo("  (dry run: nothing was written)")
    else:
        totals = ", ".join(f"{n} {s}" for s, n in out["replay_totals"].items()) or "none"
        click.echo(f"  the replay's records so far: {totals}")
