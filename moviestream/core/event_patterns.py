"""The pipeline's EventBridge event patterns (moviestream/core/eventbridge/*.json), filled in.

The files are templates whose ``${name}`` placeholders are keys of moviestream/core/resources.json;
Terraform fills them with templatefile() and the same names, the local bootstrap with this
module, so the local bus and a deployed one route the same events.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from moviestream.core.config import resource_names
from moviestream.core.templates import fill_json_template

PATTERN_DIR = Path(__file__).parent / "eventbridge"
# The patterns whose rules route to the alert topic: the one path every alert takes (the jobs put
# events and never publish to SNS themselves; moviestream/pipeline/alerts.py).
ALERT_PATTERNS = (
    "glue_job_failed",
    "pipeline_breach",
    "pipeline_degraded",
    "pipeline_recovered",
    "views_refresh_failed",
)
BACKFILL_PATTERN = "raw_object_created"


def pattern(name: str, names: dict[str, Any] | None = None) -> dict[str, Any]:
    """The pattern ``name`` (a file name without .json) with its placeholders filled from
    ``names`` (default: resources.json); ValueError for a placeholder that is not a name."""
    text = fill_json_template(
        (PATTERN_DIR / f"{name}.json").read_text("utf-8"),
        resource_names() if names is None else names,
        lambda key: f"event pattern {name}: ${{{key}}} is not in moviestream/core/resources.json",
    )
    return json.loads(text)
