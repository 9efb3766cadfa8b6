"""Rules on the dataset's columns rather than its rows: ColumnExists, ColumnCount and
ColumnNamesMatchPattern."""

from __future__ import annotations

import re
from typing import Any

from pyspark.sql import Column

from moviestream.quality.dqdl import Rule
from moviestream.quality.rules.base import (
    NOT_MET,
    CompileContext,
    Compiled,
    Judgement,
    bound,
    fmt,
    metric_satisfies,
)


def compile_column_exists(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    c = rule.parameters[0]
    present = c in ctx.types
    reason = None if present else f"Input data does not include column {c}!"
    return Compiled(rule, text, None, judge=lambda _: Judgement(present, reason, {}))


def compile_column_count(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    count = float(len(ctx.columns))

    def judge(values: dict[str, Any]) -> Judgement:
        cond = bound(rule, values).condition
        assert cond is not None
        good = metric_satisfies(count, cond)
        reason = None if good else f"Value: {fmt(count, True)} {NOT_MET}"
        return Judgement(good, reason, {"Dataset.*.ColumnCount": count})

    return Compiled(rule, text, None, judge=judge)


def compile_column_names_match(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    pattern = re.compile(rule.parameters[0])
    names = ctx.columns
    matching = [n for n in names if pattern.fullmatch(n)]
    ratio = len(matching) / len(names) if names else 1.0
    good = ratio == 1.0
    odd = [n for n in names if n not in matching]
    reason = None if good else f"Value: {fmt(ratio)} {NOT_MET} (not matching: {', '.join(odd)})"
    metrics = {"Dataset.*.ColumnNamesPatternMatchRatio": ratio}
    return Compiled(rule, text, None, judge=lambda _: Judgement(good, reason, metrics))
