"""IsComplete and Completeness: the share of rows with a value."""

from __future__ import annotations

from typing import Any

from pyspark.sql import Column

from moviestream.quality.dqdl import Rule
from moviestream.quality.rules.base import (
    CompileContext,
    Compiled,
    bound,
    col_ref,
    count_if,
    metric_satisfies,
    ratio_judge,
    scope_or_all,
    value_reason,
)


def compile_completeness(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    c = rule.parameters[0]
    ok, n = ctx.name("complete"), ctx.name("n")
    in_scope = scope_or_all(scope)
    metric = f"Column.{c}.Completeness"

    def test(ratio: float, values: dict[str, Any]) -> bool:
        if rule.rule_type == "IsComplete":
            return ratio == 1.0
        cond = bound(rule, values).condition
        assert cond is not None
        return metric_satisfies(ratio, cond)

    return Compiled(
        rule,
        text,
        col_ref(c).isNotNull(),
        aggs={ok: count_if(in_scope & col_ref(c).isNotNull()), n: count_if(in_scope)},
        judge=ratio_judge(metric, ok, n, test),
        row_reason=value_reason(text, col_ref(c)),
    )
