"""AWS Glue 6.0 entry of the streaming job (job type ``gluestreaming``): Kinesis -> per-batch pipeline.

The only module of the streaming job that imports ``awsglue``, and only inside ``main``: the
option builders and the frame adapter below are pure and unit-tested without Glue.

Job arguments (``getResolvedOptions``; Terraform's glue_jobs module sets them):
  --JOB_NAME              Glue's own
  --stream_arn            the Kinesis stream
  --bucket                bad records and rule outcomes
  --ruleset_s3_uri        the DQDL file (uploaded by Terraform beside the code)
  --warehouse_dsn_secret  Secrets Manager secret holding the warehouse DSN (redshift://...)
  --checkpoint_location   s3://... Spark checkpoint (the stream id lives there)
  --window_size           micro-batch trigger, e.g. "10 seconds"
  --starting_position     trim_horizon | latest | an ISO-8601 timestamp with offset
  --max_fetch_records_per_shard, --event_bus, --event_source (the breach and health
                          events' EventBridge source; rules route them to the alert topic),
                          --failure_ratio_threshold,
  --degraded_after_seconds, --give_up_after_seconds  (moviestream/core/failure.py; 0: never give up)
  --views_refresh_seconds refresh the materialized views at most this often (default 60; 0: never)
  --metrics_namespace     CloudWatch namespace of the per-batch metrics (moviestream/core/metrics.py)
  --evaluation_context    data-quality metric history's context (default: the job name)
  --references            reference datasets for the rules, "alias=s3://...,alias2=warehouse:s.t"
  --reference_reload_seconds  reload them this often (default 300; 0: never)
  --annotations_reload_seconds  read people's annotations on the metric history this often
                          (default 60)

Source: ``glueContext.create_data_frame.from_options(connection_type="kinesis")`` with the record
arrival time (``addRecordTimestamp``) and without schema inference, so every payload reaches the
pipeline as it was written, poison included. AWS does not document whether this source expands
KPL aggregates; the pipeline detects the aggregate magic bytes itself, so either way works.
Warehouse: the same stage + MERGE + ledger transaction as locally, on a DSN read from Secrets
Manager: ``redshift://...`` loads Redshift through redshift_connector, staging each batch in S3
for COPY (moviestream/warehouse/redshift.py; see docs/ARCHITECTURE.md, "Glue entry").
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from moviestream.core.spark import SQL_SETTINGS
from moviestream.pipeline.alerts import DEFAULT_FAILURE_RATIO

REQUIRED_ARGUMENTS = (
    "JOB_NAME",
    "stream_arn",
    "bucket",
    "ruleset_s3_uri",
    "warehouse_dsn_secret",
    "checkpoint_location",
)
OPTIONAL_ARGUMENTS: dict[str, str] = {
    "window_size": "10 seconds",
    "starting_position": "trim_horizon",
    "max_fetch_records_per_shard": "20000",
    "event_bus": "default",
    "event_source": "",  # empty: resources.json's (Terraform passes the environment's)
    "degraded_after_seconds": "60",  # moviestream/core/failure.py
    "give_up_after_seconds": "0",  # never: a streaming job waits out any outage
    "metrics_namespace": "",  # CloudWatch namespace of the per-batch metrics (Terraform's); empty: none
    "evaluation_context": "",  # data-quality metric history's context; empty: the job name
    "reference_reload_seconds": "300",
    "annotations_reload_seconds": "60",  # people's annotations on the metric history, read again
    "references": "",  # reference datasets, "alias=s3://...,alias2=warehouse:schema.table"; empty: none
    "reference_schemas": "movies",  # the schemas warehouse: references may read
    "failure_ratio_threshold": str(DEFAULT_FAILURE_RATIO),
    "max_isolated_records": "100",  # poison isolation's bound (moviestream/pipeline/batch_pipeline.py)
    "views_refresh_seconds": "60",  # the materialized views' refresh cadence; 0: never
}
GET_RECORDS_LIMIT = 10_000


def resolve_arguments(
    argv: list[str],
    get_resolved_options,  # awsglue.utils.getResolvedOptions
    required: tuple[str, ...] = REQUIRED_ARGUMENTS,
    optional: Mapping[str, str] = OPTIONAL_ARGUMENTS,
) -> dict[str, str]:
    """Glue's getResolvedOptions for the required names, plus each optional one that was passed
    (getResolvedOptions fails on a missing name, so optional ones are only asked for if present)."""
    passed = {a[2:].split("=", 1)[0] for a in argv if a.startswith("--")}
    names = [*required, *(n for n in optional if n in passed)]
    resolved = get_resolved_options(argv, names)
    return {**optional, **{k: v for k, v in resolved.items() if k in names}}


def kinesis_connection_options(args: Mapping[str, str]) -> dict[str, str]:
    """connection_options for create_data_frame.from_options(connection_type="kinesis")."""
    per_shard = int(args["max_fetch_records_per_shard"])
    if per_shard < 1:
        raise ValueError("max_fetch_records_per_shard must be at least 1")
    # Glue reads in GetRecords calls of maxRecordPerRead and may overshoot maxFetchRecordsPerShard
    # unless it is a multiple of it: keep the cap strict.
    per_read = min(GET_RECORDS_LIMIT, per_shard)
    per_shard = -(-per_shard // per_read) * per_read
    return {
        "streamARN": args["stream_arn"],
        "startingPosition": glue_starting_position(args["starting_position"]),
        "classification": "json",
        "inferSchema": "false",  # payloads stay as written; the pipeline parses and judges them
        "maxFetchRecordsPerShard": str(per_shard),
        "maxRecordPerRead": str(per_read),
        "maxFetchTimeInMs": "1000",
        "describeShardInterval": "1s",  # resharding noticed within a second
        "avoidEmptyBatches": "true",
        "addRecordTimestamp": "true",  # __src_timestamp: Kinesis arrival time, for lag metrics
        "emitConsumerLagMetrics": "true",  # CloudWatch glue.driver.streaming.maxConsumerLagInMs
        "numRetries": "5",
        "retryIntervalMs": "1000",
        "maxRetryIntervalMs": "10000",
    }


def glue_starting_position(value: str) -> str:
    """Ours (trim_horizon | latest | at_timestamp:ISO) -> Glue's (trim_horizon | latest | ISO)."""
    text = value.strip()
    lowered = text.lower()
    if lowered in ("trim_horizon", "latest", "earliest"):
        return lowered
    if lowered.startswith("at_timestamp:"):
        text = text.split(":", 1)[1].strip()
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"unknown starting position {value!r}") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"starting position {value!r} needs a UTC offset, e.g. 2026-01-01T00:00:00+00:00")
    return parsed.isoformat(timespec="seconds")


