"""A stand-in for AWS Glue's ``awsglue`` package on local Spark (tests only; see ../README.md)."""

from __future__ import annotations

import json
import os
from typing import Any


def record_call(api: str, *args: Any, **kwargs: Any) -> None:
    """Append one call to $GLUE_STANDIN_CALLS: the API, and each argument's type (or its value,
    for strings, numbers and dicts of strings), so a test can bind it to Glue's signature."""
    path = os.environ.get("GLUE_STANDIN_CALLS")
    if not path:
        return

    def shown(value: Any) -> Any:
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        if isinstance(value, dict) and all(isinstance(v, (str, int, float, bool)) for v in value.values()):
            return dict(value)
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        return {"__type__": type(value).__name__}

    line = {"api": api, "args": [shown(a) for a in args], "kwargs": {k: shown(v) for k, v in kwargs.items()}}
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")
