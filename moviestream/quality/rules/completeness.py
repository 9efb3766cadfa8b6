"""IsComplete and Completeness: the share of rows with a value."""

from __future__ import annotations

from collections.abc import Callable

from pyspark.sql import Column

from moviestream.quality.dqdl import Rule
from moviestream.quality.rules.base import (
    CompileContext,
    Compiled,
    col_ref,
    count_if,
    metric_satisfies,
    ratio_judge,
    scope_or_all,
    value_reason,
)


def _complete(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    c = rule.parameters[0]
    ok, n = ctx.name("complete"), ctx.name("n")
    in_scope = scope_or_all(scope)
    metric = f"Column.{c}.Completeness"
    if rule.rule_type == "IsComplete":
        test: Callable[[float], bool] = lambda r: r == 1.0  # noqa: E731
    else:
        cond = rule.condition
        assert cond is not None
        test = lambda r: metric_satisfies(r, cond)  # noqa: E731
    return Compiled(
        rule,
        text,
        col_ref(c).isNotNull(),
        aggs={ok: count_if(in_scope & col_ref(c).isNotNull()), n: count_if(in_scope)},
        judge=ratio_judge(metric, ok, n, test),
        row_reason=value_reason(text, col_ref(c)),
    )
