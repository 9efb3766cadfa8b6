"""The streaming job on the real local stack: exactly once under SIGKILL, poison records, alerts,
metrics. The runs (tests/integration/streaming_runs.py) read one stream of replayed CSVs and
poison records, each into its own warehouse database and bucket."""

from __future__ import annotations

import json
import re
import time

import psycopg

from moviestream.core.config import AwsSettings, resource_names
from moviestream.pipeline.alerts import dataset_level_rules
from moviestream.quality.dqdl import read_ruleset
from moviestream.streaming.local_job import DEFAULT_RULESET
from tests.integration.cloudwatch import statistic
from tests.integration.streaming_runs import POISON_MARK, SENTINELS, run_job, snapshot


def test_poison_records_are_bad_records_with_reasons_and_the_query_keeps_running(reference, loaded_stream):
    run, snap = reference
    records_in, good, bad, duplicates = snap["totals"]
    assert records_in == loaded_stream.records == good + bad + duplicates
    reasons = {}
    for line in snap["bad_records"]:
        doc = json.loads(line)
        reasons[doc["event_id"] or doc["record_error"]] = doc["reasons"]
    assert reasons["payload is not a JSON envelope"] == ["payload is not a JSON envelope"]
    assert reasons["KPL aggregate checksum (MD5) mismatch"] == ["KPL aggregate checksum (MD5) mismatch"]
    assert reasons["poison-version"] == ["unknown schema_version 99"]
    assert reasons["poison-huge"] == ["overview is 1000000 bytes, over the warehouse limit of 65535"]
    missing = "envelope is missing event_id, schema_version or fields"
    assert reasons[missing] == [missing]
    assert snap["movies"], "good records were loaded around the poison"
    log = run.log.read_text(errors="replace")
    assert "query_failed" not in log
    # The only tracebacks are Spark's own for the records whose judging raises on purpose, and its
    # Python daemon's for a worker whose connection the JVM closed (a task Spark cancelled while
    # bisecting the batch): before the worker read its secret (EOFError) or while it answered.
    for at in (m.start() for m in re.finditer("Traceback", log)):
        block = log[at : at + 4000]
        closed_by_the_jvm = "pyspark/daemon.py" in block and re.search(
            r"\n\s*(EOFError|BrokenPipeError)\b", block
        )
        assert "failpoint MOVIESTREAM_POISON" in block or closed_by_the_jvm, block


def test_hostile_records_of_every_kind_are_bad_records_and_the_valid_ones_around_them_load(
    reference, loaded_stream
):
    """Thirteen more kinds (tests/integration/streaming_runs.py: hostile_records), each sent
    between valid records at the start of the stream: the job never stopped, every valid record
    is in the warehouse, and every hostile user record is one bad record with its reason."""
    run, snap = reference
    titles = {row[1] for row in snap["movies"]}
    assert set(SENTINELS) <= titles
    docs = [json.loads(line) for line in snap["bad_records"]]
    assert all(d["reasons"] and all(r.strip() for r in d["reasons"]) for d in docs)
    by_id = {d["event_id"]: d["reasons"] for d in docs if d["event_id"]}
    by_error = {d["record_error"]: d["reasons"] for d in docs if not d["event_id"]}
    raises = ["internal error: RuntimeError: failpoint MOVIESTREAM_POISON: judging this record raises"]
    assert by_id["poison-raises"] == raises and by_id["poison-raises-agg"] == raises
    assert by_id["poison-badkey"] == ["partition key is not valid UTF-8"]
    assert by_id["poison-index"] == ["partition_key_index 5 is out of range: the aggregate has 1 keys"]
    assert by_id["poison-nul"] == ["series_title holds a NUL character (U+0000)"]
    assert (
        by_id["poison-utf8"]
        == by_id["poison-nested"]
        == ["movie_id cannot be derived: the payload is not strict UTF-8 JSON"]
    )
    assert by_id["e" * 65] == ["event_id is longer than 64 bytes"]
    assert by_error["KPL aggregate holds no user records"] == ["KPL aggregate holds no user records"]
    assert any(e.startswith("KPL aggregate is not a valid protobuf message") for e in by_error)
    assert not any(POISON_MARK in t for t in titles)
    log = run.log.read_text(errors="replace")
    assert log.count('"batch_isolated"') == 1 and "batch_isolation_gave_up" not in log


def test_a_job_sigkilled_at_each_point_restarts_to_exactly_the_crash_free_result(
    stack, loaded_stream, reference, tmp_path
):
    """One job killed three times, at each crash point in turn (after its S3 writes in batch 0,
    inside batch 4's warehouse transaction, after batch 6's commit but before Spark's checkpoint),
    each time restarted from its checkpoint: one chain of restarts instead of three runs saves
    two job starts, and each restart recovers from the state the previous crash left. Batch 0
    holds the hostile records, two of which make judging raise: the first kill lands after its
    poison isolation wrote the bad records, and the restart isolates the same records again."""
    _, expected = reference
    run = run_job(
        stack, loaded_stream, tmp_path, failpoints=("after_s3@0", "in_transaction@4", "after_commit@6")
    )
    got = snapshot(run)
    assert got["ledger_batches_unique"] and got["bad_record_keys_per_ledger_batch"]
    assert got["quarantine_vs_s3"] == [] and expected["quarantine_vs_s3"] == []
    # batch 4 crashed inside its transaction and ran again: its metric history is there once
    assert got["history_once_per_batch"] and expected["history_once_per_batch"]
    assert got["totals"] == expected["totals"]
    assert got["movies_digest"] == expected["movies_digest"]
    assert got["movies"] == expected["movies"]
    assert got["genres"] == expected["genres"]
    assert got["bad_records"] == expected["bad_records"]


