"""Evaluate a parsed DQDL ruleset on a Spark DataFrame.

Row-level rules compile to boolean column expressions (NULL never passes, except for ``!=`` and
``not in`` as AWS documents); dataset-level outcomes of all rules come from ONE aggregation job.
Outputs follow Glue's shape: per-row DataQualityRulesPass / DataQualityRulesFail /
DataQualityRulesSkip / DataQualityEvaluationResult, and per-rule outcomes with Rule, Outcome,
FailureReason, EvaluatedMetrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from moviestream.quality.dqdl import Condition, Literal, Rule, Ruleset

ROW_PASS = "DataQualityRulesPass"
ROW_FAIL = "DataQualityRulesFail"
ROW_SKIP = "DataQualityRulesSkip"
ROW_RESULT = "DataQualityEvaluationResult"
ROW_REASONS = "DataQualityFailureReasons"  # ours: one human reason per failed rule


def _lit(value: Literal) -> Column:
    if value.kind == "number":
        return F.lit(value.value)
    return F.lit(value.value)


def _keyword_test(col: Column, keyword: str) -> Column:
    if keyword == "NULL":
        return col.isNull()
    text = col.cast("string")
    if keyword == "EMPTY":
        return text == ""
    return (F.length(text) > 0) & (F.length(F.trim(text)) == 0)  # WHITESPACES_ONLY


def _condition_expr(col: Column, cond: Condition) -> Column:
    """A boolean that is TRUE when the value satisfies the condition; NULL handling per AWS."""
    ops = cond.operands
    op = cond.operator
    if op in ("in", "not_in"):
        plain = [o for o in ops if o.kind != "keyword"]
        keywords = [o.value for o in ops if o.kind == "keyword"]
        member = F.lit(False)
        if plain:
            member = (
                col.cast("string").isin([str(o.value) for o in plain])
                if any(o.kind == "string" for o in plain)
                else col.isin([o.value for o in plain])
            )
            member = F.coalesce(member, F.lit(False))
        for kw in keywords:
            member = member | F.coalesce(_keyword_test(col, str(kw)), F.lit(False))
        return member if op == "in" else ~member
    if op == "between":  # DQDL between is exclusive
        return F.coalesce((col > _lit(ops[0])) & (col < _lit(ops[1])), F.lit(False))
    if op == "not_between":  # and its complement inclusive
        return F.coalesce((col <= _lit(ops[0])) | (col >= _lit(ops[1])), F.lit(False))
    operand = ops[0]
    if operand.kind == "keyword":
        test = _keyword_test(col, str(operand.value))
        return F.coalesce(test if op == "=" else ~test, F.lit(op == "!="))
    compare = {
        "=": col == _lit(operand),
        "!=": col != _lit(operand),
        ">": col > _lit(operand),
        ">=": col >= _lit(operand),
        "<": col < _lit(operand),
        "<=": col <= _lit(operand),
    }[op]
    # NULL fails every operator except != (which passes), as AWS documents for ColumnValues.
    return F.coalesce(compare, F.lit(op == "!="))


def _metric_satisfies(value: float | None, cond: Condition) -> bool:
    if value is None:
        return False
    v = Decimal(str(value))
    nums = [o.value for o in cond.operands if isinstance(o.value, Decimal)]
    match cond.operator:
        case "=":
            return v == nums[0]
        case "!=":
            return v != nums[0]
        case ">":
            return v > nums[0]
        case ">=":
            return v >= nums[0]
        case "<":
            return v < nums[0]
        case "<=":
            return v <= nums[0]
        case "between":
            return nums[0] < v < nums[1]
        case "not_between":
            return v <= nums[0] or v >= nums[1]
        case "in":
            return v in nums
        case "not_in":
            return v not in nums
    raise ValueError(cond.operator)


@dataclass(frozen=True)
class CompiledRule:
    rule: Rule
    row_pass: Column | None  # None: the rule has no row-level result (it is skipped per row)


def compile_rule(rule: Rule) -> CompiledRule:
    col = F.col(f"`{rule.parameters[0]}`")
    if rule.rule_type in ("IsComplete", "Completeness"):
        return CompiledRule(rule, col.isNotNull())
    if rule.rule_type == "ColumnValues":
        assert rule.condition is not None
        return CompiledRule(rule, _condition_expr(col, rule.condition))
    raise ValueError(f"no evaluator for {rule.rule_type}")


def _reason(rule: Rule) -> Column:
    col = F.col(f"`{rule.parameters[0]}`")
    shown = F.coalesce(col.cast("string"), F.lit("NULL"))
    return F.concat(
        F.lit(f"{rule.render()}: Value: "), shown, F.lit(" does not meet the constraint requirement!")
    )


def add_row_level_results(df: DataFrame, ruleset: Ruleset) -> DataFrame:
    """Add Glue's row-level columns plus DataQualityFailureReasons (one reason per failed rule)."""
    compiled = [compile_rule(r) for r in ruleset.rules]
    passed = [F.when(c.row_pass, F.lit(c.rule.render())) for c in compiled if c.row_pass is not None]
    failed = [F.when(~c.row_pass, F.lit(c.rule.render())) for c in compiled if c.row_pass is not None]
    reasons = [F.when(~c.row_pass, _reason(c.rule)) for c in compiled if c.row_pass is not None]
    skipped = [F.lit(c.rule.render()) for c in compiled if c.row_pass is None]
    fail_col = F.array_compact(F.array(*failed)) if failed else F.array().cast("array<string>")
    return df.select(
        "*",
        (F.array_compact(F.array(*passed)) if passed else F.array().cast("array<string>")).alias(ROW_PASS),
        fail_col.alias(ROW_FAIL),
        (F.array(*skipped) if skipped else F.array().cast("array<string>")).alias(ROW_SKIP),
        F.when(F.size(fail_col) == 0, F.lit("Passed")).otherwise(F.lit("Failed")).alias(ROW_RESULT),
        (F.array_compact(F.array(*reasons)) if reasons else F.array().cast("array<string>")).alias(
            ROW_REASONS
        ),
    )


