"""The streaming job's data-quality rules over its own history: a step change in batch volume.

One shard, pre-filled, read with a fixed ``max_records_per_batch``, so every batch's size is
set by the stream, not by timing: three batches of 20 plain records, one batch of 20 KPL
aggregates holding 10 movies each (200 rows), then three batches of 20 again.
"""

from __future__ import annotations

import json
import os
import uuid

import psycopg
from aws_kinesis_agg.aggregator import RecordAggregator

from moviestream.core.config import AwsSettings
from moviestream.devstack.jobs import ledger_totals, start_local_job, stop_job, wait_for_status
from tests.helpers import envelope, movie_fields
from tests.integration.databases import fresh_warehouse
from tests.waiting import running, wait_for

RULES = """Rules = [
    IsComplete "series_title",
    DetectAnomalies "RowCount",
    RowCount >= avg(last(3)) * 0.5
]
"""
SIZES = [20, 20, 20, 200, 20, 20, 20]


def _fill(kinesis, stream: str) -> int:
    counter = iter(range(10_000))

    def movie() -> bytes:
        n = next(counter)
        title = f"Step Film {n}"
        return envelope(f"step-{n}", movie_fields(Series_Title=title, Released_Year="1990"), row_number=n)

    records: list[bytes] = []
    for size in SIZES:
        if size == 20:
            records += [movie() for _ in range(20)]
        else:  # 20 Kinesis records, each a KPL aggregate of 10 movies
            for _ in range(20):
                agg = RecordAggregator()
                for _ in range(size // 20):
                    agg.add_user_record("pk", movie())
                records.append(agg.clear_and_get().get_contents()[2])
    for i in range(0, len(records), 100):  # one shard: the order is kept
        batch = [{"PartitionKey": "pk", "Data": data} for data in records[i : i + 100]]
        assert not kinesis.put_records(StreamName=stream, Records=batch)["FailedRecordCount"]
    return sum(SIZES)


def test_detect_anomalies_fails_the_outlier_batch_and_passes_the_normal_ones_after(stack, tmp_path):
    aws = AwsSettings()
    kinesis, s3 = aws.client("kinesis"), aws.client("s3")
    name = f"history-{uuid.uuid4().hex[:6]}"
    kinesis.create_stream(StreamName=name, ShardCount=1)
    kinesis.get_waiter("stream_exists").wait(StreamName=name, WaiterConfig={"Delay": 0.5})
    s3.create_bucket(Bucket=name)
    dsn = fresh_warehouse(stack, name.replace("-", "_"))
    total = _fill(kinesis, name)
    rules = tmp_path / "history.dqdl"
    rules.write_text(RULES)
    status, log = tmp_path / "status.json", tmp_path / "job.log"
    job_name = f"jobtest-{name}"
    args = [
        "--stream-name", name, "--bucket", name, "--job-name", job_name, "--warehouse-dsn", dsn,
        "--checkpoint", str(tmp_path / "checkpoint"), "--starting-position", "trim_horizon",
        "--max-records-per-batch", "20", "--trigger-seconds", "0.5", "--status-file", str(status),
        "--ruleset", str(rules), "--warm-up-rounds", "1",
    ]  # fmt: skip
    proc = start_local_job(args, log, dict(os.environ))
    try:
        wait_for_status(proc, status)
        wait_for(lambda: running(proc, log) and ledger_totals(dsn, job_name).records_in >= total, 240,
                 f"every record accounted for, see {log}")  # fmt: skip
    finally:
        assert stop_job(proc) == 0, f"see {log}"

    with psycopg.connect(dsn) as conn:
        ledger = conn.execute(
            "SELECT batch_id, records_in, breached FROM movies.batch_ledger WHERE records_in > 0 ORDER BY batch_id"
        ).fetchall()
        outcomes = {
            (batch, rule): (outcome, reason)
            for batch, rule, outcome, reason in conn.execute(
                "SELECT batch_id, rule, outcome, failure_reason FROM movies.rule_outcomes"
            ).fetchall()
        }
        (observed,) = conn.execute(
            "SELECT observations FROM movies.rule_outcomes WHERE rule = %s AND observations IS NOT NULL",
            ('DetectAnomalies "RowCount"',),
        ).fetchall()
        history = dict(
            conn.execute(
                "SELECT batch_id, value FROM movies.metric_history"
                " WHERE context = %s AND metric = 'Dataset.*.RowCount'",
                (job_name,),
            ).fetchall()
        )
    batches = [b for b, _, _ in ledger]
    assert [n for _, n, _ in ledger] == SIZES, "each batch holds what the stream put in it"
    assert [history[b] for b in batches] == SIZES  # every batch recorded, once

    anomaly = [outcomes[(b, 'DetectAnomalies "RowCount"')] for b in batches]
    assert [o for o, _ in anomaly] == ["Passed", "Passed", "Passed", "Failed", "Passed", "Passed", "Passed"]
    assert all("fewer than 3 earlier runs" in r for _, r in anomaly[:3])
    assert anomaly[3][1].startswith("Dataset.*.RowCount = 200 is outside the expected [19.8, 20.2]")
    assert all(r is None for _, r in anomaly[4:])  # the spike is left out of the band after it

    # avg(last(3)) * 0.5 over 20, 20, 20, 200, ...: the spike raises the bar for three batches
    dynamic = [outcomes[(b, "RowCount >= avg(last(3)) * 0.5")][0] for b in batches]
    assert dynamic == ["Passed"] * 4 + ["Failed"] * 3
    assert [breached for _, _, breached in ledger] == [False] * 3 + [True] * 4

    # the finding reaches the rule outcomes in S3, with its observation, and the alert's rules
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=name, Prefix="rule_outcomes/")["Contents"]]
    spike = [
        doc
        for doc in (json.loads(s3.get_object(Bucket=name, Key=k)["Body"].read()) for k in keys)
        if doc["batch_id"] == batches[3]
    ][0]
    rule = next(r for r in spike["rules"] if r["Rule"] == 'DetectAnomalies "RowCount"')
    values = rule["Observations"][0]["MetricBasedObservation"]["MetricValues"]
    assert values == {"ActualValue": 200.0, "ExpectedValue": 20.0, "LowerLimit": 19.8, "UpperLimit": 20.2}
    assert json.loads(observed[0]) == rule["Observations"]  # and in the warehouse, for that batch only
    text = log.read_text(errors="replace")
    assert "metric_history_read" in text and "Traceback" not in text
