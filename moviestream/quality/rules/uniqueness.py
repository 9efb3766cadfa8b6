"""Rules over how often values occur: IsUnique, Uniqueness, IsPrimaryKey, UniqueValueRatio,
DistinctValuesCount and Entropy (the per-value counts are one shared window)."""

from __future__ import annotations

import math
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from moviestream.quality.dqdl import Rule
from moviestream.quality.rules.base import (
    DISTINCT_PREFIX,
    NOT_MET,
    CompileContext,
    Compiled,
    Judgement,
    bound,
    col_ref,
    count_if,
    fmt,
    metric_satisfies,
    scope_or_all,
    value_reason,
)


def _uniqueness_metric_name(keys: tuple[str, ...], name: str) -> str:
    return f"Column.{keys[0]}.{name}" if len(keys) == 1 else f"Multicolumn.{','.join(keys)}.{name}"


def compile_uniqueness(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    """IsUnique, Uniqueness, IsPrimaryKey: share of keyed rows whose key occurs once."""
    keys = rule.parameters
    count = ctx.key_count(keys, scope)
    in_scope = scope_or_all(scope)
    has_key = F.lit(False)
    for k in keys:
        has_key = has_key | col_ref(k).isNotNull()
    all_keys = F.lit(True)
    for k in keys:
        all_keys = all_keys & col_ref(k).isNotNull()
    once, keyed, n = ctx.name("once"), ctx.name("keyed"), ctx.name("n")
    aggs = {once: count_if(in_scope & has_key & (count == 1)), keyed: count_if(in_scope & has_key)}
    completes = {k: ctx.name("complete") for k in keys}
    primary = rule.rule_type == "IsPrimaryKey"
    if primary:
        aggs[n] = count_if(in_scope)
        for k, alias in completes.items():
            aggs[alias] = count_if(in_scope & col_ref(k).isNotNull())
    metric = _uniqueness_metric_name(keys, "Uniqueness")

    def judge(values: dict[str, Any]) -> Judgement:
        if not values[keyed]:
            return Judgement(False, "No rows to evaluate (no key values in scope)", {})
        ratio = values[once] / values[keyed]
        metrics: dict[str, float | None] = {metric: ratio}
        if rule.rule_type == "Uniqueness":
            good = metric_satisfies(ratio, bound(rule, values).condition)  # type: ignore[arg-type]
        else:
            good = ratio == 1.0
        reason = None if good else f"Value: {fmt(ratio)} {NOT_MET}"
        if primary:
            for k, alias in completes.items():
                completeness = values[alias] / values[n]
                metrics[f"Column.{k}.Completeness"] = completeness
                if completeness != 1.0 and good:
                    good, reason = False, f"Value: {fmt(completeness)} {NOT_MET} (column {k} has NULLs)"
        return Judgement(good, reason, metrics)

    # A row with no key value at all is not a duplicate of anything (AWS/Deequ leave it out).
    row_pass = all_keys & (count == 1) if primary else (~has_key) | (count == 1)
    shown = F.concat_ws(",", *[F.coalesce(col_ref(k).cast("string"), F.lit("NULL")) for k in keys])
    return Compiled(rule, text, row_pass, aggs=aggs, judge=judge, row_reason=value_reason(text, shown))


def compile_unique_value_ratio(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    c = rule.parameters[0]
    count = ctx.key_count((c,), scope)
    in_scope = scope_or_all(scope)
    once, distinct = ctx.name("once"), ctx.name(DISTINCT_PREFIX)
    aggs = {
        once: count_if(in_scope & col_ref(c).isNotNull() & (count == 1)),
        distinct: F.count_distinct(F.when(in_scope, col_ref(c))),
    }
    metric = f"Column.{c}.UniqueValueRatio"

    def judge(values: dict[str, Any]) -> Judgement:
        if not values[distinct]:
            return Judgement(False, "No values to evaluate (none in scope)", {})
        ratio = values[once] / values[distinct]
        good = metric_satisfies(ratio, bound(rule, values).condition)  # type: ignore[arg-type]
        return Judgement(good, None if good else f"Value: {fmt(ratio)} {NOT_MET}", {metric: ratio})

    return Compiled(rule, text, None, aggs=aggs, judge=judge)


def compile_distinct_values(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    c = rule.parameters[0]
    in_scope = scope_or_all(scope)
    distinct, nulls = ctx.name(DISTINCT_PREFIX), ctx.name("nulls")
    aggs = {
        distinct: F.count_distinct(F.when(in_scope, col_ref(c))),
        nulls: count_if(in_scope & col_ref(c).isNull()),
    }
    metric = f"Column.{c}.DistinctValuesCount"

    def judge(values: dict[str, Any]) -> Judgement:
        v = float(values[distinct] + (1 if values[nulls] else 0))  # NULL is a value of its own
        good = metric_satisfies(v, bound(rule, values).condition)  # type: ignore[arg-type]
        return Judgement(good, None if good else f"Value: {fmt(v, True)} {NOT_MET}", {metric: v})

    return Compiled(rule, text, None, aggs=aggs, judge=judge)


def compile_entropy(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    c = rule.parameters[0]
    count = ctx.key_count((c,), scope)
    valued = scope_or_all(scope) & col_ref(c).isNotNull()
    n, log_sum = ctx.name("n"), ctx.name("logsum")
    # H = ln N - (1/N) * sum over values of cnt*ln(cnt); the inner sum is sum over rows of ln(cnt).
    aggs = {n: count_if(valued), log_sum: F.sum(F.when(valued, F.log(count.cast("double"))))}
    metric = f"Column.{c}.Entropy"

    def judge(values: dict[str, Any]) -> Judgement:
        total = values[n] or 0
        if not total:
            return Judgement(False, "No values to evaluate (all NULL or none in scope)", {})
        h = math.log(total) - (values[log_sum] or 0.0) / total
        h = 0.0 if abs(h) < 1e-15 else h
        good = metric_satisfies(h, bound(rule, values).condition)  # type: ignore[arg-type]
        return Judgement(good, None if good else f"Value: {fmt(h)} {NOT_MET}", {metric: h})

    return Compiled(rule, text, None, aggs=aggs, judge=judge)
