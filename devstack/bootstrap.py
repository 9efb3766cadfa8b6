"""Create the local resources every component expects (idempotent).

Names come from moviestream/resources.json, the same source Terraform's defaults read.
"""

from __future__ import annotations

import contextlib
import json
import time

from moviestream.config import AwsSettings, resource_names
from redshift.warehouse import apply_schema


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
    queue_url = sqs.create_queue(QueueName=names["alert_queue_name"])["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    subscribed = any(
        s["Endpoint"] == queue_arn
        for s in sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", [])
    )
    if not subscribed:
        sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
        )
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})

    statements = apply_schema(warehouse_dsn)
    return {
        "stream": stream,
        "bucket": bucket,
        "alert_topic_arn": topic_arn,
        "alert_queue_url": queue_url,
        "warehouse_statements": str(statements),
    }
