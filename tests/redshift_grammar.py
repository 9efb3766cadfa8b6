"""sqlfluff's ``redshift`` dialect as an independent judge of the SQL the project sends to Redshift
(sqlglot both splits and rewrites that SQL, so it cannot be the judge)."""

from __future__ import annotations

import re
from functools import cache

from sqlfluff.core import FluffConfig, Linter


@cache
def _linter() -> Linter:
    return Linter(config=FluffConfig(overrides={"dialect": "redshift"}))


def parse_problems(sql: str) -> tuple[int, list[str]]:
    """(statements parsed, what the grammar could not parse). DB-API ``%s`` parameters are read
    as literals, as the server sees values."""
    parsed = _linter().parse_string(re.sub(r"%s", "NULL", sql))
    problems = [v.desc() for v in parsed.violations]
    tree = parsed.tree
    assert tree is not None
    problems += [f"unparsable: {seg.raw[:120]!r}" for seg in tree.recursive_crawl("unparsable")]
    statements = sum(1 for _ in tree.recursive_crawl("statement", recurse_into=False))
    return statements, problems
