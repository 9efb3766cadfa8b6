"""The per-batch CloudWatch metrics, published by the shared pipeline (in process, on the test
session's Spark and LocalStack): read back with GetMetricData, and an unreachable CloudWatch
neither fails nor slows a batch."""

from __future__ import annotations

import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from moviestream.core.config import AwsSettings
from moviestream.core.transform import SOURCE_SCHEMA
from moviestream.pipeline.batch_pipeline import BatchPipeline, PipelineConfig
from moviestream.pipeline.metrics_publisher import MetricsPublisher
from moviestream.quality.dqdl import read_ruleset
from tests.helpers import envelope, movie_fields
from tests.integration.databases import fresh_warehouse

RULESET = Path(__file__).parents[2] / "moviestream" / "rules" / "movies.dqdl"
BATCHES = 3


def _batch(spark, batch_id: int, rows: int = 40):
    now = datetime.now(UTC).replace(tzinfo=None)
    produced = (now - timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    records = []
    for i in range(rows):
        fields = movie_fields(Series_Title=f"Metric Film {batch_id}-{i}", Released_Year=str(1950 + i))
        if i % 10 == 0:
            fields["IMDB_Rating"] = "not a rating"  # a bad record
        doc = envelope(f"m-{batch_id}-{i}", fields, produced_at=produced, row_number=i)
        records.append(("shardId-000000000000", f"{batch_id:04d}{i:06d}", f"pk{i}", now, doc))
    return spark.createDataFrame(records, SOURCE_SCHEMA)


def _pipeline(stack, namespace: str, job_name: str) -> BatchPipeline:
    bucket = f"metrics-{uuid.uuid4().hex[:8]}"
    AwsSettings().client("s3").create_bucket(Bucket=bucket)
    config = PipelineConfig(
        job_name=job_name,
        ruleset=read_ruleset(RULESET),
        bucket=bucket,
        warehouse_dsn=fresh_warehouse(stack),
        metrics_namespace=namespace,
    )
    return BatchPipeline(config, lambda: f"stream-{job_name}")


def _run(spark, pipeline: BatchPipeline, batches: int = BATCHES) -> None:
    for batch_id in range(batches):
        result = pipeline.process(_batch(spark, batch_id), batch_id)
        assert result is not None and result.loaded


@pytest.fixture
def blackhole():
    """An endpoint that accepts connections and never answers (a firewall dropping replies)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()


def test_metrics_reach_cloudwatch_and_an_unreachable_cloudwatch_neither_fails_nor_slows_a_batch(
    stack, spark, blackhole, monkeypatch
):
    namespace = f"moviestream-test-{uuid.uuid4().hex[:6]}"
    # The first batches of a session warm its Spark up. (LocalStack matches a dimension value as
    # a substring: no job name here may contain another.)
    warm_up = _pipeline(stack, namespace, "warm-up")
    _run(spark, warm_up, batches=1)
    warm_up.close()
    reachable = _pipeline(stack, namespace, "metrics-reachable")
    _run(spark, reachable)
    reachable.close()

    cloudwatch = AwsSettings().client("cloudwatch")
    now = datetime.now(UTC)
    queries = [
        {
            "Id": name.lower(),
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": name,
                    "Dimensions": [{"Name": "JobName", "Value": "metrics-reachable"}],
                },
                "Period": 300,
                "Stat": stat,
            },
        }
        for name, stat in (
            ("RecordsIn", "Sum"),
            ("BadRecords", "Sum"),
            ("BadRecordRatio", "Average"),
            ("LagP50Seconds", "Minimum"),
        )
    ]
    results = cloudwatch.get_metric_data(
        MetricDataQueries=queries, StartTime=now - timedelta(minutes=30), EndTime=now + timedelta(minutes=5)
    )["MetricDataResults"]
    got = {
        r["Id"]: sum(r["Values"]) if r["Id"] in ("recordsin", "badrecords") else r["Values"] for r in results
    }
    assert got["recordsin"] == BATCHES * 40 and got["badrecords"] == BATCHES * 4
    assert got["badrecordratio"] and all(abs(v - 0.1) < 1e-9 for v in got["badrecordratio"])
    assert got["lagp50seconds"] and min(got["lagp50seconds"]) >= 5  # produced 5 s before the batch

    # CloudWatch unreachable: every call times out (1 s connect, 2 s read), in the background.
    monkeypatch.setenv("AWS_ENDPOINT_URL_MONITORING", blackhole)
    monkeypatch.setenv("AWS_ENDPOINT_URL_CLOUDWATCH", blackhole)
    unreachable = _pipeline(stack, namespace, "no-cloudwatch")
    # Which thread makes each PutMetricData call (the real call still happens): never the
    # batch's, so a call that hangs until its timeout cannot hold a batch up. (Not a comparison of
    # batch durations, which a loaded machine decides.)
    callers: list[str] = []
    put = MetricsPublisher._put

    def recorded(self, *args):
        callers.append(threading.current_thread().name)
        return put(self, *args)

    monkeypatch.setattr(MetricsPublisher, "_put", recorded)
    _run(spark, unreachable)
    unreachable.close(timeout_s=10)  # the calls it has queued fail meanwhile
    assert unreachable.metrics.published == 0
    assert unreachable.metrics.failures + unreachable.metrics.dropped >= 1
    assert callers and set(callers) == {"metrics-publisher"}, callers
