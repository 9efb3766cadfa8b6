"""A starter ruleset for a dataset: profile each column once, then propose rules from the profile.

Modelled on what AWS Glue's recommendation runs propose (IsComplete for a column without NULLs,
Uniqueness for an all-unique one, value bounds, a value set for a column of few values) and on
Deequ's suggestion rules (completeness at least the lower bound of a 95% interval, value sets for
low-cardinality columns, non-negative numbers, string length bounds). The thresholds are this
module's constants, written into the ruleset's header:

- RowCount: exclusive between half and twice the profiled count (a batch or file of another
  size is judged, not only this one);
- a column without NULLs: IsComplete; with some: Completeness >= the Wilson 95% lower bound of
  its completeness, rounded down to 2 decimals (a column that is NULL everywhere: nothing more);
- all values distinct (and at least UNIQUE_MIN_ROWS rows): IsUnique; 99% or more: Uniqueness >
  0.95;
- numbers (integers, decimals, doubles): ColumnValues >= the minimum and <= the maximum seen;
- text with at most CATEGORY_MAX_VALUES distinct values, each seen at least twice on average:
  ColumnValues in [the values seen] (a new category fails); other text: ColumnLength between
  the shortest - 1 and the longest + 1 (exclusive, so the seen lengths pass);
- lists (genres): completeness only;
- ColumnCount = the number of columns.
Value rules carry ``where "c is not null"`` for a column with NULLs, since NULL fails
ColumnValues; completeness is judged by its own rule. The result lints clean and passes on the
data it was made from, whose name and row count the header records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from moviestream.quality.dqdl import quote

CATEGORY_MAX_VALUES = 30
UNIQUE_MIN_ROWS = 10
NEARLY_UNIQUE = 0.99
Z_95 = 1.96


@dataclass(frozen=True)
class ColumnProfile:
    name: str
    kind: str  # number | text | list | other
    nulls: int
    distinct: int
    minimum: Any = None  # numbers: smallest value; text: shortest length
    maximum: Any = None
    categories: tuple[str, ...] = ()  # text with few values: every value seen, sorted


def _kind(dtype: T.DataType) -> str:
    if isinstance(dtype, T.NumericType):
        return "number"
    if isinstance(dtype, T.StringType):
        return "text"
    if isinstance(dtype, T.ArrayType):
        return "list"
    return "other"


def profile(df: DataFrame, columns: list[str]) -> tuple[int, list[ColumnProfile]]:
    """(rows, one profile per column): one aggregation, then one query for the few-valued texts."""
    types = {f.name: f.dataType for f in df.schema.fields}
    aggs = [F.count(F.lit(1)).alias("__rows")]
    for i, c in enumerate(columns):
        col = F.col(f"`{c}`")
        kind = _kind(types[c])
        aggs.append(F.count(F.when(col.isNull(), 1)).alias(f"n{i}"))
        distinct = F.lit(0) if kind == "list" else F.count_distinct(col)  # lists: completeness only
        aggs.append(distinct.alias(f"d{i}"))
        if kind == "number":
            aggs += [F.min(col).alias(f"lo{i}"), F.max(col).alias(f"hi{i}")]
        elif kind == "text":
            aggs += [F.min(F.length(col)).alias(f"lo{i}"), F.max(F.length(col)).alias(f"hi{i}")]
    row = df.agg(*aggs).collect()[0]
    rows = row["__rows"]
    profiles = []
    for i, c in enumerate(columns):
        kind = _kind(types[c])
        nulls, distinct = row[f"n{i}"], row[f"d{i}"]
        low = row[f"lo{i}"] if kind in ("number", "text") else None
        high = row[f"hi{i}"] if kind in ("number", "text") else None
        categories: tuple[str, ...] = ()
        if kind == "text" and 0 < distinct <= CATEGORY_MAX_VALUES and distinct * 2 <= rows - nulls:
            values = df.select(F.col(f"`{c}`")).where(F.col(f"`{c}`").isNotNull()).distinct().collect()
            categories = tuple(sorted(r[0] for r in values))
        profiles.append(ColumnProfile(c, kind, nulls, distinct, low, high, categories))
    return rows, profiles


def wilson_lower(successes: int, total: int) -> float:
    """The lower bound of the Wilson score interval (95%) for successes / total."""
    if total == 0:
        return 0.0
    p = successes / total
    z2 = Z_95 * Z_95
    centre = p + z2 / (2 * total)
    spread = Z_95 * math.sqrt(p * (1 - p) / total + z2 / (4 * total * total))
    return max(0.0, (centre - spread) / (1 + z2 / total))


def _number(value: Any) -> str:
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, float):
        return repr(value)
    return str(value)


def column_rules(p: ColumnProfile, rows: int) -> list[str]:
    """The rules proposed for one profiled column."""
    c = quote(p.name)
    present = rows - p.nulls
    if rows == 0 or present == 0:
        return [f"ColumnExists {c}"]
    rules = []
    if p.nulls == 0:
        rules.append(f"IsComplete {c}")
    else:
        bound = math.floor(wilson_lower(present, rows) * 100) / 100
        rules.append(f"Completeness {c} >= {bound:.2f}")
    where = f' where "{p.name} is not null"' if p.nulls else ""
    if p.kind in ("number", "text") and rows >= UNIQUE_MIN_ROWS:
        if p.distinct == rows:
            rules.append(f"IsUnique {c}")
        elif p.distinct >= NEARLY_UNIQUE * present:
            rules.append(f"Uniqueness {c} > 0.95")
    if p.kind == "number":
        rules.append(f"ColumnValues {c} >= {_number(p.minimum)}{where}")
        rules.append(f"ColumnValues {c} <= {_number(p.maximum)}{where}")
    elif p.kind == "text" and p.categories:
        rules.append(f"ColumnValues {c} in [{', '.join(quote(v) for v in p.categories)}]{where}")
    elif p.kind == "text":
        rules.append(f"ColumnLength {c} between {p.minimum - 1} and {p.maximum + 1}{where}")
    return rules


def recommend(df: DataFrame, columns: list[str], source: str) -> str:
    """A DQDL document of rules for ``df``'s ``columns``, with a header saying how it was made."""
    rows, profiles = profile(df, columns)
    rules = [f"RowCount between {rows // 2 - 1 if rows > 1 else -1} and {rows * 2 + 1}"]
    rules.append(f"ColumnCount = {len(columns)}")
    for p in profiles:
        rules.extend(column_rules(p, rows))
    header = [
        f"# Recommended by moviestream quality recommend, from {source} ({rows} rows).",
        "# A starting point: review each rule. Thresholds (moviestream/quality/recommend.py):",
        "# RowCount between half and twice this count; IsComplete for a column without NULLs, else",
        "# Completeness >= the 95% Wilson lower bound; IsUnique / Uniqueness > 0.95 for (nearly) unique",
        "# columns; numbers within the minimum and maximum seen; text of few values in the values",
        f"# seen (at most {CATEGORY_MAX_VALUES}); other text within the lengths seen, one either side.",
        "",
    ]
    body = ",\n".join(f"    {r}" for r in rules)
    return "\n".join(header) + f"Rules = [\n{body}\n]\n"