def for_each_batch_options(args: Mapping[str, str]) -> dict[str, str]:
    """options for glueContext.forEachBatch: the trigger, the checkpoint, and Glue's own caching
    off (the pipeline persists what it needs once)."""
    location = args["checkpoint_location"]
    if not location.startswith("s3://"):
        raise ValueError(f"checkpoint_location must be an s3:// URI, not {location!r}")
    return {
        "windowSize": args["window_size"],
        "checkpointLocation": location.rstrip("/") + "/",
        "persistDataFrame": "false",
        "batchMaxRetries": "3",
    }


def source_from_glue_frame(df: DataFrame, batch_id: int) -> DataFrame:
    """Glue's Kinesis micro-batch in the pipeline's source schema (moviestream.streaming.kinesis_source).

    Glue does not expose shard ids or sequence numbers with inferSchema off; records keep their
    order within the batch through a per-batch position, which is what deduplication needs.
    """
    payload_col = next((c for c in ("data", "$json$data_infer_schema$_temporary$") if c in df.columns), None)
    if payload_col is None:
        raise ValueError(f"unexpected Glue Kinesis frame, columns: {df.columns}")
    payload = F.col(f"`{payload_col}`")
    data = payload if dict(df.dtypes)[payload_col] == "binary" else F.encode(payload, "UTF-8")
    arrival = F.col("__src_timestamp") if "__src_timestamp" in df.columns else F.lit(None)
    position = F.row_number().over(Window.orderBy(F.monotonically_increasing_id()))
    return df.select(
        F.lit(f"glue-batch-{batch_id}").alias("shard_id"),
        position.cast("string").alias("sequence_number"),
        F.lit(None).cast("string").alias("partition_key"),
        arrival.cast("timestamp").alias("approximate_arrival_timestamp"),
        data.alias("data"),
    )


def frame_shape(df: DataFrame, batch_id: int) -> dict[str, Any]:
    """What the first micro-batch's frame looks like, for the log line that answers "does the
    Glue 6.0 Kinesis frame look the way source_from_glue_frame expects?" from CloudWatch Logs:
    its columns and types, which of them is the payload, and whether it is what the code reads."""
    types = dict(df.dtypes)
    payload = next((c for c in ("data", "$json$data_infer_schema$_temporary$") if c in types), None)
    return {
        "batch_id": batch_id,
        "columns": types,
        "payload_column": payload,
        "payload_type": types.get(payload) if payload else None,
        "arrival_column": "__src_timestamp" if "__src_timestamp" in types else None,
        "as_expected": payload is not None and types[payload] in ("binary", "string"),
    }