def rule_outcomes(df: DataFrame, ruleset: Ruleset) -> list[dict[str, Any]]:
    """Dataset-level outcome of every rule, computed in a single aggregation over ``df``."""
    aggs: list[Column] = [F.count(F.lit(1)).alias("__rows")]
    for i, rule in enumerate(ruleset.rules):
        col = F.col(f"`{rule.parameters[0]}`")
        compiled = compile_rule(rule)
        aggs.append(F.sum(F.when(compiled.row_pass, 1).otherwise(0)).alias(f"__pass{i}"))
        aggs.append(F.count(col).alias(f"__nonnull{i}"))
        if rule.rule_type == "ColumnValues":
            aggs.append(F.min(col).cast("double").alias(f"__min{i}"))
            aggs.append(F.max(col).cast("double").alias(f"__max{i}"))
    row = df.agg(*aggs).collect()[0].asDict()
    total = row["__rows"] or 0
    outcomes = []
    for i, rule in enumerate(ruleset.rules):
        column = rule.parameters[0]
        passed = row[f"__pass{i}"] or 0
        if rule.rule_type in ("IsComplete", "Completeness"):
            ratio = (row[f"__nonnull{i}"] / total) if total else 1.0
            metrics = {f"Column.{column}.Completeness": ratio}
            ok = ratio == 1.0 if rule.rule_type == "IsComplete" else _metric_satisfies(ratio, rule.condition)
            reason = None if ok else f"Value: {ratio} does not meet the constraint requirement!"
        else:  # ColumnValues without threshold: every row must pass
            assert rule.condition is not None
            op = rule.condition.operator
            if op in (">", ">="):
                metrics = {f"Column.{column}.Minimum": row[f"__min{i}"]}
            elif op in ("<", "<="):
                metrics = {f"Column.{column}.Maximum": row[f"__max{i}"]}
            else:
                metrics = {f"Column.{column}.ColumnValues.Compliance": (passed / total) if total else 1.0}
            ok = passed == total
            reason = (
                None if ok else f"{total - passed} of {total} rows do not meet the constraint requirement!"
            )
        outcomes.append(
            {
                "Rule": rule.render(),
                "Outcome": "Passed" if ok else "Failed",
                "FailureReason": reason,
                "EvaluatedMetrics": metrics,
                "EvaluatedRule": rule.render(),
            }
        )
    return outcomes
