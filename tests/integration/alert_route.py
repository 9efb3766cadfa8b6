"""The alert path of a deployment, on a bus of the test's own: the pipeline's alert rules
(moviestream/core/eventbridge/, as Terraform's modules/alerts creates them) on a new event bus,
routing to a new SNS topic, with a queue subscribed to it (raw delivery) to read what arrives.
A job pointed at the bus (--event-bus / --event_bus) alerts through it and nowhere else, so a
test sees exactly its own alerts, each once."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from moviestream.core.config import AwsSettings, resource_names
from moviestream.core.event_patterns import ALERT_PATTERNS, pattern


@dataclass(frozen=True)
class AlertRoute:
    bus: str
    topic_arn: str
    queue_url: str

    def take(self) -> list[dict[str, Any]]:
        """Every event that reached the topic so far, as EventBridge delivered it, removed from
        the queue."""
        sqs = AwsSettings().client("sqs")
        found: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            messages = got.get("Messages", [])
            if not messages:
                return found
            found += [json.loads(m["Body"]) for m in messages]
            sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )


def new_alert_route(prefix: str, names: dict[str, Any] | None = None) -> AlertRoute:
    names = names or resource_names()
    aws = AwsSettings()
    events, sns, sqs = aws.client("events"), aws.client("sns"), aws.client("sqs")
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    events.create_event_bus(Name=name)
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(
        TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
    )
    for alert in ALERT_PATTERNS:
        rule = f"{name}-{alert}"[:64]
        events.put_rule(
            Name=rule, EventBusName=name, EventPattern=json.dumps(pattern(alert, names)), State="ENABLED"
        )
        events.put_targets(Rule=rule, EventBusName=name, Targets=[{"Id": "alerts", "Arn": topic_arn}])
    return AlertRoute(name, topic_arn, queue_url)
