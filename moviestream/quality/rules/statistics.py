"""Rules that compare one aggregate with their condition: RowCount, Mean, Sum,
StandardDeviation, Variance and ColumnCorrelation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyspark.sql import Column
from pyspark.sql import functions as F

from moviestream.quality.dqdl import Rule
from moviestream.quality.rules.base import (
    NOT_MET,
    CompileContext,
    Compiled,
    Judgement,
    as_float,
    bound,
    col_ref,
    fmt,
    is_numeric,
    metric_satisfies,
    scope_or_all,
)


def aggregate_rule(
    metric: str, agg: Callable[..., Column], integral: bool = False
) -> Callable[[Rule, str, Column | None, CompileContext], Compiled]:
    """Rules that compare one aggregate with their condition (Mean, Sum, RowCount, ...)."""

    def compile_(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
        alias = ctx.name("metric")
        name = metric.format(*rule.parameters)
        value = agg(scope_or_all(scope)) if not rule.parameters else _scoped_agg(agg, rule, scope, ctx)

        def judge(values: dict[str, Any]) -> Judgement:
            v = as_float(values[alias])
            if v is None:
                return Judgement(False, "No values to evaluate (all NULL or none in scope)", {})
            good = metric_satisfies(v, bound(rule, values).condition)  # type: ignore[arg-type]
            return Judgement(good, None if good else f"Value: {fmt(v, integral)} {NOT_MET}", {name: v})

        return Compiled(rule, text, None, aggs={alias: value}, judge=judge)

    return compile_


def _scoped_agg(agg: Callable[..., Column], rule: Rule, scope: Column | None, ctx: CompileContext) -> Column:
    cols = [col_ref(p) for p in rule.parameters]
    numeric = [
        c if is_numeric(ctx.types[p]) else c.try_cast("double")
        for c, p in zip(cols, rule.parameters, strict=True)
    ]
    scoped = [F.when(scope_or_all(scope), c) for c in numeric]
    return agg(*scoped)
