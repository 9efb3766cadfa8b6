"""Rules against another dataset: their parameters, read and checked (pure).

A reference dataset is bound to an alias when the rules run (``--ref ALIAS=SOURCE``; see
reference_sources.py for the sources). The parameters name it:
- ReferentialIntegrity "c1,c2" "alias.{r1,r2}" (or "alias.r" for one column);
- RowCountMatch "alias", SchemaMatch "alias";
- DatasetMatch "alias" "k1->r1,k2" ["c->rc,d"]: key columns, then the columns compared (a
  name without "->" is the same name on both sides);
- AggregateMatch "sum(c)" "avg(alias.c)": sum or avg, of a primary column or an alias's.
The parser checks them with these functions, so a malformed one is refused in one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = r"[^\s,{}()]+"
_AGGREGATE = re.compile(rf"^\s*(sum|avg)\s*\(\s*({_NAME})\s*\)\s*$", re.IGNORECASE)
REFERENCE_RULES = ("ReferentialIntegrity", "RowCountMatch", "DatasetMatch", "AggregateMatch", "SchemaMatch")


class ReferenceSyntaxError(ValueError):
    """A reference rule's parameter is malformed (the parser reports it at the rule)."""


def _columns(text: str, what: str) -> tuple[str, ...]:
    names = tuple(c.strip() for c in text.split(","))
    if not all(names):
        raise ReferenceSyntaxError(f"{what}: an empty column name in {text!r}")
    return names


@dataclass(frozen=True)
class Integrity:
    columns: tuple[str, ...]  # the primary's
    alias: str
    reference_columns: tuple[str, ...]


def integrity(primary: str, reference: str) -> Integrity:
    """ReferentialIntegrity's two parameters: "c1,c2" and "alias.{r1,r2}" or "alias.r"."""
    columns = _columns(primary, "ReferentialIntegrity")
    alias, dot, rest = reference.partition(".")
    if not dot or not alias or not rest:
        raise ReferenceSyntaxError(
            "ReferentialIntegrity's reference must be "
            f'"alias.column" or "alias.{{c1,c2}}", not {reference!r}'
        )
    if rest.startswith("{"):
        if not rest.endswith("}"):
            raise ReferenceSyntaxError(f"ReferentialIntegrity: unclosed '{{' in {reference!r}")
        rest = rest[1:-1]
    reference_columns = _columns(rest, "ReferentialIntegrity")
    if len(reference_columns) != len(columns):
        raise ReferenceSyntaxError(
            f"ReferentialIntegrity compares {len(columns)} column(s) with {len(reference_columns)}"
        )
    return Integrity(columns, alias, reference_columns)


def column_pairs(text: str, what: str) -> tuple[tuple[str, str], ...]:
    """ "k1->r1,k2": (primary, reference) pairs; a name alone is the same on both sides."""
    pairs = []
    for item in _columns(text, what):
        left, arrow, right = item.partition("->")
        left, right = left.strip(), right.strip()
        if not left or (arrow and not right):
            raise ReferenceSyntaxError(f"{what}: {item!r} is not 'column' or 'column->reference_column'")
        pairs.append((left, right or left))
    return tuple(pairs)


@dataclass(frozen=True)
class Aggregate:
    function: str  # sum | avg
    alias: str | None  # None: the primary dataset
    column: str


def aggregate(text: str) -> Aggregate:
    """AggregateMatch's operand: "sum(c)" or "avg(alias.c)" (a dotted name is an alias's column)."""
    m = _AGGREGATE.match(text)
    if not m:
        raise ReferenceSyntaxError(f'AggregateMatch takes "sum(column)" or "avg(alias.column)", not {text!r}')
    function, name = m.group(1).lower(), m.group(2)
    alias, dot, column = name.partition(".")
    if dot and column:
        return Aggregate(function, alias, column)
    return Aggregate(function, None, name)


def aliases_of(rule_type: str, parameters: tuple[str, ...]) -> tuple[str, ...]:
    """The reference aliases a rule reads."""
    if rule_type == "ReferentialIntegrity":
        return (integrity(*parameters).alias,)
    if rule_type in ("RowCountMatch", "SchemaMatch", "DatasetMatch"):
        return (parameters[0],)
    if rule_type == "AggregateMatch":
        return tuple(a.alias for a in map(aggregate, parameters) if a.alias is not None)
    return ()


def primary_columns(rule_type: str, parameters: tuple[str, ...]) -> tuple[str, ...]:
    """The columns of the dataset under test a reference rule names (for lint)."""
    if rule_type == "ReferentialIntegrity":
        return integrity(*parameters).columns
    if rule_type == "DatasetMatch":
        pairs = column_pairs(parameters[1], "DatasetMatch's keys")
        if len(parameters) > 2:
            pairs += column_pairs(parameters[2], "DatasetMatch's compared columns")
        return tuple(p for p, _ in pairs)
    if rule_type == "AggregateMatch":
        return tuple(a.column for a in map(aggregate, parameters) if a.alias is None)
    return ()


def check_parameters(rule_type: str, parameters: tuple[str, ...]) -> None:
    """Raise ReferenceSyntaxError when a reference rule's parameters are malformed."""
    if rule_type == "ReferentialIntegrity":
        integrity(*parameters)
    elif rule_type == "DatasetMatch":
        column_pairs(parameters[1], "DatasetMatch's keys")
        if len(parameters) > 2:
            column_pairs(parameters[2], "DatasetMatch's compared columns")
    elif rule_type == "AggregateMatch":
        for p in parameters:
            aggregate(p)
