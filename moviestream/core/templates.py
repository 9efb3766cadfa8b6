"""``${name}`` templates shared with Terraform's ``templatefile()`` (the backfill's state
machine, the EventBridge patterns): filled here the same way, for JSON documents."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def fill_json_template(text: str, values: Mapping[str, Any], unknown: Callable[[str], str]) -> str:
    """``text`` with each ``${name}`` replaced by ``values[name]`` escaped for a JSON string;
    ValueError(``unknown(name)``) for a name ``values`` lacks."""

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            raise ValueError(unknown(name))
        return json.dumps(str(values[name]))[1:-1]

    return _PLACEHOLDER.sub(fill, text)
