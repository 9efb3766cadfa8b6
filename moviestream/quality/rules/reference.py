"""Rules against a reference dataset bound to an alias: ReferentialIntegrity, RowCountMatch,
DatasetMatch, AggregateMatch and SchemaMatch.

Each measures with its own small Spark query when it is judged (the dataset under test is
values[FRAME], the references values[REFERENCES]), so compiling them once serves every batch
and row-level results never pay for them. References are broadcast in joins: they are capped in
size when loaded (moviestream/quality/reference_sources.py). A rule whose alias is not bound
fails, naming it.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from moviestream.quality.catalog import compared_metric
from moviestream.quality.dqdl import Rule
from moviestream.quality.references import aggregate, column_pairs, integrity
from moviestream.quality.rules.base import (
    NOT_MET,
    CompileContext,
    Compiled,
    Judgement,
    bound,
    col_ref,
    failed_rule,
    fmt,
    metric_satisfies,
)

FRAME = "__dq_frame"  # values[FRAME]: the dataset under test (the judged frame)
REFERENCES = "__dq_references"  # values[REFERENCES]: alias -> DataFrame


def _unbound(alias: str) -> Judgement:
    return Judgement(False, f"no reference dataset is bound to {alias!r}: pass --ref {alias}=SOURCE", {})


def _reference(values: dict[str, Any], alias: str) -> DataFrame | None:
    return (values.get(REFERENCES) or {}).get(alias)


def _compared(
    rule: Rule, values: dict[str, Any], value: float, metric: str, integral: bool = False
) -> Judgement:
    cond = bound(rule, values).condition
    assert cond is not None
    good = metric_satisfies(value, cond)
    return Judgement(good, None if good else f"Value: {fmt(value)} {NOT_MET}", {metric: value})


def _key(frame: DataFrame, name: str, other: DataFrame, other_name: str) -> tuple[Column, Column]:
    """Two columns to join on: as they are when their types agree, else both as strings (an
    integer key against a CSV reference's text, say), so no ANSI cast can fail the query."""
    left, right = frame.schema[name].dataType, other.schema[other_name].dataType
    if left == right:
        return col_ref(name), col_ref(other_name)
    return col_ref(name).cast("string"), col_ref(other_name).cast("string")


def _no_columns(alias: str, reference: DataFrame, names: tuple[str, ...]) -> Judgement | None:
    absent = [n for n in names if n not in reference.columns]
    if absent:
        return Judgement(False, f"Reference dataset {alias!r} does not include column {absent[0]}!", {})
    return None


def _referential_integrity(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    """Share of the primary's rows whose key (the columns' values together) is in the reference,
    over the rows with a complete key: as a SQL foreign key, a NULL refers to nothing and is not
    judged (Completeness judges it). AWS's open-source evaluator instead subtracts the distinct
    values not found from the row count; a share of rows is what the documentation describes."""
    spec = integrity(*rule.parameters)
    metric = compared_metric(rule.rule_type, rule.parameters)
    assert metric is not None
    if missing := ctx.missing(spec.columns):
        return failed_rule(rule, text, f"Input data does not include column {missing}!", False)

    def judge(values: dict[str, Any]) -> Judgement:
        reference = _reference(values, spec.alias)
        if reference is None:
            return _unbound(spec.alias)
        if absent := _no_columns(spec.alias, reference, spec.reference_columns):
            return absent
        frame: DataFrame = values[FRAME]
        keys = [
            _key(frame, c, reference, r) for c, r in zip(spec.columns, spec.reference_columns, strict=True)
        ]
        names = [f"__dq_ref_key{i}" for i in range(len(keys))]
        primary = frame.select(*[k.alias(n) for (k, _), n in zip(keys, names, strict=True)]).dropna()
        known = reference.select(*[r.alias(n) for (_, r), n in zip(keys, names, strict=True)]).distinct()
        joined = primary.join(F.broadcast(known.withColumn("__dq_found", F.lit(True))), names, "left")
        row = joined.agg(F.count(F.lit(1)).alias("n"), F.count("__dq_found").alias("found")).collect()[0]
        if not row["n"]:
            return Judgement(False, "No rows to evaluate (no complete key)", {})
        return _compared(rule, values, row["found"] / row["n"], metric)

    return Compiled(rule, text, None, judge=judge)


def _row_count_match(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    """The primary's rows over the reference's."""
    alias = rule.parameters[0]
    metric = f"Dataset.{alias}.RowCountMatch"

    def judge(values: dict[str, Any]) -> Judgement:
        reference = _reference(values, alias)
        if reference is None:
            return _unbound(alias)
        theirs = reference.count()
        if not theirs:
            return Judgement(False, f"Reference dataset {alias!r} has no rows", {})
        return _compared(rule, values, values[FRAME].count() / theirs, metric)

    return Compiled(rule, text, None, judge=judge)


def _dataset_match(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    """Share of the primary's rows equal, in the compared columns, to the reference's row with the
    same key. The reference's keys must be unique and complete. Without a third parameter the
    compared columns are those both datasets have, keys aside; NULL equals NULL."""
    alias = rule.parameters[0]
    keys = column_pairs(rule.parameters[1], "DatasetMatch's keys")
    given = (
        column_pairs(rule.parameters[2], "DatasetMatch's compared columns")
        if len(rule.parameters) > 2
        else None
    )
    metric = f"Dataset.{alias}.DatasetMatch"

    def judge(values: dict[str, Any]) -> Judgement:
        reference = _reference(values, alias)
        if reference is None:
            return _unbound(alias)
        frame: DataFrame = values[FRAME]
        key_names = {p for p, _ in keys}
        compared = given or tuple(
            (c, c) for c in ctx.columns if c in reference.columns and c not in key_names
        )
        if missing := ctx.missing(tuple(p for p, _ in (*keys, *compared))):
            return Judgement(False, f"Input data does not include column {missing}!", {})
        if absent := _no_columns(alias, reference, tuple(r for _, r in (*keys, *compared))):
            return absent
        ref_keys = [col_ref(r) for _, r in keys]
        any_null = F.lit(False)
        for k in ref_keys:
            any_null = any_null | k.isNull()
        duplicated = reference.groupBy(*ref_keys).agg(F.count(F.lit(1)).alias("n")).filter("n > 1")
        if duplicated.limit(1).count() or reference.filter(any_null).limit(1).count():
            return Judgement(False, f"Reference dataset {alias!r} has duplicate or NULL keys", {})
        left = frame.select(
            *[_key(frame, p, reference, r)[0].alias(f"__dq_k{i}") for i, (p, r) in enumerate(keys)],
            *[col_ref(p).alias(f"__dq_p{i}") for i, (p, _) in enumerate(compared)],
        )
        right = reference.select(
            *[_key(frame, p, reference, r)[1].alias(f"__dq_k{i}") for i, (p, r) in enumerate(keys)],
            *[col_ref(r).alias(f"__dq_r{i}") for i, (_, r) in enumerate(compared)],
            F.lit(True).alias("__dq_found"),
        )
        equal = F.col("__dq_found").isNotNull()
        for i in range(len(compared)):
            equal = equal & F.col(f"__dq_p{i}").eqNullSafe(F.col(f"__dq_r{i}"))
        joined = left.join(F.broadcast(right), [f"__dq_k{i}" for i in range(len(keys))], "left")
        row = joined.agg(F.count(F.lit(1)).alias("n"), F.count(F.when(equal, 1)).alias("same")).collect()[0]
        if not row["n"]:
            return Judgement(False, "No rows to evaluate", {})
        return _compared(rule, values, row["same"] / row["n"], metric)

    return Compiled(rule, text, None, judge=judge)


def _aggregate_match(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    """The first aggregate over the second (sum or avg, of the primary's or an alias's column);
    both 0 is a match (1.0)."""
    first, second = (aggregate(p) for p in rule.parameters)
    metric = f"Column.{first.column}.AggregateMatch"

    def value(values: dict[str, Any], operand) -> float | Judgement:  # an Aggregate
        data = values[FRAME] if operand.alias is None else _reference(values, operand.alias)
        if data is None:
            return _unbound(operand.alias)
        if operand.column not in data.columns:
            where = "Input data" if operand.alias is None else f"Reference dataset {operand.alias!r}"
            return Judgement(False, f"{where} does not include column {operand.column}!", {})
        function = F.sum if operand.function == "sum" else F.avg
        result = data.agg(function(col_ref(operand.column).try_cast("double"))).collect()[0][0]
        if result is None:
            return Judgement(False, f"No values to evaluate for {operand.function}({operand.column})", {})
        return float(result)

    def judge(values: dict[str, Any]) -> Judgement:
        mine, theirs = value(values, first), value(values, second)
        for v in (mine, theirs):
            if isinstance(v, Judgement):
                return v
        assert isinstance(mine, float) and isinstance(theirs, float)
        if theirs == 0:
            if mine == 0:
                return _compared(rule, values, 1.0, metric)
            return Judgement(False, f"{rule.parameters[1]} is 0: no ratio", {})
        return _compared(rule, values, mine / theirs, metric)

    return Compiled(rule, text, None, judge=judge)


def _schema_match(rule: Rule, text: str, scope: Column | None, ctx: CompileContext) -> Compiled:
    """Columns with the same name and type in both, over the columns either has (order ignored;
    1.0 only when the schemas are the same)."""
    alias = rule.parameters[0]
    metric = f"Dataset.{alias}.SchemaMatch"
    mine = {c: ctx.types[c].simpleString() for c in ctx.columns if c in ctx.types}

    def judge(values: dict[str, Any]) -> Judgement:
        reference = _reference(values, alias)
        if reference is None:
            return _unbound(alias)
        theirs = {f.name: f.dataType.simpleString() for f in reference.schema.fields}
        same = sum(1 for c, t in mine.items() if theirs.get(c) == t)
        names = set(mine) | set(theirs)
        return _compared(rule, values, same / len(names) if names else 1.0, metric)

    return Compiled(rule, text, None, judge=judge)


COMPILERS = {
    "ReferentialIntegrity": _referential_integrity,
    "RowCountMatch": _row_count_match,
    "DatasetMatch": _dataset_match,
    "AggregateMatch": _aggregate_match,
    "SchemaMatch": _schema_match,
}
