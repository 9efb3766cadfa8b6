"""Rulesets can only read: what a CustomSql query or a where clause may contain.

A ruleset is data, and CustomSql hands its text to ``spark.sql()``: left alone it could run
``SET``, DDL and DML, read files (``csv.`/path```), call table-valued functions, or run Java
(``reflect``, ``java_method``). So every such text is checked first with **Spark's own parser**
(``parsePlan`` / ``parseExpression``, the parser ``spark.sql`` and ``F.expr`` use: a second parser
that disagreed with Spark's would be a bypass), and its tree is held to allow-lists:

- plan nodes: one query (projections, filters, aggregates, joins, set operations, sorting and
  limits, CTEs, subqueries); nothing that writes, sets, creates, executes or lists;
- relations: only the names the caller allows (the batch, ``primary``, and a query's own CTE
  names): no files, no catalogs, no table-valued functions;
- functions: Spark's built-in ones, minus those that reach outside the data (``reflect``,
  ``try_reflect``, ``java_method``); no user or catalog functions.

What is refused is reported one line each (``moviestream quality lint``), and a job refuses such
a ruleset at start. The check needs a SparkSession (the JVM's parser), nothing else: no query
runs. docs/ARCHITECTURE.md, "Data quality", states the trust model.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

from pyspark.sql import SparkSession

from moviestream.quality.dqdl import Rule, Ruleset

ALLOWED_PLAN_NODES = frozenset(
    {
        "Project", "Filter", "Aggregate", "UnresolvedHaving", "Sort", "GlobalLimit", "LocalLimit",
        "Offset", "Union", "Intersect", "Except", "Distinct", "Deduplicate", "Join", "SubqueryAlias",
        "UnresolvedSubqueryColumnAliases", "UnresolvedRelation", "UnresolvedWith", "OneRowRelation",
        "WithWindowDefinition", "Generate", "Sample",
    }
)  # fmt: skip
DENIED_FUNCTIONS = frozenset({"reflect", "try_reflect", "java_method"})
SUBQUERY_EXPRESSIONS = frozenset({"ScalarSubquery", "Exists", "ListQuery", "LateralSubquery"})


def _items(seq: Any) -> Iterator[Any]:
    """A Scala Seq's elements, through py4j."""
    it = seq.iterator()
    while it.hasNext():
        yield it.next()


class SqlGuard:
    """The allow-lists, with the built-in function names of this SparkSession's Spark."""

    def __init__(self, spark: SparkSession) -> None:
        jvm: Any = spark._jvm  # classic Spark (Glue, local): the JVM's own parser and registry
        self._parser = spark._jsparkSession.sessionState().sqlParser()
        # One string across py4j, not three calls for each of Spark's ~520 functions (a job's start
        # paid about 0.35 s for those). A FunctionIdentifier prints as its unquoted name.
        registry = jvm.org.apache.spark.sql.catalyst.analysis.FunctionRegistry.builtin()
        names = str(registry.listFunction().mkString("\n")).split("\n")
        self.functions = frozenset(name.lower() for name in names) - DENIED_FUNCTIONS

    def query(self, sql: str, relations: Iterable[str]) -> list[str]:
        """What the query holds that a ruleset may not run (empty: it only reads ``relations``)."""
        try:
            plan = self._parser.parsePlan(sql)
        except Exception as exc:  # Spark's ParseException, through py4j
            return [f"does not parse: {_first_line(exc)}"]
        problems: list[str] = []
        self._plan(plan, {r.lower() for r in relations}, problems)
        return _unique(problems)

    def expression(self, text: str) -> list[str]:
        """What a where clause holds that a ruleset may not run (it may read no table at all)."""
        try:
            expr = self._parser.parseExpression(text)
        except Exception as exc:
            return [f"does not parse: {_first_line(exc)}"]
        problems: list[str] = []
        self._expression(expr, set(), problems)
        return _unique(problems)

    def _plan(self, node: Any, relations: set[str], problems: list[str]) -> None:
        name = node.getClass().getSimpleName()
        if name not in ALLOWED_PLAN_NODES:
            problems.append(f"{_describe(name)} is not a query over the data")
            return
        if name == "UnresolvedRelation":
            parts = list(_items(node.multipartIdentifier()))
            if len(parts) != 1 or parts[0].lower() not in relations:
                allowed = ", ".join(sorted(relations)) or "none"
                problems.append(f"reads {'.'.join(parts)!r}, not the data (it may read: {allowed})")
        if name == "UnresolvedWith":  # a CTE: its names become readable, its bodies are checked
            ctes = list(_items(node.cteRelations()))
            relations = relations | {c._1().lower() for c in ctes}
            for cte in ctes:
                self._plan(cte._2(), relations, problems)
        for expr in _items(node.expressions()):
            self._expression(expr, relations, problems)
        for child in _items(node.children()):
            self._plan(child, relations, problems)

    def _expression(self, expr: Any, relations: set[str], problems: list[str]) -> None:
        name = expr.getClass().getSimpleName()
        if name == "UnresolvedFunction":
            parts = [p.lower() for p in _items(expr.nameParts())]
            if len(parts) != 1 or parts[0] not in self.functions:
                problems.append(f"calls {'.'.join(parts)}(), which a ruleset may not call")
        if name in SUBQUERY_EXPRESSIONS:
            self._plan(expr.plan(), relations, problems)
        for child in _items(expr.children()):
            self._expression(child, relations, problems)