def streaming_query_id(spark: SparkSession) -> str:
    """The ledger's stream id: the id of the job's one streaming query, which Spark keeps in the
    checkpoint (a new checkpoint is a new id, so its batch 0 never collides with an old one)."""
    ids = {str(q.id) for q in spark.streams.active}
    if len(ids) != 1:
        raise RuntimeError(f"expected exactly one active streaming query, found {len(ids)}")
    return ids.pop()


def start_glue_job(args: Mapping[str, str]):
    """(GlueContext, its SparkSession with SQL_SETTINGS set, the initialised Job): the start
    both Glue entries share (this one and moviestream/glue/backfill_job.py)."""
    from awsglue.context import GlueContext
    from awsglue.job import Job
    from pyspark.context import SparkContext

    glue_context = GlueContext(SparkContext.getOrCreate())
    spark = glue_context.spark_session
    for key, value in SQL_SETTINGS.items():
        spark.conf.set(key, value)
    job = Job(glue_context)
    job.init(args["JOB_NAME"], args)
    return glue_context, spark, job


def s3_text(uri: str, aws) -> str:  # moviestream.core.config.AwsSettings
    """The UTF-8 text of an s3://bucket/key object (the ruleset the job runs)."""
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    return aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")


def secret_text(secret_id: str, aws) -> str:  # moviestream.core.config.AwsSettings
    """A Secrets Manager secret's string (the warehouse DSN)."""
    return aws.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]


def main(argv: list[str] | None = None) -> None:
    from awsglue.utils import getResolvedOptions

    from moviestream.core import logs
    from moviestream.core.config import AwsSettings, resource_names
    from moviestream.pipeline.alerts import AlertConfig
    from moviestream.pipeline.batch_pipeline import BatchPipeline
    from moviestream.pipeline.config import build_config
    from moviestream.quality.dqdl import parse_ruleset
    from moviestream.quality.reference_sources import split_list
    from moviestream.quality.sql_guard import refuse_unsafe

    argv = sys.argv if argv is None else argv
    args = resolve_arguments(argv, getResolvedOptions)
    logs.configure()
    glue_context, spark, job = start_glue_job(args)
    aws = AwsSettings()  # boto3's chains: Glue's AWS_REGION and the job role's credentials
    ruleset = parse_ruleset(s3_text(args["ruleset_s3_uri"], aws))
    refuse_unsafe(spark, ruleset, args["ruleset_s3_uri"])  # a ruleset may only read: refused at start
    names = resource_names()
    alerts = AlertConfig(
        event_source=args["event_source"] or names["event_source"],
        event_bus=args["event_bus"],
        failure_ratio_threshold=float(args["failure_ratio_threshold"]),
    )
    config = build_config(
        job_name=args["JOB_NAME"],
        ruleset=ruleset,
        bucket=args["bucket"],
        warehouse_dsn=secret_text(args["warehouse_dsn_secret"], aws),
        aws=aws,
        alerts=alerts,
        metrics_namespace=args["metrics_namespace"],
        evaluation_context=args["evaluation_context"],
        references=split_list(args["references"]),
        reference_schemas=args["reference_schemas"],
        reference_reload_seconds=float(args["reference_reload_seconds"]),
        annotations_reload_seconds=float(args["annotations_reload_seconds"]),
        degraded_after_seconds=float(args["degraded_after_seconds"]),
        give_up_after_seconds=float(args["give_up_after_seconds"]),
        max_isolated_records=int(args["max_isolated_records"]),
        views_refresh_seconds=float(args["views_refresh_seconds"]),
    )
    pipeline = BatchPipeline(config, lambda: streaming_query_id(spark))
    frame = glue_context.create_data_frame.from_options(
        connection_type="kinesis",
        connection_options=kinesis_connection_options(args),
        transformation_ctx="kinesis_source",
    )

    schema_logged = False

    def process(batch: DataFrame, batch_id: int) -> None:
        nonlocal schema_logged
        if not schema_logged:  # once: what Glue's Kinesis frame looks like (terraform/README.md)
            logs.get("streaming").info("first_batch_schema", **frame_shape(batch, batch_id))
            schema_logged = True
        pipeline.process(source_from_glue_frame(batch, batch_id), batch_id)

    try:
        glue_context.forEachBatch(frame=frame, batch_function=process, options=for_each_batch_options(args))
    finally:
        pipeline.close()
    job.commit()


if __name__ == "__main__":
    main()
