"""The backfill's state machine on LocalStack's Step Functions: its definition passes the
ValidateStateMachineDefinition API (LocalStack checks the syntax; asl-validator, in the unit
tests, checks transitions and reachability too), and executions with the Glue task mocked (Step
Functions' mocked service integrations) publish success or failure to a real SNS topic, read back
from the SQS queue subscribed to it."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from moviestream.backfill.state_machine import render
from moviestream.core.config import AwsSettings
from tests.integration.conftest import SFN_MOCK_CONFIG_NAME
from tests.waiting import wait_for

JOB = "moviestream-backfill"


def object_created(key: str) -> dict:
    """An EventBridge 'Object Created' event from S3, as the rule delivers it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "000000000000",
        "region": "us-east-1",
        "resources": ["arn:aws:s3:::moviestream-data"],
        "detail": {"bucket": {"name": "moviestream-data"}, "object": {"key": key, "size": 1024}},
    }


@pytest.fixture(scope="module")
def machine(stack):
    aws = AwsSettings()
    sns, sqs, sfn = aws.client("sns"), aws.client("sqs"), aws.client("stepfunctions")
    name = f"backfill-{uuid.uuid4().hex[:8]}"
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    definition = render(JOB, topic_arn)
    (stack.state_dir / SFN_MOCK_CONFIG_NAME).write_text(
        json.dumps(
            {
                "StateMachines": {
                    name: {
                        "TestCases": {
                            "GlueSucceeds": {"RunBackfill": "GlueRunSucceeded"},
                            "GlueFails": {"RunBackfill": "GlueRunFailed"},
                        }
                    }
                },
                "MockedResponses": {
                    "GlueRunSucceeded": {
                        "0": {
                            "Return": {
                                "Id": "jr_42",
                                "JobName": JOB,
                                "JobRunState": "SUCCEEDED",
                                "ExecutionTime": 73,
                            }
                        }
                    },
                    "GlueRunFailed": {
                        "0": {
                            "Throw": {
                                "Error": "Glue.AWSGlueException",
                                "Cause": "job run jr_43 FAILED: warehouse unreachable",
                            }
                        }
                    },
                },
            }
        )
    )
    arn = sfn.create_state_machine(
        name=name, definition=definition, roleArn="arn:aws:iam::000000000000:role/backfill-states"
    )["stateMachineArn"]
    return {"arn": arn, "queue_url": queue_url, "definition": definition, "sfn": sfn, "sqs": sqs}


def run(machine: dict, case: str, event: dict) -> dict:
    sfn = machine["sfn"]
    arn = machine["arn"] + (f"#{case}" if case else "")
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps(event))["executionArn"]

    def finished() -> dict | None:
        described = sfn.describe_execution(executionArn=execution)
        return described if described["status"] != "RUNNING" else None

    return wait_for(finished, 60, f"execution {execution} finished")


def messages(machine: dict, wait_s: float = 5.0) -> list[dict]:
    """Every SNS notification the queue holds (each body is SNS's envelope)."""
    found, deadline = [], time.monotonic() + wait_s
    while time.monotonic() < deadline:
        got = machine["sqs"].receive_message(
            QueueUrl=machine["queue_url"], MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for m in got.get("Messages", []):
            found.append(json.loads(m["Body"]))
            machine["sqs"].delete_message(QueueUrl=machine["queue_url"], ReceiptHandle=m["ReceiptHandle"])
        if found and not got.get("Messages"):
            break
    return found


def test_the_definition_passes_the_states_language_validation(machine):
    result = machine["sfn"].validate_state_machine_definition(
        definition=machine["definition"], type="STANDARD"
    )
    assert result["result"] == "OK", result["diagnostics"]


def test_a_new_file_runs_the_glue_job_and_publishes_success(machine):
    done = run(machine, "GlueSucceeds", object_created("raw/movies-2026-11.csv.gz"))
    assert done["status"] == "SUCCEEDED"
    (note,) = messages(machine)
    assert note["Subject"] == "moviestream backfill succeeded"
    assert note["MessageAttributes"]["outcome"]["Value"] == "succeeded"
    body = json.loads(note["Message"])
    assert body["backfill"] == {"JobRunId": "jr_42", "JobRunState": "SUCCEEDED", "ExecutionTime": 73}
    assert body["detail"]["object"]["key"] == "raw/movies-2026-11.csv.gz"


def test_a_failed_job_run_publishes_the_failure_and_fails_the_execution(machine):
    done = run(machine, "GlueFails", object_created("raw/broken.csv"))
    assert done["status"] == "FAILED"
    (note,) = messages(machine)
    assert note["Subject"] == "moviestream backfill FAILED"
    body = json.loads(note["Message"])
    assert body["error"]["Error"] == "Glue.AWSGlueException"
    assert "warehouse unreachable" in body["error"]["Cause"]
    history = machine["sfn"].get_execution_history(executionArn=done["executionArn"])["events"]
    assert any(
        e["type"] == "ExecutionFailed" and e["executionFailedEventDetails"]["error"] == "BackfillFailed"
        for e in history
    )


def test_a_manifest_arriving_runs_nothing(machine):
    done = run(machine, "GlueFails", object_created("raw/movies.csv.manifest.json"))
    assert done["status"] == "SUCCEEDED"  # the Glue task (mocked to fail here) was never reached
    assert messages(machine, wait_s=2.0) == []
