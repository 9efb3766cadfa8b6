"""Rules on each row's value: ColumnValues, ColumnLength, ColumnDataType and DataFreshness."""

from __future__ import annotations

from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from moviestream.quality.catalog import DATA_TYPES
from moviestream.quality.dqdl import Rule
from moviestream.quality.rules.base import (
    NOT_MET,
    CompileContext,
    Compiled,
    Judgement,
    as_float,
    bound,
    col_ref,
    condition_predicate,
    count_if,
    fmt,
    is_numeric,
    is_temporal,
    metric_satisfies,
    number_predicate,
    ratio_judge,
    scope_or_all,
    value_reason,
)


def compile_column_values(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    c = rule.parameters[0]
    cond = rule.condition
    assert cond is not None
    dtype = ctx.types[c]
    if cond.operator == "measure":
        return _column_values_measured(rule, text, scope, ctx)
    pred = condition_predicate(col_ref(c), dtype, cond, ctx.now)
    in_scope = scope_or_all(scope)
    ok, n, nulls, lo, hi = (ctx.name(x) for x in ("ok", "n", "nulls", "min", "max"))
    aggs = {
        ok: count_if(in_scope & pred),
        n: count_if(in_scope),
        nulls: count_if(in_scope & ~pred & col_ref(c).isNull()),
    }
    numeric = is_numeric(dtype)
    if numeric:
        aggs[lo] = F.min(F.when(in_scope, col_ref(c))).cast("double")
        aggs[hi] = F.max(F.when(in_scope, col_ref(c))).cast("double")
    threshold = rule.threshold
    compliance_metric = f"Column.{c}.ColumnValues.Compliance"

    def judge(values: dict[str, Any]) -> Judgement:
        total, passing = values[n] or 0, values[ok] or 0
        compliance = passing / total if total else None
        if threshold is not None:
            if compliance is None:
                return Judgement(False, "No rows to evaluate (none in scope)", {})
            good = metric_satisfies(compliance, threshold)
            reason = None if good else f"Value: {fmt(compliance)} {NOT_MET}"
            return Judgement(good, reason, {compliance_metric: compliance})
        metrics: dict[str, float | None]
        shown: float | None = compliance
        if numeric and cond.operator in (">", ">="):
            metrics = {f"Column.{c}.Minimum": as_float(values[lo])}
            shown = as_float(values[lo])
        elif numeric and cond.operator in ("<", "<="):
            metrics = {f"Column.{c}.Maximum": as_float(values[hi])}
            shown = as_float(values[hi])
        else:
            metrics = {compliance_metric: compliance if compliance is not None else 1.0}
        good = passing == total
        if good:
            return Judgement(True, None, metrics)
        if values[nulls]:
            return Judgement(False, f"Value: NULL {NOT_MET}", metrics)
        return Judgement(False, f"Value: {fmt(shown)} {NOT_MET}", metrics)

    return Compiled(rule, text, pred, aggs=aggs, judge=judge, row_reason=value_reason(text, col_ref(c)))


def _column_values_measured(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    """ColumnValues as an analyzer (or watched by DetectAnomalies): a numeric column's minimum and
    maximum; other columns have no ColumnValues metric."""
    c = rule.parameters[0]
    if not is_numeric(ctx.types[c]):
        return Compiled(rule, text, None)
    in_scope = scope_or_all(scope)
    lo, hi = ctx.name("min"), ctx.name("max")
    aggs = {
        lo: F.min(F.when(in_scope, col_ref(c))).cast("double"),
        hi: F.max(F.when(in_scope, col_ref(c))).cast("double"),
    }

    def judge(values: dict[str, Any]) -> Judgement:
        metrics = {f"Column.{c}.Minimum": as_float(values[lo]), f"Column.{c}.Maximum": as_float(values[hi])}
        return Judgement(True, None, metrics)

    return Compiled(rule, text, None, aggs=aggs, judge=judge)


def compile_column_length(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    c = rule.parameters[0]
    cond = rule.condition
    assert cond is not None
    length = F.coalesce(F.length(col_ref(c).cast("string")), F.lit(0))  # NULL has length 0 (AWS)
    measuring = cond.operator == "measure"  # an analyzer: lengths only
    pred = F.lit(True) if measuring else number_predicate(length, cond)
    in_scope = scope_or_all(scope)
    bad, lo, hi = ctx.name("bad"), ctx.name("minlen"), ctx.name("maxlen")
    aggs = {
        bad: count_if(in_scope & ~pred),
        lo: F.min(F.when(in_scope, length)),
        hi: F.max(F.when(in_scope, length)),
    }

    def judge(values: dict[str, Any]) -> Judgement:
        metrics = {
            f"Column.{c}.MinimumLength": as_float(values[lo]),
            f"Column.{c}.MaximumLength": as_float(values[hi]),
        }
        if not values[bad]:
            return Judgement(True, None, metrics)
        low_ok = metric_satisfies(as_float(values[lo]), cond)
        shown = values[hi] if low_ok else values[lo]
        return Judgement(False, f"Value: {fmt(as_float(shown), integral=True)} {NOT_MET}", metrics)

    return Compiled(
        rule, text, None if measuring else pred, aggs=aggs, judge=judge, row_reason=value_reason(text, length)
    )


def compile_column_data_type(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    c = rule.parameters[0]
    cond = rule.condition
    assert cond is not None
    names = [str(o.value).upper() for o in cond.operands]
    source = ctx.types[c]

    def castable(type_name: str) -> Column:
        target = DATA_TYPES[type_name]
        if type_name == "STRING" or source.simpleString() == target:
            return col_ref(c).isNotNull()
        return col_ref(c).try_cast(target).isNotNull()

    any_type = F.lit(False)
    for name in names:
        any_type = any_type | castable(name)
    pred = any_type if cond.operator in ("=", "in") else col_ref(c).isNotNull() & ~any_type
    in_scope = scope_or_all(scope)
    ok, n = ctx.name("ok"), ctx.name("n")
    metric = f"Column.{c}.ColumnDataType.Compliance"

    def test(ratio: float, values: dict[str, Any]) -> bool:
        threshold = bound(rule, values).threshold  # may be dynamic
        return metric_satisfies(ratio, threshold) if threshold is not None else ratio == 1.0

    return Compiled(
        rule,
        text,
        None,  # AWS: not judged per row
        aggs={ok: count_if(in_scope & pred), n: count_if(in_scope)},
        judge=ratio_judge(metric, ok, n, test),
    )


def compile_data_freshness(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    c = rule.parameters[0]
    cond = rule.condition
    assert cond is not None
    moment = col_ref(c) if is_temporal(ctx.types[c]) else col_ref(c).try_cast("timestamp")
    now = F.lit(ctx.now).cast("timestamp")
    age_hours = (F.unix_timestamp(now) - F.unix_timestamp(moment.cast("timestamp"))) / 3600.0
    pred = col_ref(c).isNotNull() & number_predicate(age_hours, cond)
    in_scope = scope_or_all(scope)
    ok, n = ctx.name("ok"), ctx.name("n")
    metric = f"Column.{c}.DataFreshness.Compliance"

    def judge(values: dict[str, Any]) -> Judgement:
        total = values[n] or 0
        if not total:
            return Judgement(False, "No rows to evaluate (none in scope)", {})
        ratio = values[ok] / total
        good = ratio == 1.0
        reason = None if good else f"{ratio * 100:.2f} % of rows passed the threshold"
        return Judgement(good, reason, {metric: ratio})

    return Compiled(
        rule,
        text,
        pred,
        aggs={ok: count_if(in_scope & pred), n: count_if(in_scope)},
        judge=judge,
        row_reason=value_reason(text, col_ref(c)),
    )
