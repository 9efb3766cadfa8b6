"""The Glue entry's pure parts: arguments, Kinesis and forEachBatch options, the frame adapter."""

from pathlib import Path

import pytest
from pyspark.sql import types as T

from moviestream.core.transform import SOURCE_SCHEMA
from moviestream.glue.streaming_job import (
    OPTIONAL_ARGUMENTS,
    for_each_batch_options,
    glue_starting_position,
    kinesis_connection_options,
    resolve_arguments,
    source_from_glue_frame,
)

ARGS = {
    **OPTIONAL_ARGUMENTS,
    "JOB_NAME": "moviestream-streaming",
    "stream_arn": "arn:aws:kinesis:eu-west-1:123456789012:stream/moviestream-movies",
    "bucket": "b",
    "ruleset_s3_uri": "s3://b/rules/movies.dqdl",
    "warehouse_dsn_secret": "moviestream/warehouse",
    "checkpoint_location": "s3://b/checkpoints/streaming",
}


def fake_get_resolved_options(argv, names):
    """getResolvedOptions' contract: every asked name must be passed, else SystemExit."""
    values = dict(a[2:].split("=", 1) for a in argv if a.startswith("--"))
    missing = [n for n in names if n not in values]
    if missing:
        raise SystemExit(f"missing {missing}")
    return {n: values[n] for n in names}


def test_only_passed_optional_arguments_are_asked_for_and_defaults_fill_the_rest():
    argv = ["script.py"] + [f"--{k}={ARGS[k]}" for k in ARGS if k not in OPTIONAL_ARGUMENTS]
    argv.append("--window_size=30 seconds")
    resolved = resolve_arguments(argv, fake_get_resolved_options)
    assert resolved["window_size"] == "30 seconds"
    assert resolved["starting_position"] == "trim_horizon"
    assert resolved["stream_arn"] == ARGS["stream_arn"]


def test_kinesis_options_a_production_job_sets():
    opts = kinesis_connection_options(ARGS)
    assert opts["streamARN"] == ARGS["stream_arn"]
    assert opts["startingPosition"] == "trim_horizon"
    assert opts["inferSchema"] == "false" and opts["classification"] == "json"
    assert opts["addRecordTimestamp"] == opts["emitConsumerLagMetrics"] == "true"
    assert opts["maxFetchRecordsPerShard"] == "20000" and opts["maxRecordPerRead"] == "10000"
    assert all(isinstance(v, str) for v in opts.values())  # Glue options are strings


def test_the_per_shard_cap_is_rounded_up_to_whole_reads_so_it_is_strict():
    opts = kinesis_connection_options({**ARGS, "max_fetch_records_per_shard": "25000"})
    assert (opts["maxFetchRecordsPerShard"], opts["maxRecordPerRead"]) == ("30000", "10000")
    small = kinesis_connection_options({**ARGS, "max_fetch_records_per_shard": "500"})
    assert (small["maxFetchRecordsPerShard"], small["maxRecordPerRead"]) == ("500", "500")
    with pytest.raises(ValueError):
        kinesis_connection_options({**ARGS, "max_fetch_records_per_shard": "0"})


@pytest.mark.parametrize(
    ("ours", "glue"),
    [
        ("trim_horizon", "trim_horizon"),
        ("LATEST", "latest"),
        ("at_timestamp:2026-11-23T08:00:00Z", "2026-11-23T08:00:00+00:00"),
        ("2026-04-04T08:00:00-04:00", "2026-04-04T08:00:00-04:00"),
    ],
)
def test_starting_positions_map_to_glues(ours, glue):
    assert glue_starting_position(ours) == glue


@pytest.mark.parametrize("bad", ["yesterday", "2026-11-23T08:00:00"])
def test_a_starting_position_glue_cannot_read_is_refused(bad):
    with pytest.raises(ValueError):
        glue_starting_position(bad)


def test_for_each_batch_options():
    opts = for_each_batch_options(ARGS)
    assert opts == {
        "windowSize": "10 seconds",
        "checkpointLocation": "s3://b/checkpoints/streaming/",
        "persistDataFrame": "false",
        "batchMaxRetries": "3",
    }
    with pytest.raises(ValueError, match="s3://"):
        for_each_batch_options({**ARGS, "checkpoint_location": "/tmp/cp"})


def test_glue_frames_become_the_pipelines_source_schema(spark):
    schema = T.StructType(
        [
            T.StructField("$json$data_infer_schema$_temporary$", T.StringType()),
            T.StructField("__src_timestamp", T.TimestampType()),
        ]
    )
    from datetime import datetime

    rows = [('{"a": 1}', datetime(2026, 11, 23, 8)), ("not json", None)]
    source = source_from_glue_frame(spark.createDataFrame(rows, schema), batch_id=4)
    assert source.schema.fieldNames() == SOURCE_SCHEMA.fieldNames()
    got = source.orderBy("sequence_number").collect()
    assert [bytes(r["data"]) for r in got] == [b'{"a": 1}', b"not json"]
    assert [r["sequence_number"] for r in got] == ["1", "2"]
    assert got[0]["shard_id"] == "glue-batch-4" and got[0]["approximate_arrival_timestamp"] == datetime(
        2026, 11, 23, 8
    )


def test_awsglue_is_imported_only_in_the_glue_entry_modules():
    root = Path(__file__).parents[2]
    importing = {
        str(p.relative_to(root))
        for folder in ("moviestream",)
        for p in (root / folder).rglob("*.py")
        if "awsglue" in p.read_text(encoding="utf-8").replace("`awsglue`", "")
    }
    assert importing <= {"moviestream/glue/streaming_job.py", "moviestream/glue/backfill_job.py"}


def test_every_kinesis_option_the_entry_passes_is_one_glue_documents():
    """The stand-in refuses undocumented options when main() runs; this says so without Spark."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "glue_standin" / "awsglue" / "kinesis_options.py"
    spec = importlib.util.spec_from_file_location("glue_kinesis_options", path)
    documented = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(documented)
    options = kinesis_connection_options(ARGS)
    assert set(options) <= documented.KINESIS_OPTIONS
    assert "failOnDataLoss" not in documented.KINESIS_OPTIONS  # a Spark Kafka option, not Glue's