@cache
def guard_for(spark: SparkSession) -> SqlGuard:
    """One guard per session (it reads the function registry once)."""
    return SqlGuard(spark)


def _describe(node: str) -> str:
    words = {
        "SetCommand": "SET",
        "InsertIntoDir": "INSERT OVERWRITE DIRECTORY",
        "UnresolvedTableValuedFunction": "a table-valued function",
        "UnresolvedExecuteImmediate": "EXECUTE IMMEDIATE",
    }
    return words.get(node, f"{node} (a statement)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else type(exc).__name__
    return first.split(": ", 1)[-1] if first.startswith(("org.apache", "pyspark")) else first


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _rules(rules: Iterable[Any]) -> Iterator[Rule]:
    """Every rule, those inside composite rules included."""
    for node in rules:
        if isinstance(node, Rule):
            yield node
        for child in getattr(node, "children", ()) or ():
            yield from _rules([child])


def needs_sql_check(ruleset: Ruleset) -> bool:
    """Whether the ruleset holds a CustomSql query or a where clause (else there is nothing to check)."""
    return any(r.rule_type == "CustomSql" or r.where is not None for r in _rules(ruleset.rules))


def ruleset_refusals(spark: SparkSession, ruleset: Ruleset) -> list[str]:
    """One line per refused construct of the ruleset's CustomSql queries and where clauses."""
    guard = guard_for(spark)
    lines = []
    for rule in _rules(ruleset.rules):
        if rule.rule_type == "CustomSql" and rule.parameters:
            for problem in guard.query(str(rule.parameters[0]), ("primary",)):
                lines.append(f"{rule.render()}: {problem}")
        if rule.where is not None:
            for problem in guard.expression(rule.where):
                lines.append(f'{rule.render()}: where "{rule.where}": {problem}')
    return lines


class RulesetRefused(ValueError):
    """A ruleset holding something a ruleset may not run: one line, the first refusal."""


def refuse_unsafe(spark: SparkSession, ruleset: Ruleset, where: str) -> None:
    """Raise RulesetRefused naming the first refused construct (``where``: the ruleset's file or
    URI), so a job refuses the ruleset at start instead of at every batch."""
    refusals = ruleset_refusals(spark, ruleset)
    if refusals:
        more = f" (and {len(refusals) - 1} more: moviestream quality lint lists them)"
        more = more if len(refusals) > 1 else ""
        raise RulesetRefused(f"{where}: refused: {refusals[0]}{more}")
