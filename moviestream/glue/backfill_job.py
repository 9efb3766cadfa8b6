"""AWS Glue 6.0 entry of the backfill (job type ``glueetl``): files in S3 -> per-batch pipeline.

Like moviestream/glue/streaming_job.py, the only backfill module that imports ``awsglue``, and only
inside ``main``; the argument handling is pure and unit-tested without Glue. The Step Functions
state machine (moviestream/backfill/aws/state_machine.asl.json) starts it with ``--input_uri`` set to
the object that arrived under raw/; a scheduled or manual run passes a prefix instead.

Job arguments (Terraform's glue_jobs module sets the fixed ones):
  --JOB_NAME              Glue's own
  --mode                  backfill (the default) or replay: judge quarantined records again
                          (moviestream/quarantine/replay.py), started the same way as a backfill
  --input_uri             backfill: s3://bucket/key of one file, or s3://bucket/prefix/ for every
                          file under it
  --replay_selection      replay: which records, a JSON object of the `quarantine list` filters
                          ({"rule": "...", "reason": "...", "job": "...", "status": "open",
                          "since": "<ISO-8601 with offset>", "until": "...", "ids": ["<id>", ...]})
  --fixes_uri             replay: s3://bucket/key of corrections keyed by quarantine_id (CSV or
                          JSON Lines); alone, they select their records
  --dry_run               replay: "true" judges and logs what would happen, writing nothing
  --replay_by             replay: who runs it, kept with each status change (default: the job
                          role's identity, from STS)
  --chunk_records         replay: records per ledger batch (default 1000)
  --bucket                bad records and rule outcomes
  --ruleset_s3_uri        the DQDL file
  --warehouse_dsn_secret  Secrets Manager secret holding the warehouse DSN (redshift://...)
  --chunk_rows            rows per ledger batch (default 100000)
  --as_of                 event time of the rows, ISO-8601 with offset (default: each file's
                          LastModified)
  --force                 "true" loads files again that were loaded before
  --degraded_after_seconds, --give_up_after_seconds  S3 or warehouse outages (moviestream/core/failure.py)
  --max_isolated_records  poison isolation's bound (default 100)
  --views_refresh_seconds the materialized views' refresh cadence (default 60; 0: never); the run
                          ends with one refresh
  --max_field_bytes, --max_row_bytes, --max_decompressed_bytes, --max_compression_ratio
                          the caps on what a file may hold (the local command's flags)
A run that fails raises, so Glue marks it FAILED and the state machine reports it; so does a run
in which a file could not be read, after the other files loaded.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from moviestream.backfill import DEFAULT_CHUNK_ROWS
from moviestream.backfill.backfill import parse_as_of
from moviestream.backfill.inputs import DEFAULT_ARCHIVE_LIMITS, ArchiveLimits
from moviestream.core.csv_source import DEFAULT_LIMITS, ReadLimits
from moviestream.quarantine.replay import DEFAULT_CHUNK_RECORDS, replay_selection
from moviestream.warehouse.quarantine_store import Selection

SELECTION_KEYS = ("job", "status", "since", "until", "rule", "reason", "ids")

REQUIRED_ARGUMENTS = ("JOB_NAME", "bucket", "ruleset_s3_uri", "warehouse_dsn_secret")
OPTIONAL_ARGUMENTS: dict[str, str] = {
    "mode": "backfill",
    "input_uri": "",  # required by the backfill mode
    "replay_selection": "",
    "fixes_uri": "",
    "dry_run": "false",
    "replay_by": "",
    "chunk_records": str(DEFAULT_CHUNK_RECORDS),
    "chunk_rows": str(DEFAULT_CHUNK_ROWS),
    "as_of": "",
    "force": "false",
    "degraded_after_seconds": "60",  # moviestream/core/failure.py
    "give_up_after_seconds": "3600",  # a run stuck this long fails; the state machine reports it
    "metrics_namespace": "",  # CloudWatch namespace of the per-batch metrics (Terraform's); empty: none
    "evaluation_context": "",  # data-quality metric history's context; empty: the job name
    "references": "",  # reference datasets, "alias=s3://...,alias2=warehouse:schema.table"; empty: none
    "reference_schemas": "movies",  # the schemas warehouse: references may read
    # Caps on what one file may hold (moviestream/core/csv_source.py, moviestream/backfill/inputs.py);
    # empty: defaults.
    "max_field_bytes": "",
    "max_row_bytes": "",
    "max_decompressed_bytes": "",
    "max_compression_ratio": "",
    "max_isolated_records": "100",  # poison isolation's bound (moviestream/pipeline/batch_pipeline.py)
    "views_refresh_seconds": "60",  # the materialized views' refresh cadence; 0: never
}


@dataclass(frozen=True)
class BackfillOptions:
    input_uri: str
    chunk_rows: int
    as_of: datetime | None  # naive UTC
    force: bool
    limits: ReadLimits = DEFAULT_LIMITS
    archive: ArchiveLimits = DEFAULT_ARCHIVE_LIMITS


def _number(args: Mapping[str, str], name: str, kind: type, default: float) -> float:
    text = args.get(name, "").strip()
    if not text:
        return default
    try:
        return kind(text)
    except ValueError:
        raise ValueError(f"--{name} must be a number, not {text!r}") from None


def input_limits(args: Mapping[str, str]) -> tuple[ReadLimits, ArchiveLimits]:
    """The caps from the job arguments (empty: the defaults); ValueError naming a bad one."""
    limits = ReadLimits(
        field_bytes=int(_number(args, "max_field_bytes", int, DEFAULT_LIMITS.field_bytes)),
        row_bytes=int(_number(args, "max_row_bytes", int, DEFAULT_LIMITS.row_bytes)),
    )
    archive = ArchiveLimits(
        decompressed_bytes=int(
            _number(args, "max_decompressed_bytes", int, DEFAULT_ARCHIVE_LIMITS.decompressed_bytes)
        ),
        ratio=_number(args, "max_compression_ratio", float, DEFAULT_ARCHIVE_LIMITS.ratio),
    )
    return limits, archive


@dataclass(frozen=True)
class ReplayOptions:
    selection: Selection  # as given; with none, the fixes' records (replay_selection)
    fixes_uri: str | None
    dry_run: bool
    chunk_records: int
    by: str | None  # None: the job role's identity


def _flag(args: Mapping[str, str], name: str) -> bool:
    value = args[name].strip().lower()
    if value not in ("true", "false"):
        raise ValueError(f"--{name} must be true or false, not {args[name]!r}")
    return value == "true"


def _selection_of(text: str) -> Selection:
    """--replay_selection: a JSON object of the `quarantine list` filters."""
    try:
        doc = json.loads(text) if text.strip() else {}
    except ValueError:
        raise ValueError(f"--replay_selection must be a JSON object, not {text[:200]!r}") from None
    if not isinstance(doc, dict):
        raise ValueError(f"--replay_selection must be a JSON object, not {text[:200]!r}")
    unknown = sorted(set(doc) - set(SELECTION_KEYS))
    if unknown:
        raise ValueError(
            f"--replay_selection: unknown {', '.join(map(repr, unknown))}; use {', '.join(SELECTION_KEYS)}"
        )
    texts = {k: v for k, v in doc.items() if k != "ids"}
    if any(v is not None and not isinstance(v, str) for v in texts.values()):
        raise ValueError("--replay_selection: every filter but ids is a text")
    ids = doc.get("ids") or []
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ValueError("--replay_selection: ids is a list of quarantine ids")
    since, until = (
        parse_as_of(texts[k], f"--replay_selection {k}", require_offset=True) if texts.get(k) else None
        for k in ("since", "until")
    )
    get = texts.get
    return Selection(get("job"), get("status"), since, until, get("rule"), get("reason"),
                     tuple(i.strip().lower() for i in ids))  # fmt: skip


def replay_options(args: Mapping[str, str]) -> ReplayOptions:
    """The replay mode's options from the job arguments; ValueError naming the one that is wrong."""
    fixes_uri = args["fixes_uri"].strip() or None
    if fixes_uri is not None and (not fixes_uri.startswith("s3://") or "/" not in fixes_uri[5:]):
        raise ValueError(f"--fixes_uri must be an s3://bucket/key URI, not {fixes_uri!r}")
    selection = _selection_of(args["replay_selection"])
    if fixes_uri is None:
        replay_selection(selection, {})  # refuses no selection at all, or a status that does not replay
    chunk = int(_number(args, "chunk_records", int, DEFAULT_CHUNK_RECORDS))
    if chunk < 1:
        raise ValueError("--chunk_records must be at least 1")
    return ReplayOptions(
        selection, fixes_uri, _flag(args, "dry_run"), chunk, args["replay_by"].strip() or None
    )


