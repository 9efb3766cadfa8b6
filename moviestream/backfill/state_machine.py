"""The backfill's Step Functions state machine (moviestream/backfill/aws/state_machine.asl.json).

The file is a template for Terraform's ``templatefile()``: ``${glue_job_name}`` and
``${topic_arn}`` are its only placeholders. ``render`` fills them the same way for tests and
for anyone creating the state machine without Terraform.
"""

from __future__ import annotations

from importlib import resources

from moviestream.core.templates import fill_json_template

PLACEHOLDERS = ("glue_job_name", "topic_arn")


def template() -> str:
    return (
        resources.files("moviestream.backfill").joinpath("aws", "state_machine.asl.json").read_text("utf-8")
    )


def render(glue_job_name: str, topic_arn: str) -> str:
    """The definition with its placeholders filled; ValueError for a placeholder we do not know."""
    return fill_json_template(
        template(),
        {"glue_job_name": glue_job_name, "topic_arn": topic_arn},
        lambda name: f"state machine template has an unknown placeholder ${{{name}}}",
    )
