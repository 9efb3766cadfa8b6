"""AWS Glue 6.0 entry of the backfill (job type ``glueetl``): files in S3 -> per-batch pipeline.

Like moviestream/glue/streaming_job.py, the only backfill module that imports ``awsglue``, and only
inside ``main``; the argument handling is pure and unit-tested without Glue. The Step Functions
state machine (moviestream/backfill/aws/state_machine.asl.json) starts it with ``--input_uri`` set to
the object that arrived under raw/; a scheduled or manual run passes a prefix instead.

Job arguments (Terraform's glue_jobs module sets the fixed ones):
  --JOB_NAME              Glue's own
  --input_uri             s3://bucket/key of one file, or s3://bucket/prefix/ for every file under it
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

REQUIRED_ARGUMENTS = ("JOB_NAME", "input_uri", "bucket", "ruleset_s3_uri", "warehouse_dsn_secret")
OPTIONAL_ARGUMENTS: dict[str, str] = {
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
    force = args["force"].strip().lower()
    if force not in ("true", "false"):
        raise ValueError(f"--force must be true or false, not {args['force']!r}")
    return BackfillOptions(uri, chunk_rows, as_of, force == "true", *input_limits(args))


def main(argv: list[str] | None = None) -> None:
    from awsglue.utils import getResolvedOptions

    from moviestream.backfill.backfill import Backfill
    from moviestream.backfill.inputs import list_inputs
    from moviestream.core import logs
    from moviestream.core.config import AwsSettings
    from moviestream.glue.streaming_job import resolve_arguments, s3_text, secret_text, start_glue_job
    from moviestream.pipeline.config import build_config
    from moviestream.quality.dqdl import parse_ruleset
    from moviestream.quality.reference_sources import split_list
    from moviestream.quality.sql_guard import refuse_unsafe

    argv = sys.argv if argv is None else argv
    args = resolve_arguments(argv, getResolvedOptions, REQUIRED_ARGUMENTS, OPTIONAL_ARGUMENTS)
    options = backfill_options(args)
    logs.configure()
    log = logs.get("backfill")
    _, spark, job = start_glue_job(args)
    aws = AwsSettings()  # boto3's chains: Glue's AWS_REGION and the job role's credentials
    ruleset = parse_ruleset(s3_text(args["ruleset_s3_uri"], aws))
    refuse_unsafe(spark, ruleset, args["ruleset_s3_uri"])  # a ruleset may only read: refused at start
    config = build_config(
        job_name=args["JOB_NAME"],
        ruleset=ruleset,
        bucket=args["bucket"],
        warehouse_dsn=secret_text(args["warehouse_dsn_secret"], aws),
        aws=aws,
        metrics_namespace=args["metrics_namespace"],
        evaluation_context=args["evaluation_context"],
        references=split_list(args["references"]),
        reference_schemas=args["reference_schemas"],
        reference_reload_seconds=0.0,
        degraded_after_seconds=float(args["degraded_after_seconds"]),
        give_up_after_seconds=float(args["give_up_after_seconds"]),
        max_isolated_records=int(args["max_isolated_records"]),
        views_refresh_seconds=float(args["views_refresh_seconds"]),
    )
    backfill = Backfill(
        spark, config, chunk_rows=options.chunk_rows, limits=options.limits, archive=options.archive
    )
    try:
        summary = backfill.run(list_inputs(options.input_uri), as_of=options.as_of, force=options.force)
    finally:
        backfill.close()
    log.info("backfill_summary", **summary.as_dict())
    print(json.dumps(summary.as_dict()))  # the run's output log ends with the demo-style summary
    job.commit()
    if summary.failed:  # the other files loaded and are committed; the run still fails, naming them
        reasons = "; ".join(f.failed or "" for f in summary.failed)
        raise SystemExit(f"{len(summary.failed)} of {len(summary.files)} files could not be read: {reasons}")


if __name__ == "__main__":
    main()