def backfill_options(args: Mapping[str, str]) -> BackfillOptions:
    """The run's options from the job arguments; ValueError naming the argument that is wrong."""
    uri = args["input_uri"].strip()
    if not uri.startswith("s3://") or len(uri) <= 5:
        raise ValueError(f"--input_uri must be an s3:// URI, not {uri!r}")
    try:
        chunk_rows = int(args["chunk_rows"])
    except ValueError:
        raise ValueError(f"--chunk_rows must be a whole number, not {args['chunk_rows']!r}") from None
    if chunk_rows < 1:
        raise ValueError("--chunk_rows must be at least 1")
    as_of = parse_as_of(args["as_of"], "--as_of", require_offset=True) if args["as_of"].strip() else None
    return BackfillOptions(uri, chunk_rows, as_of, _flag(args, "force"), *input_limits(args))


def main(argv: list[str] | None = None) -> None:
    from awsglue.utils import getResolvedOptions

    from moviestream.core import logs
    from moviestream.glue.streaming_job import resolve_arguments

    argv = sys.argv if argv is None else argv
    args = resolve_arguments(argv, getResolvedOptions, REQUIRED_ARGUMENTS, OPTIONAL_ARGUMENTS)
    mode = args["mode"].strip().lower()
    if mode not in ("backfill", "replay"):
        raise ValueError(f"--mode must be backfill or replay, not {args['mode']!r}")
    options = replay_options(args) if mode == "replay" else backfill_options(args)  # at once, before Glue
    logs.configure()
    if isinstance(options, ReplayOptions):
        _replay(args, options)
    else:
        _backfill(args, options)


