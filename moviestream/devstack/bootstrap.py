"""Create the local resources every component expects (idempotent).

Names come from moviestream/core/resources.json, the same source Terraform's defaults read.
"""

from __future__ import annotations

import contextlib
import json
import time

from moviestream.core.config import AwsSettings, resource_names
from moviestream.core.event_patterns import ALERT_PATTERNS, pattern
from moviestream.warehouse.targets import apply_schema


def bootstrap(aws: AwsSettings, warehouse_dsn: str, timeout_s: float = 60.0) -> dict[str, str]:
    names = resource_names()
    kinesis = aws.client("kinesis")
    stream = names["stream_name"]
    with contextlib.suppress(kinesis.exceptions.ResourceInUseException):  # already there
        kinesis.create_stream(StreamName=stream, ShardCount=int(names["stream_shards"]))
    deadline = time.monotonic() + timeout_s
    while (
        kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"]
        != "ACTIVE"
    ):
        if time.monotonic() > deadline:
            raise RuntimeError(f"Kinesis stream {stream} not ACTIVE after {timeout_s:.0f}s")
        time.sleep(0.5)

    s3 = aws.client("s3")
    bucket = names["bucket_name"]
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)

    sns, sqs = aws.client("sns"), aws.client("sqs")
    topic_arn = sns.create_topic(Name=names["alert_topic_name"])["TopicArn"]  # idempotent by name
    queue_url, queue_arn = _queue(sqs, names["alert_queue_name"])
    subscribed = any(
        s["Endpoint"] == queue_arn
        for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", [])
    )
    if not subscribed:
        sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
        )
    _allow_send(sqs, queue_url, queue_arn, "sns.amazonaws.com", topic_arn)

    # The pipeline's own EventBridge events (data-quality breaches) land in a queue, so they can
    # be seen locally; the patterns are moviestream/core/eventbridge/'s, as on AWS.
    events_queue_url, events_queue_arn = _queue(sqs, names["event_queue_name"])
    events = aws.client("events")
    rule_arn = events.put_rule(
        Name=names["event_rule_name"],
        EventPattern=json.dumps(pattern("pipeline_breach", names)),
        State="ENABLED",
        Description="moviestream pipeline events (data-quality breaches)",
    )["RuleArn"]
    events.put_targets(Rule=names["event_rule_name"], Targets=[{"Id": "tap", "Arn": events_queue_arn}])
    _allow_send(sqs, events_queue_url, events_queue_arn, "events.amazonaws.com", rule_arn)
    # Alerts: Glue job failures and the pipeline's own events, to the alert topic (the one path).
    for name in ALERT_PATTERNS:
        alert_rule = f"{names['project']}-{name.replace('_', '-')}"
        events.put_rule(
            Name=alert_rule,
            EventPattern=json.dumps(pattern(name, names)),
            State="ENABLED",
            Description=f"moviestream alerts: moviestream/core/eventbridge/{name}.json",
        )
        events.put_targets(Rule=alert_rule, Targets=[{"Id": "alerts", "Arn": topic_arn}])

    statements = apply_schema(warehouse_dsn)
    return {
        "stream": stream,
        "bucket": bucket,
        "alert_topic_arn": topic_arn,
        "alert_queue_url": queue_url,
        "event_queue_url": events_queue_url,
        "warehouse_statements": str(statements),
    }


def _queue(sqs, name: str) -> tuple[str, str]:  # a boto3 client
    """Create the queue if needed (idempotent by name); returns (url, arn)."""
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def _allow_send(sqs, url: str, arn: str, service: str, source_arn: str) -> None:
    """Let one AWS service send to the queue, only on behalf of one source (topic or rule)."""
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": source_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
