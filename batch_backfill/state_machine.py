"""The backfill's Step Functions state machine (batch_backfill/aws/state_machine.asl.json).

The file is a template for Terraform's ``templatefile()``: ``${glue_job_name}`` and
``${topic_arn}`` are its only placeholders. ``render`` fills them the same way for tests and
for anyone creating the state machine without Terraform.
"""

from __future__ import annotations

import json
import re
from importlib import resources

PLACEHOLDERS = ("glue_job_name", "topic_arn")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def template() -> str:
    return resources.files("batch_backfill").joinpath("aws", "state_machine.asl.json").read_text("utf-8")


def render(glue_job_name: str, topic_arn: str) -> str:
    """The definition with its placeholders filled; ValueError for a placeholder we do not know."""
    values = {"glue_job_name": glue_job_name, "topic_arn": topic_arn}

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise ValueError(f"state machine template has an unknown placeholder ${{{name}}}")
        return json.dumps(values[name])[1:-1]  # escaped for a JSON string

    return _PLACEHOLDER.sub(fill, template())
