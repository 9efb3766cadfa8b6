"""Rules and composites compiled to Spark Columns: the registry of rule compilers, and AND/OR
over them in COLUMN or ROW mode."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from moviestream.quality.anomalies import MIN_HISTORY, expected_band
from moviestream.quality.catalog import ANOMALY_METRICS
from moviestream.quality.dqdl import Node, Rule, measuring
from moviestream.quality.history import series
from moviestream.quality.references import REFERENCE_RULES
from moviestream.quality.rules import (
    column_values,
    completeness,
    custom_sql,
    reference,
    schema,
    statistics,
    uniqueness,
)
from moviestream.quality.rules.base import (
    HISTORY,
    NOT_MET,
    CompileContext,
    Compiled,
    Judgement,
    RulesetError,
    count_if,
    failed_rule,
    is_numeric,
)


def compile_rule(rule: Rule, ctx: CompileContext) -> Compiled:
    text = rule.render()
    spec = rule.spec
    # DetectAnomalies' first parameter names a metric; the rule it wraps checks its own columns.
    not_columns = ("CustomSql", "ColumnNamesMatchPattern", "DetectAnomalies", *REFERENCE_RULES)
    column_params = rule.parameters if rule.rule_type not in not_columns else ()
    if rule.rule_type != "ColumnExists" and (missing := ctx.missing(column_params)):
        return failed_rule(rule, text, f"Input data does not include column {missing}!", spec.row_level)
    scope, where_error = ctx.where(rule)
    if where_error:
        return failed_rule(rule, text, where_error, spec.row_level)
    compiler = COMPILERS[rule.rule_type]
    compiled = compiler(rule, text, scope, ctx)
    compiled.scope = scope
    return compiled


# Every rule type of catalog.SUPPORTED and no other (tests/unit/test_dqdl_catalog.py).
COMPILERS: dict[str, Callable[[Rule, str, Column | None, CompileContext], Compiled]] = {
    "IsComplete": completeness.compile_completeness,
    "Completeness": completeness.compile_completeness,
    "ColumnValues": column_values.compile_column_values,
    "ColumnLength": column_values.compile_column_length,
    "IsUnique": uniqueness.compile_uniqueness,
    "Uniqueness": uniqueness.compile_uniqueness,
    "IsPrimaryKey": uniqueness.compile_uniqueness,
    "UniqueValueRatio": uniqueness.compile_unique_value_ratio,
    "ColumnExists": schema.compile_column_exists,
    "ColumnCount": schema.compile_column_count,
    "ColumnDataType": column_values.compile_column_data_type,
    "ColumnNamesMatchPattern": schema.compile_column_names_match,
    "RowCount": statistics.aggregate_rule("Dataset.*.RowCount", lambda scope: count_if(scope), integral=True),
    "Mean": statistics.aggregate_rule("Column.{0}.Mean", F.avg),
    "Sum": statistics.aggregate_rule("Column.{0}.Sum", F.sum),
    "StandardDeviation": statistics.aggregate_rule("Column.{0}.StandardDeviation", F.stddev_pop),
    "Variance": statistics.aggregate_rule("Column.{0}.Variance", F.var_pop),
    "DistinctValuesCount": uniqueness.compile_distinct_values,
    "Entropy": uniqueness.compile_entropy,
    "ColumnCorrelation": statistics.aggregate_rule("Multicolumn.{0},{1}.ColumnCorrelation", F.corr),
    "CustomSql": custom_sql.compile_custom_sql,
    "DataFreshness": column_values.compile_data_freshness,
}


def _detect_anomalies(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    """DetectAnomalies "Metric" [params]: the named rule, measuring only; each metric it measures is
    judged against the same metric's earlier runs (moviestream/quality/anomalies.py)."""
    target = Rule(ANOMALY_METRICS[rule.parameters[0]], rule.parameters[1:])
    inner = compile_rule(measuring(target), ctx)

    def judge(values: dict[str, Any]) -> Judgement:
        measured = {k: v for k, v in inner.judge(values).metrics.items() if v is not None}
        if not measured:
            return Judgement(True, f"Nothing to judge: {target.render()} measured no value in this run", {})
        runs = values.get(HISTORY, ())
        anomalies, waiting, observations = [], [], []
        for name, value in measured.items():
            band = expected_band(series(runs, name))
            if band is None:
                waiting.append(name)
                continue
            observation = {
                "MetricName": name,
                "MetricValues": {
                    "ActualValue": value,
                    "ExpectedValue": band.expected,
                    "LowerLimit": band.lower,
                    "UpperLimit": band.upper,
                },
            }
            if not band.holds(value):
                anomalies.append(
                    f"{name} = {value:.6g} is outside the expected [{band.lower:.6g}, {band.upper:.6g}]"
                    f" (expected {band.expected:.6g}, from {band.normal} earlier runs)"
                )
                observations.append(
                    {"Description": f"Anomaly: {anomalies[-1]}", "MetricBasedObservation": observation}
                )
        if anomalies:
            return Judgement(False, "; ".join(anomalies), measured, observations)
        reason = None
        if waiting:
            reason = (
                f"Passed without judging {', '.join(waiting)}: fewer than {MIN_HISTORY} earlier runs "
                "in the history"
            )
        return Judgement(True, reason, measured, observations)

    return Compiled(rule, text, None, aggs=inner.aggs, judge=judge)