def _drain(queue_name: str, want, timeout_s: float = 30.0) -> list[dict]:
    sqs = AwsSettings().client("sqs")
    url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
    found: list[dict] = []
    deadline = time.monotonic() + timeout_s
    while not found and time.monotonic() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            body = json.loads(m["Body"])
            if want(body):
                found.append(body)
    return found


def test_a_breaching_batch_alerts_once_through_eventbridge_to_the_topic(reference):
    """One path per alert: the job puts the event, the bus's rule routes it to the topic; nothing
    reaches the topic's queue straight from the job (every message is an EventBridge event)."""
    run, snap = reference
    names = resource_names()
    arrived = _drain(
        names["alert_queue_name"],
        lambda b: b.get("job") == run.job_name or b.get("detail", {}).get("job") == run.job_name,
    )
    assert arrived, "no alert for the reference run reached the topic's queue"
    assert all(b.get("source") == names["event_source"] for b in arrived), "a message bypassed EventBridge"
    assert {b["detail-type"] for b in arrived} == {"Data quality breach"}
    alert = arrived[0]["detail"]
    assert alert["failure_ratio"] > 0.05 or any("dataset-level" in b for b in alert["breaches"])
    assert alert["counts"]["bad"] >= 1 and alert["rule_outcomes_uri"].startswith(
        f"s3://{run.bucket}/rule_outcomes/"
    )
    assert alert["alert_id"] == f"{run.job_name}/{alert['stream_id']}/{alert['batch_id']}"
    events = _drain(
        names["event_queue_name"],
        lambda b: b.get("source") == names["event_source"] and b.get("detail", {}).get("job") == run.job_name,
    )
    assert events and events[0]["detail-type"] == "Data quality breach"


def _metric_sum(
    job_name: str, metric: str, extra_dims: tuple[dict, ...] = (), stat: str = "Sum"
) -> list[float]:
    return statistic(resource_names()["metrics_namespace"], job_name, metric, stat, extra_dims, period=60)


def test_each_batch_publishes_its_metrics_to_cloudwatch_and_its_health_to_the_ledger(reference):
    """Read back from CloudWatch (LocalStack's): the per-batch counts add up to the ledger's, every
    rule has its pass/fail, and the streaming lag is there; the ledger has the same batches'
    lags, warehouse seconds and breaches (one breach per alerted batch)."""
    run, snap = reference
    records_in, good, bad, duplicates = snap["totals"]
    assert sum(_metric_sum(run.job_name, "RecordsIn")) == records_in
    assert sum(_metric_sum(run.job_name, "GoodRecords")) == good
    assert sum(_metric_sum(run.job_name, "BadRecords")) == bad
    assert sum(_metric_sum(run.job_name, "DuplicatesDropped")) == duplicates
    # After each batch that added bad records: the job's open records in quarantine, all of them.
    assert max(_metric_sum(run.job_name, "QuarantineOpen", stat="Maximum")) == bad
    with psycopg.connect(run.dsn) as conn:
        batches = conn.execute("SELECT count(*) FROM movies.batch_ledger").fetchone()[0]
        rules = [r for (r,) in conn.execute("SELECT DISTINCT rule FROM movies.rule_outcomes")]
        health = conn.execute(
            "SELECT count(*) FILTER (WHERE lag_p50_s IS NULL OR lag_p95_s IS NULL OR lag_max_s IS NULL),"
            " count(*) FILTER (WHERE NOT lag_p50_s <= lag_p95_s AND lag_p95_s <= lag_max_s),"
            " count(*) FILTER (WHERE seconds_warehouse IS NULL OR seconds_warehouse <= 0),"
            " sum(retried_errors), array_agg(batch_id ORDER BY batch_id) FILTER (WHERE breached)"
            " FROM movies.batch_ledger"
        ).fetchone()
    assert health[:4] == (0, 0, 0, 0)
    assert sum(_metric_sum(run.job_name, "BatchSeconds", stat="SampleCount")) == batches
    assert len(_metric_sum(run.job_name, "LagP50Seconds", stat="Maximum")) >= 1
    for rule in rules:
        verdicts = _metric_sum(run.job_name, "RulePassed", ({"Name": "Rule", "Value": rule},), "SampleCount")
        assert sum(verdicts) == batches, rule
    # Breached: over the 5% threshold, or a dataset-level rule failed.
    dataset_rules = dataset_level_rules(read_ruleset(DEFAULT_RULESET))
    with psycopg.connect(run.dsn) as conn:
        ledger = conn.execute("SELECT batch_id, good_records, bad_records, breached FROM movies.batch_ledger")
        failed = conn.execute("SELECT batch_id, rule FROM movies.rule_outcomes WHERE outcome <> 'Passed'")
        failed_dataset = {b for b, rule in failed.fetchall() if rule in dataset_rules}
        rows = ledger.fetchall()
    breached = {b: flag for b, _, _, flag in rows}
    expected = {b: bad / (good + bad) > 0.05 or b in failed_dataset for b, good, bad, _ in rows}
    assert any(breached.values()), "the defective input breaches in some batch"
    assert breached == expected