def _started(args: Mapping[str, str], ruleset_text: str | None = None, evaluation_context: str | None = None):
    """(Spark, the Glue job, AWS settings, the pipeline's config): what both modes start with.
    The ruleset (read from S3 unless given) is refused at once if it does more than read."""
    from moviestream.core.config import AwsSettings
    from moviestream.glue.streaming_job import s3_text, secret_text, start_glue_job
    from moviestream.pipeline.config import build_config
    from moviestream.quality.dqdl import parse_ruleset
    from moviestream.quality.reference_sources import split_list
    from moviestream.quality.sql_guard import refuse_unsafe

    _, spark, job = start_glue_job(args)
    aws = AwsSettings()  # boto3's chains: Glue's AWS_REGION and the job role's credentials
    ruleset = parse_ruleset(
        ruleset_text if ruleset_text is not None else s3_text(args["ruleset_s3_uri"], aws)
    )
    refuse_unsafe(spark, ruleset, args["ruleset_s3_uri"])  # a ruleset may only read: refused at start
    config = build_config(
        job_name=args["JOB_NAME"],
        ruleset=ruleset,
        bucket=args["bucket"],
        warehouse_dsn=secret_text(args["warehouse_dsn_secret"], aws),
        aws=aws,
        metrics_namespace=args["metrics_namespace"],
        evaluation_context=evaluation_context or args["evaluation_context"],
        references=split_list(args["references"]),
        reference_schemas=args["reference_schemas"],
        reference_reload_seconds=0.0,
        degraded_after_seconds=float(args["degraded_after_seconds"]),
        give_up_after_seconds=float(args["give_up_after_seconds"]),
        max_isolated_records=int(args["max_isolated_records"]),
        views_refresh_seconds=float(args["views_refresh_seconds"]),
    )
    return spark, job, aws, config


def _backfill(args: Mapping[str, str], options: BackfillOptions) -> None:
    from moviestream.backfill.backfill import Backfill
    from moviestream.backfill.inputs import list_inputs
    from moviestream.core import logs

    spark, job, _, config = _started(args)
    backfill = Backfill(
        spark, config, chunk_rows=options.chunk_rows, limits=options.limits, archive=options.archive
    )
    try:
        summary = backfill.run(list_inputs(options.input_uri), as_of=options.as_of, force=options.force)
    finally:
        backfill.close()
    logs.get("backfill").info("backfill_summary", **summary.as_dict())
    print(json.dumps(summary.as_dict()))  # the run's output log ends with the demo-style summary
    job.commit()
    if summary.failed:  # the other files loaded and are committed; the run still fails, naming them
        reasons = "; ".join(f.failed or "" for f in summary.failed)
        raise SystemExit(f"{len(summary.failed)} of {len(summary.files)} files could not be read: {reasons}")


def _replay(args: Mapping[str, str], options: ReplayOptions) -> None:
    """The replay mode: the same replay as `moviestream quarantine replay`, on Glue's Spark."""
    from dataclasses import replace

    from moviestream.core.config import AwsSettings
    from moviestream.glue.streaming_job import s3_text
    from moviestream.quarantine.fixes import MAX_FIXES_BYTES, parse_fixes
    from moviestream.quarantine.replay import Replay, replay_id

    aws = AwsSettings()
    fixes = {}
    if options.fixes_uri is not None:
        bucket, key = options.fixes_uri[5:].split("/", 1)
        body = aws.client("s3").get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{MAX_FIXES_BYTES}")["Body"]
        fixes = parse_fixes(body.read(), options.fixes_uri)
    selection = replay_selection(options.selection, fixes)
    ruleset_text = s3_text(args["ruleset_s3_uri"], aws)
    replay = replay_id(selection, ruleset_text, fixes)
    spark, job, aws, config = _started(args, ruleset_text, evaluation_context=f"replay-{replay}")
    if options.dry_run:
        config = replace(config, metrics_namespace=None, views_refresh_s=0.0)
    by = options.by or aws.client("sts").get_caller_identity()["Arn"]
    runner = Replay(spark, config, replay, by, options.chunk_records)
    try:
        summary = runner.run(selection, fixes, dry_run=options.dry_run)
    finally:
        runner.close()
    print(json.dumps(summary.as_dict()))
    job.commit()