# AllStatistics "c": every statistic of the column, by its type.
_STATISTICS_ALL = ("Completeness", "DistinctValuesCount", "UniqueValueRatio", "Uniqueness", "Entropy")
_STATISTICS_NUMERIC = ("Mean", "Sum", "StandardDeviation", "ColumnValues")  # ColumnValues: min and max
_STATISTICS_TEXT = ("ColumnLength",)  # shortest and longest


def _all_statistics(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    c = rule.parameters[0]
    numeric = is_numeric(ctx.types[c])
    kinds = _STATISTICS_ALL + (_STATISTICS_NUMERIC if numeric else _STATISTICS_TEXT)
    parts = [compile_rule(measuring(Rule(kind, (c,), where=rule.where)), ctx) for kind in kinds]
    aggs: dict[str, Column] = {}
    for part in parts:
        aggs.update(part.aggs)

    def judge(values: dict[str, Any]) -> Judgement:
        metrics: dict[str, float | None] = {}
        for part in parts:
            metrics.update(part.judge(values).metrics)
        return Judgement(True, None, metrics)

    return Compiled(rule, text, None, aggs=aggs, judge=judge)


COMPILERS.update(reference.COMPILERS)
COMPILERS["DetectAnomalies"] = _detect_anomalies
COMPILERS["AllStatistics"] = _all_statistics


# -- composites ---------------------------------------------------------------------------------


def _effective(c: Compiled) -> Column | None:
    """A rule's per-row result with its where clause applied (out-of-scope rows pass)."""
    if c.row_pass is None:
        return None
    return c.row_pass if c.scope is None else (~c.scope) | c.row_pass


def compile_node(node: Node, ctx: CompileContext) -> Compiled:
    if isinstance(node, Rule):
        return compile_rule(node, ctx)
    text = node.render()
    children = [compile_node(child, ctx) for child in node.children]
    combine = (lambda a, b: a & b) if node.operator == "and" else (lambda a, b: a | b)
    row_values = [_effective(c) for c in children]
    row_pass = None
    if all(v is not None for v in row_values):
        row_pass = row_values[0]
        for v in row_values[1:]:
            row_pass = combine(row_pass, v)
    aggs: dict[str, Column] = {}
    for c in children:
        aggs.update(c.aggs)
    reason_col = F.lit(f"{text}: the row does not meet the composite rule")
    if ctx.options.composite_mode == "ROW":
        excluded = [leaf.render() for leaf in node.leaves() if _excluded_in_row_mode(leaf)]
        if excluded:
            raise RulesetError(f"rules not allowed in a ROW-mode composite: {'; '.join(excluded)}")
        if row_pass is None:
            skipped = [c.text for c, v in zip(children, row_values, strict=True) if v is None]
            raise RulesetError(f"ROW-mode composite needs rules judged per row, not: {'; '.join(skipped)}")
        bad, n = ctx.name("bad"), ctx.name("n")
        aggs = {bad: count_if(~row_pass), n: F.count(F.lit(1))}

        def judge_rows(values: dict[str, Any]) -> Judgement:
            failing = values[bad] or 0
            total = values[n] or 0
            good = failing == 0
            reason = None if good else f"{failing} of {total} rows {NOT_MET}"
            return Judgement(good, reason, {})

        return Compiled(node, text, row_pass, aggs=aggs, judge=judge_rows, row_reason=reason_col)

    def judge_columns(values: dict[str, Any]) -> Judgement:
        results = [c.judge(values) for c in children]
        outcomes = [r.passed for r in results]
        good = all(outcomes) if node.operator == "and" else any(outcomes)
        metrics: dict[str, float | None] = {}
        for r in results:
            metrics.update(r.metrics)
        reasons = [r.reason for r in results if r.reason and not r.passed]
        return Judgement(good, None if good else " ".join(reasons) or f"{text} failed", metrics)

    return Compiled(node, text, row_pass, aggs=aggs, judge=judge_columns, row_reason=reason_col)


def _excluded_in_row_mode(rule: Rule) -> bool:
    if not rule.spec.in_row_composite:
        return True
    return rule.threshold is not None and rule.rule_type in ("ColumnValues", "ColumnDataType", "CustomSql")


def row_decisive(node: Node) -> bool:
    """True if the rule passes only when every row does, so a failing row is a bad record.

    Ratio rules (Completeness, Uniqueness, any rule with a threshold) accept some failing rows by
    design: Glue still marks those rows Failed, but the pipeline does not route them as bad.
    """
    if isinstance(node, Rule):
        return node.spec.row_level and node.spec.in_row_composite and node.threshold is None
    return all(row_decisive(child) for child in node.children)
