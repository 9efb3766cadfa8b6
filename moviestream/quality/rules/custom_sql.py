"""CustomSql: a query over the data as the view ``primary``, scalar or row-returning."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

from pyspark.errors import PySparkException
from pyspark.sql import Column
from pyspark.sql import functions as F

from moviestream.quality.dqdl import Rule
from moviestream.quality.rules.base import (
    INTERNAL,
    NOT_MET,
    CompileContext,
    Compiled,
    Judgement,
    as_float,
    col_ref,
    count_if,
    failed_rule,
    fmt,
    metric_satisfies,
    ratio_judge,
)
from moviestream.quality.sql_guard import guard_for


def compile_custom_sql(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    """Scalar form (with a condition): the query's single number. Row form: the rows it returns
    pass, the others fail; the share that passes is compared with the threshold (else must be 1)."""
    sql = rule.parameters[0]
    spark = ctx.df.sparkSession
    view = f"{INTERNAL}primary_{uuid.uuid4().hex[:8]}"
    ctx.df.select(*[col_ref(c) for c in ctx.columns]).createOrReplaceTempView(view)
    # AWS names the data `primary`; the view gets a unique name so concurrent evaluations don't clash.
    query = re.sub(r"\bprimary\b", view, sql)
    cond = rule.condition
    refused = guard_for(spark).query(query, (view,))  # what spark.sql would run, as it would parse it
    if refused:
        why = refused[0].replace(view, "primary")
        return failed_rule(rule, text, f"CustomSql refused: {why}", cond is None)
    try:
        result = spark.sql(query)
        columns = result.columns
    except (PySparkException, ValueError) as exc:
        first = str(exc).strip().splitlines()[0]
        return failed_rule(rule, text, f"CustomSql query failed: {first}", cond is None)
    if cond is not None:
        try:
            row = result.limit(2).collect()
        except PySparkException as exc:
            return failed_rule(rule, text, f"CustomSql query failed: {str(exc).splitlines()[0]}", False)
        if len(row) != 1 or len(row[0]) != 1:
            return failed_rule(rule, text, "CustomSql must return a single number for a condition", False)
        value = as_float(row[0][0]) if isinstance(row[0][0], int | float | Decimal) else None
        good = metric_satisfies(value, cond)
        reason = None if good else f"Value: {fmt(value, True)} {NOT_MET}"
        metrics = {"Dataset.*.CustomSQL": value} if value is not None else {}
        return Compiled(rule, text, None, judge=lambda _: Judgement(good, reason, metrics))
    unknown = [c for c in columns if c not in ctx.types]
    if unknown:
        return failed_rule(
            rule, text, f"CustomSql must select columns of primary (unknown: {', '.join(unknown)})", True
        )
    marker = ctx.name("sqlrow")
    ctx.joins.append((marker, result.distinct().withColumn(marker, F.lit(True)), columns))
    pred = F.coalesce(F.col(marker), F.lit(False))
    ok, n = ctx.name("ok"), ctx.name("n")
    threshold = rule.threshold
    metric = "Dataset.*.CustomSQL.Compliance"

    def test(ratio: float, values: dict[str, Any]) -> bool:
        return metric_satisfies(ratio, threshold) if threshold is not None else ratio == 1.0

    return Compiled(
        rule,
        text,
        pred,
        aggs={ok: count_if(pred), n: F.count(F.lit(1))},
        judge=ratio_judge(metric, ok, n, test),
        row_reason=F.lit(f"{text}: the row is not returned by the query"),
    )
