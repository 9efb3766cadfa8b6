"""Each EventBridge pattern of moviestream/core/eventbridge/ on LocalStack's bus: sample events
(matching and near misses) are put on a bus, and the SNS topic each pattern's rule targets must
deliver exactly the matching ones (read from the SQS queue subscribed to it)."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from moviestream.core.config import AwsSettings, resource_names
from moviestream.core.event_patterns import ALERT_PATTERNS, BACKFILL_PATTERN, pattern

NAMES = resource_names()


def glue_state(sample: str, job: str, state: str) -> dict:
    detail = {"jobName": job, "severity": "ERROR", "state": state, "jobRunId": "jr_1", "message": "x"}
    return {
        "Source": "aws.glue",
        "DetailType": "Glue Job State Change",
        "Detail": {**detail, "sample": sample},
    }


def object_created(sample: str, bucket: str, key: str) -> dict:
    detail = {"bucket": {"name": bucket}, "object": {"key": key, "size": 10}, "reason": "PutObject"}
    return {"Source": "aws.s3", "DetailType": "Object Created", "Detail": {**detail, "sample": sample}}


SAMPLES = [
    glue_state("streaming-failed", NAMES["streaming_job_name"], "FAILED"),
    glue_state("backfill-timeout", NAMES["backfill_job_name"], "TIMEOUT"),
    glue_state("streaming-stopped", NAMES["streaming_job_name"], "STOPPED"),
    glue_state("streaming-succeeded", NAMES["streaming_job_name"], "SUCCEEDED"),
    glue_state("other-job-failed", "someone-elses-job", "FAILED"),
    {
        "Source": "aws.glue-dataquality",
        "DetailType": "Data Quality Evaluation Results Available",
        "Detail": {
            "resultId": "dqresult-1",
            "rulesetNames": ["movies"],
            "state": "SUCCEEDED",
            "sample": "dq-results",
        },
    },
    {
        "Source": "aws.glue-dataquality",
        "DetailType": "Data Quality Task State Change",
        "Detail": {"state": "RUNNING", "sample": "dq-task-state"},
    },
    object_created("raw-file", NAMES["bucket_name"], f"{NAMES['raw_prefix']}/movies-2026.csv.gz"),
    object_created("raw-nested", NAMES["bucket_name"], f"{NAMES['raw_prefix']}/2026/11/movies.csv"),
    object_created("bad-records-file", NAMES["bucket_name"], "bad_records/x/part-00000.jsonl"),
    object_created("raw-other-bucket", "someone-elses-bucket", f"{NAMES['raw_prefix']}/movies.csv"),
    object_created("rawish-prefix", NAMES["bucket_name"], "raw-archive/movies.csv"),
    {
        "Source": NAMES["event_source"],
        "DetailType": "Data quality breach",
        "Detail": {"alert_id": "job/stream/1", "breaches": ["failure ratio"], "sample": "breach"},
    },
    {
        "Source": NAMES["event_source"],
        "DetailType": "Batch committed",
        "Detail": {"sample": "other-pipeline-event"},
    },
    {
        "Source": NAMES["event_source"],
        "DetailType": "Pipeline degraded",
        "Detail": {"alert_id": "job/degraded/warehouse", "state": "degraded", "sample": "degraded"},
    },
    {
        "Source": NAMES["event_source"],
        "DetailType": "Pipeline recovered",
        "Detail": {"alert_id": "job/recovered/warehouse", "state": "recovered", "sample": "recovered"},
    },
    {
        "Source": NAMES["event_source"],
        "DetailType": "Pipeline failed",
        "Detail": {"alert_id": "job/failed/warehouse", "state": "failed", "sample": "failed"},
    },
    {
        "Source": NAMES["event_source"],
        "DetailType": "Views refresh failed",
        "Detail": {
            "alert_id": "job/views-refresh",
            "state": "views refresh failed",
            "sample": "views-failed",
        },
    },
    {
        "Source": "someone.else",
        "DetailType": "Pipeline degraded",
        "Detail": {"sample": "degraded-other-source"},
    },
]

EXPECTED = {
    "glue_job_failed": {"streaming-failed", "backfill-timeout", "streaming-stopped"},
    "pipeline_breach": {"breach"},
    "pipeline_degraded": {"degraded", "failed"},
    "pipeline_recovered": {"recovered"},
    "views_refresh_failed": {"views-failed"},
    "raw_object_created": {"raw-file", "raw-nested"},
}


def test_every_pattern_has_expectations():
    assert set(EXPECTED) == {*ALERT_PATTERNS, BACKFILL_PATTERN}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_pattern_routes_exactly_its_events_to_the_topic(stack, name):
    aws = AwsSettings()
    events, sns, sqs = aws.client("events"), aws.client("sns"), aws.client("sqs")
    tag = f"{name.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
    bus = events.create_event_bus(Name=tag)["EventBusArn"]
    topic = sns.create_topic(Name=tag)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=tag)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    events.put_rule(Name=tag, EventBusName=tag, EventPattern=json.dumps(pattern(name)), State="ENABLED")
    events.put_targets(Rule=tag, EventBusName=tag, Targets=[{"Id": "topic", "Arn": topic}])

    entries = [{**s, "Detail": json.dumps(s["Detail"]), "EventBusName": bus} for s in SAMPLES]
    for start in range(0, len(entries), 10):  # PutEvents takes at most 10 entries
        result = events.put_events(Entries=entries[start : start + 10])
        assert result["FailedEntryCount"] == 0, result

    delivered: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(delivered) < len(EXPECTED[name]):
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in got.get("Messages", []):
            delivered.append(json.loads(message["Body"])["detail"]["sample"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    # and nothing more arrives after the expected ones
    late = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=2).get(
        "Messages", []
    )
    delivered += [json.loads(m["Body"])["detail"]["sample"] for m in late]
    assert sorted(delivered) == sorted(EXPECTED[name])
