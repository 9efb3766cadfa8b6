"""Evaluate a parsed DQDL ruleset on a Spark DataFrame, the way AWS Glue Data Quality reports it.

Every rule compiles to:
- a row predicate (a non-null boolean Column) when the rule is judged per row, and its scope
  (the ``where`` clause; rows outside it are labelled Passed, or Skipped on request);
- aggregate expressions for its dataset-level metrics, and a function that turns their values
  into an outcome (Passed/Failed, FailureReason, EvaluatedMetrics).

The aggregates of *all* rules run as one Spark aggregation (one job). Rules that need per-value
counts (IsUnique, Uniqueness, UniqueValueRatio, IsPrimaryKey, Entropy) add one window count
column first, which is a shuffle inside that same job. CustomSql runs its own query: it is
arbitrary SQL over the data registered as the view ``primary``.

Composite rules: in COLUMN mode (Glue's default) each child is judged over the whole dataset and
the outcomes are combined; in ROW mode the combined predicate is judged per row and the rule
passes when every row does. Row-level columns are Glue's (DataQualityRulesPass / Fail / Skip,
DataQualityEvaluationResult) plus our DataQualityFailureReasons.
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pyspark.errors import PySparkException
from pyspark.sql import Column, DataFrame, Observation, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from moviestream.quality.catalog import DATA_TYPES
from moviestream.quality.dqdl import Composite, Condition, DateValue, Node, Operand, Rule, Ruleset

ROW_PASS = "DataQualityRulesPass"
ROW_FAIL = "DataQualityRulesFail"
ROW_SKIP = "DataQualityRulesSkip"
ROW_RESULT = "DataQualityEvaluationResult"
# Ours: one reason per failed rule that every row must pass (see row_decisive); a row with none
# is good for the pipeline. Ratio rules (Completeness, Uniqueness, thresholds) judge the batch.
ROW_REASONS = "DataQualityFailureReasons"
ROW_COLUMNS = (ROW_PASS, ROW_FAIL, ROW_SKIP, ROW_RESULT, ROW_REASONS)
_INTERNAL = "__dq_"
# Helper name of DISTINCT aggregates: observe() cannot compute them, so they are collected apart.
_DISTINCT = "distinct"

NOT_MET = "does not meet the constraint requirement!"


class RulesetError(ValueError):
    """The ruleset cannot be evaluated as asked (e.g. a ratio rule inside a ROW-mode composite)."""


@dataclass(frozen=True)
class EvaluationOptions:
    """Glue's additional_options that change results, with Glue's defaults."""

    composite_mode: str = "COLUMN"  # compositeRuleEvaluation.method: COLUMN | ROW
    filtered_row_label: str = "PASSED"  # rowLevelConfiguration.filteredRowLabel: PASSED | SKIPPED
    now: datetime | None = None  # now() for dates and DataFreshness (UTC); None = the clock

    @classmethod
    def from_glue(cls, additional_options: dict[str, str] | None) -> EvaluationOptions:
        opts = additional_options or {}
        mode = opts.get("compositeRuleEvaluation.method", "COLUMN").upper()
        label = opts.get("rowLevelConfiguration.filteredRowLabel", "PASSED").upper()
        if mode not in ("COLUMN", "ROW"):
            raise RulesetError(f"compositeRuleEvaluation.method must be ROW or COLUMN, not {mode!r}")
        if label not in ("PASSED", "SKIPPED"):
            raise RulesetError(
                f"rowLevelConfiguration.filteredRowLabel must be PASSED or SKIPPED, not {label!r}"
            )
        return cls(mode, label)

    def clock(self) -> datetime:
        """now() as DQDL defines it: UTC, truncated to the minute."""
        now = self.now or datetime.now(UTC)
        return now.astimezone(UTC).replace(second=0, microsecond=0, tzinfo=None)


@dataclass
class Judgement:
    passed: bool
    reason: str | None
    metrics: dict[str, float | None]


@dataclass
class Compiled:
    node: Node
    text: str
    row_pass: Column | None  # None: not judged per row (listed in DataQualityRulesSkip)
    scope: Column | None = None  # the where clause; None: every row
    aggs: dict[str, Column] = field(default_factory=dict)
    judge: Callable[[dict[str, Any]], Judgement] = lambda _: Judgement(True, None, {})
    row_reason: Column | None = None  # text shown for a failed row


# -- small helpers ----------------------------------------------------------------------------


def _col(name: str) -> Column:
    return F.col("`" + name.replace("`", "``") + "`")


def _num(value: Any) -> float | None:
    if value is None:
        return None
    f = float(value)
    return None if math.isnan(f) else f


def _fmt(value: float | None, integral: bool = False) -> str:
    if value is None:
        return "NULL"
    if integral and float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def metric_satisfies(value: float | None, cond: Condition) -> bool:
    """A dataset-level metric against a numeric condition (DQDL between is exclusive)."""
    if value is None:
        return False
    nums = [float(o.value) for o in cond.operands if isinstance(o.value, Decimal)]
    match cond.operator:
        case "=":
            return value == nums[0]
        case "!=":
            return value != nums[0]
        case ">":
            return value > nums[0]
        case ">=":
            return value >= nums[0]
        case "<":
            return value < nums[0]
        case "<=":
            return value <= nums[0]
        case "between":
            return nums[0] < value < nums[1]
        case "not_between":
            return value <= nums[0] or value >= nums[1]
        case "in":
            return value in nums
        case "not_in":
            return value not in nums
    raise ValueError(f"operator {cond.operator} does not apply to a metric")


def _is_numeric(dtype: T.DataType) -> bool:
    return isinstance(dtype, T.NumericType)


def _is_temporal(dtype: T.DataType) -> bool:
    return isinstance(dtype, T.DateType | T.TimestampType | T.TimestampNTZType)


class _Context:
    """What compilation needs to know about the data: its schema, the options, the session."""

    def __init__(self, df: DataFrame, options: EvaluationOptions, columns: Sequence[str] | None) -> None:
        self.df = df
        self.options = options
        if columns is None:
            columns = [c for c in df.columns if not c.startswith(_INTERNAL) and c not in ROW_COLUMNS]
        self.columns = list(columns)  # the dataset as the rules see it (ColumnCount, CustomSql's primary)
        all_types = {f.name: f.dataType for f in df.schema.fields}
        self.types = {c: all_types[c] for c in self.columns if c in all_types}
        self.now = options.clock()
        self.windows: dict[str, Column] = {}  # window count columns to add, by name
        self.joins: list[tuple[str, DataFrame, list[str]]] = []  # CustomSql row checks
        self.counter = 0

    def name(self, what: str) -> str:
        self.counter += 1
        return f"{_INTERNAL}{what}{self.counter}"

    def missing(self, names: tuple[str, ...]) -> str | None:
        return next((n for n in names if n not in self.types), None)

    def where(self, rule: Rule) -> tuple[Column | None, str | None]:
        """(scope, error) for the rule's where clause; an invalid clause fails the rule, as in Glue."""
        if rule.where is None:
            return None, None
        try:
            expr = F.expr(rule.where)
            self.df.select(expr).schema  # noqa: B018 - analysis: unknown columns fail here
        except (PySparkException, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            return None, f"Rule {rule.render()} has provided an invalid where clause : {first}"
        return F.coalesce(expr.cast("boolean"), F.lit(False)), None

    def key_count(self, keys: tuple[str, ...], scope: Column | None) -> Column:
        """Rows in scope sharing this row's key values (a window count; shared between rules)."""
        name = f"{_INTERNAL}count_{abs(hash((keys, str(scope))))}"
        if name not in self.windows:
            counted = F.lit(1) if scope is None else F.when(scope, 1)
            self.windows[name] = F.count(counted).over(Window.partitionBy(*[_col(k) for k in keys]))
        return F.col(name)


def _in_scope(scope: Column | None) -> Column:
    return F.lit(True) if scope is None else scope


def _count_if(pred: Column) -> Column:
    return F.count(F.when(pred, 1))


# -- row predicates for conditions ------------------------------------------------------------


def _keyword_test(col: Column, keyword: str) -> Column:
    if keyword == "NULL":
        return col.isNull()
    text = col.cast("string")
    if keyword == "EMPTY":
        return text == ""
    return (F.length(text) > 0) & (F.length(F.trim(text)) == 0)  # WHITESPACES_ONLY


def _operand_value(op: Operand, dtype: T.DataType, now: datetime) -> Column:
    if op.kind == "date":
        value = op.value
        assert isinstance(value, DateValue)
        moment = now + timedelta(minutes=value.offset_minutes)
        return (
            F.lit(moment).cast("timestamp_ntz") if not isinstance(dtype, T.TimestampType) else F.lit(moment)
        )
    if op.kind == "string" and _is_temporal(dtype):
        return F.lit(op.value).try_cast(dtype)
    return F.lit(op.value)


def _comparable(col: Column, dtype: T.DataType, cond: Condition) -> Column:
    """The column as the condition compares it: numbers against numbers, never an ANSI cast error."""
    kinds = {o.kind for o in cond.operands}
    if "number" in kinds and not _is_numeric(dtype):
        return col.try_cast("double")
    if "date" in kinds and not _is_temporal(dtype):
        return col.try_cast("timestamp")
    if "string" in kinds and not isinstance(dtype, T.StringType) and not _is_temporal(dtype):
        return col.cast("string")
    return col


def condition_predicate(col: Column, dtype: T.DataType, cond: Condition, now: datetime) -> Column:
    """TRUE when the value satisfies the condition. NULL fails every operator except ``!=`` and
    ``not in`` (which pass), as AWS documents for ColumnValues; keywords change that."""
    ops, op = cond.operands, cond.operator
    if op in ("matches", "not_matches"):
        pattern = f"^(?:{ops[0].value})$"
        test = col.cast("string").rlike(pattern)
        return F.coalesce(test if op == "matches" else ~test, F.lit(False))
    if op in ("in", "not_in"):
        plain = [o for o in ops if o.kind != "keyword"]
        member = F.lit(False)
        if plain:
            if any(o.kind == "string" for o in plain):
                member = col.cast("string").isin([str(o.value) for o in plain])
            elif _is_numeric(dtype):
                member = col.isin([o.value for o in plain])
            else:
                member = col.try_cast("double").isin([float(o.value) for o in plain])
            member = F.coalesce(member, F.lit(False))
        for kw in (o for o in ops if o.kind == "keyword"):
            member = member | F.coalesce(_keyword_test(col, str(kw.value)), F.lit(False))
        return member if op == "in" else ~member
    value = _comparable(col, dtype, cond)
    if op in ("between", "not_between"):
        low, high = (_operand_value(o, dtype, now) for o in ops)
        test = (value > low) & (value < high) if op == "between" else (value <= low) | (value >= high)
        return F.coalesce(test, F.lit(False))
    operand = ops[0]
    if operand.kind == "keyword":
        test = _keyword_test(col, str(operand.value))
        return F.coalesce(test if op == "=" else ~test, F.lit(op == "!="))
    rhs = _operand_value(operand, dtype, now)
    compare = {
        "=": value == rhs,
        "!=": value != rhs,
        ">": value > rhs,
        ">=": value >= rhs,
        "<": value < rhs,
        "<=": value <= rhs,
    }[op]
    return F.coalesce(compare, F.lit(op == "!="))


def _number_predicate(value: Column, cond: Condition) -> Column:
    """A numeric per-row value (a length, an age) against a numeric condition; NULL fails."""
    nums = [F.lit(float(o.value)) for o in cond.operands if isinstance(o.value, Decimal)]
    op = cond.operator
    test = {
        "=": lambda: value == nums[0],
        "!=": lambda: value != nums[0],
        ">": lambda: value > nums[0],
        ">=": lambda: value >= nums[0],
        "<": lambda: value < nums[0],
        "<=": lambda: value <= nums[0],
        "between": lambda: (value > nums[0]) & (value < nums[1]),
        "not_between": lambda: (value <= nums[0]) | (value >= nums[1]),
        "in": lambda: value.isin(nums),
        "not_in": lambda: ~value.isin(nums),
    }[op]()
    return F.coalesce(test, F.lit(False))


# -- rule compilers -----------------------------------------------------------------------------


def _failed(node: Node, text: str, reason: str, row_level: bool) -> Compiled:
    """A rule that cannot be evaluated fails; per row it fails too (nothing is certified by it)."""
    return Compiled(
        node,
        text,
        F.lit(False) if row_level else None,
        judge=lambda _: Judgement(False, reason, {}),
        row_reason=F.lit(f"{text}: {reason}"),
    )


def _value_reason(text: str, col: Column) -> Column:
    shown = F.coalesce(col.cast("string"), F.lit("NULL"))
    return F.concat(F.lit(f"{text}: Value: "), shown, F.lit(f" {NOT_MET}"))


def _ratio_judge(
    metric: str, agg_ok: str, agg_n: str, test: Callable[[float], bool]
) -> Callable[[dict[str, Any]], Judgement]:
    def judge(values: dict[str, Any]) -> Judgement:
        n = values[agg_n] or 0
        if n == 0:
            return Judgement(False, "No rows to evaluate (none in scope)", {})
        ratio = (values[agg_ok] or 0) / n
        ok = test(ratio)
        return Judgement(ok, None if ok else f"Value: {_fmt(ratio)} {NOT_MET}", {metric: ratio})

    return judge


def compile_rule(rule: Rule, ctx: _Context) -> Compiled:
    text = rule.render()
    spec = rule.spec
    column_params = rule.parameters if rule.rule_type not in ("CustomSql", "ColumnNamesMatchPattern") else ()
    if rule.rule_type != "ColumnExists" and (missing := ctx.missing(column_params)):
        return _failed(rule, text, f"Input data does not include column {missing}!", spec.row_level)
    scope, where_error = ctx.where(rule)
    if where_error:
        return _failed(rule, text, where_error, spec.row_level)
    compiler = _COMPILERS[rule.rule_type]
    compiled = compiler(rule, text, scope, ctx)
    compiled.scope = scope
    return compiled


def _complete(rule: Rule, text: str, scope: Column | None, ctx: _Context) -> Compiled:
    c = rule.parameters[0]
    ok, n = ctx.name("complete"), ctx.name("n")
    in_scope = _in_scope(scope)
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
        _col(c).isNotNull(),
        aggs={ok: _count_if(in_scope & _col(c).isNotNull()), n: _count_if(in_scope)},
        judge=_ratio_judge(metric, ok, n, test),
        row_reason=_value_reason(text, _col(c)),
    )


def _column_values(rule: Rule, text: str, scope: Column | None, ctx: _Context) -> Compiled:
    c = rule.parameters[0]
    cond = rule.condition
    assert cond is not None
    dtype = ctx.types[c]
    pred = condition_predicate(_col(c), dtype, cond, ctx.now)
    in_scope = _in_scope(scope)
    ok, n, nulls, lo, hi = (ctx.name(x) for x in ("ok", "n", "nulls", "min", "max"))
    aggs = {
        ok: _count_if(in_scope & pred),
        n: _count_if(in_scope),
        nulls: _count_if(in_scope & ~pred & _col(c).isNull()),
    }
    numeric = _is_numeric(dtype)
    if numeric:
        aggs[lo] = F.min(F.when(in_scope, _col(c))).cast("double")
        aggs[hi] = F.max(F.when(in_scope, _col(c))).cast("double")
    threshold = rule.threshold
    compliance_metric = f"Column.{c}.ColumnValues.Compliance"

    def judge(values: dict[str, Any]) -> Judgement:
        total, passing = values[n] or 0, values[ok] or 0
        compliance = passing / total if total else None
        if threshold is not None:
            if compliance is None:
                return Judgement(False, "No rows to evaluate (none in scope)", {})
            good = metric_satisfies(compliance, threshold)
            reason = None if good else f"Value: {_fmt(compliance)} {NOT_MET}"
            return Judgement(good, reason, {compliance_metric: compliance})
        metrics: dict[str, float | None]
        shown: float | None = compliance
        if numeric and cond.operator in (">", ">="):
            metrics = {f"Column.{c}.Minimum": _num(values[lo])}
            shown = _num(values[lo])
        elif numeric and cond.operator in ("<", "<="):
            metrics = {f"Column.{c}.Maximum": _num(values[hi])}
            shown = _num(values[hi])
        else:
            metrics = {compliance_metric: compliance if compliance is not None else 1.0}
        good = passing == total
        if good:
            return Judgement(True, None, metrics)
        if values[nulls]:
            return Judgement(False, f"Value: NULL {NOT_MET}", metrics)
        return Judgement(False, f"Value: {_fmt(shown)} {NOT_MET}", metrics)

    return Compiled(rule, text, pred, aggs=aggs, judge=judge, row_reason=_value_reason(text, _col(c)))


def _column_length(rule: Rule, text: str, scope: Column | None, ctx: _Context) -> Compiled:
    c = rule.parameters[0]
    cond = rule.condition
    assert cond is not None
    length = F.coalesce(F.length(_col(c).cast("string")), F.lit(0))  # NULL has length 0 (AWS)
    pred = _number_predicate(length, cond)
    in_scope = _in_scope(scope)
    bad, lo, hi = ctx.name("bad"), ctx.name("minlen"), ctx.name("maxlen")
    aggs = {
        bad: _count_if(in_scope & ~pred),
        lo: F.min(F.when(in_scope, length)),
        hi: F.max(F.when(in_scope, length)),
    }

    def judge(values: dict[str, Any]) -> Judgement:
        metrics = {
            f"Column.{c}.MinimumLength": _num(values[lo]),
            f"Column.{c}.MaximumLength": _num(values[hi]),
        }
        if not values[bad]:
            return Judgement(True, None, metrics)
        low_ok = metric_satisfies(_num(values[lo]), cond)
        shown = values[hi] if low_ok else values[lo]
        return Judgement(False, f"Value: {_fmt(_num(shown), integral=True)} {NOT_MET}", metrics)

    return Compiled(rule, text, pred, aggs=aggs, judge=judge, row_reason=_value_reason(text, length))


def _uniqueness_metric_name(keys: tuple[str, ...], name: str) -> str:
    return f"Column.{keys[0]}.{name}" if len(keys) == 1 else f"Multicolumn.{','.join(keys)}.{name}"


def _unique(rule: Rule, text: str, scope: Column | None, ctx: _Context) -> Compiled:
    """IsUnique, Uniqueness, IsPrimaryKey: share of keyed rows whose key occurs once."""
    keys = rule.parameters
    count = ctx.key_count(keys, scope)
    in_scope = _in_scope(scope)
    has_key = F.lit(False)
    for k in keys:
        has_key = has_key | _col(k).isNotNull()
    all_keys = F.lit(True)
    for k in keys:
        all_keys = all_keys & _col(k).isNotNull()
    once, keyed, n = ctx.name("once"), ctx.name("keyed"), ctx.name("n")
    aggs = {once: _count_if(in_scope & has_key & (count == 1)), keyed: _count_if(in_scope & has_key)}
    completes = {k: ctx.name("complete") for k in keys}
    primary = rule.rule_type == "IsPrimaryKey"
    if primary:
        aggs[n] = _count_if(in_scope)
        for k, alias in completes.items():
            aggs[alias] = _count_if(in_scope & _col(k).isNotNull())
    metric = _uniqueness_metric_name(keys, "Uniqueness")
    cond = rule.condition

    def judge(values: dict[str, Any]) -> Judgement:
        if not values[keyed]:
            return Judgement(False, "No rows to evaluate (no key values in scope)", {})
        ratio = values[once] / values[keyed]
        metrics: dict[str, float | None] = {metric: ratio}
        if rule.rule_type == "Uniqueness":
            assert cond is not None
            good = metric_satisfies(ratio, cond)
        else:
            good = ratio == 1.0
        reason = None if good else f"Value: {_fmt(ratio)} {NOT_MET}"
        if primary:
            for k, alias in completes.items():
                completeness = values[alias] / values[n]
                metrics[f"Column.{k}.Completeness"] = completeness
                if completeness != 1.0 and good:
                    good, reason = False, f"Value: {_fmt(completeness)} {NOT_MET} (column {k} has NULLs)"
        return Judgement(good, reason, metrics)

    # A row with no key value at all is not a duplicate of anything (AWS/Deequ leave it out).
    row_pass = all_keys & (count == 1) if primary else (~has_key) | (count == 1)
    shown = F.concat_ws(",", *[F.coalesce(_col(k).cast("string"), F.lit("NULL")) for k in keys])
    return Compiled(rule, text, row_pass, aggs=aggs, judge=judge, row_reason=_value_reason(text, shown))


def _unique_value_ratio(rule: Rule, text: str, scope: Column | None, ctx: _Context) -> Compiled:
    c = rule.parameters[0]
    cond = rule.condition
    assert cond is not None
    count = ctx.key_count((c,), scope)
    in_scope = _in_scope(scope)
    once, distinct = ctx.name("once"), ctx.name(_DISTINCT)
    aggs = {
        once: _count_if(in_scope & _col(c).isNotNull() & (count == 1)),
        distinct: F.count_distinct(F.when(in_scope, _col(c))),
    }
    metric = f"Column.{c}.UniqueValueRatio"

    def judge(values: dict[str, Any]) -> Judgement:
        if not values[distinct]:
            return Judgement(False, "No values to evaluate (none in scope)", {})
        ratio = values[once] / values[distinct]
        good = metric_satisfies(ratio, cond)
        return Judgement(good, None if good else f"Value: {_fmt(ratio)} {NOT_MET}", {metric: ratio})

    return Compiled(rule, text, None, aggs=aggs, judge=judge)


def _metric_rule(
    metric: str, agg: Callable[[Column], Column], integral: bool = False
) -> Callable[[Rule, str, Column | None, _Context], Compiled]:
    """Rules that compare one aggregate with their condition (Mean, Sum, RowCount, ...)."""

    def compile_(rule: Rule, text: str, scope: Column | None, ctx: _Context) -> Compiled:
        cond = rule.condition
        assert cond is not None
        alias = ctx.name("metric")
        name = metric.format(*rule.parameters)
        value = agg(_in_scope(scope)) if not rule.parameters else _scoped_agg(agg, rule, scope, ctx)

        def judge(values: dict[str, Any]) -> Judgement:
            v = _num(values[alias])
            if v is None:
                return Judgement(False, "No values to evaluate (all NULL or none in scope)", {})
            good = metric_satisfies(v, cond)
            return Judgement(good, None if good else f"Value: {_fmt(v, integral)} {NOT_MET}", {name: v})

        return Compiled(rule, text, None, aggs={alias: value}, judge=judge)

    return compile_


def _scoped_agg(agg: Callable[..., Column], rule: Rule, scope: Column | None, ctx: _Context) -> Column:
    cols = [_col(p) for p in rule.parameters]
    numeric = [
        c if _is_numeric(ctx.types[p]) else c.try_cast("double")
        for c, p in zip(cols, rule.parameters, strict=True)
    ]
    scoped = [F.when(_in_scope(scope), c) for c in numeric]
    return agg(*scoped)


def _distinct_values(rule: Rule, text: str, scope: Column | None, ctx: _Context) -> Compiled:
    c = rule.parameters[0]
    cond = rule.condition
    assert cond is not None
    in_scope = _in_scope(scope)
    distinct, nulls = ctx.name(_DISTINCT), ctx.name("nulls")
    aggs = {
        distinct: F.count_distinct(F.when(in_scope, _col(c))),
        nulls: _count_if(in_scope & _col(c).isNull()),
    }
    metric = f"Column.{c}.DistinctValuesCount"

    def judge(values: dict[str, Any]) -> Judgement:
        v = float(values[distinct] + (1 if values[nulls] else 0))  # NULL is a value of its own
        good = metric_satisfies(v, cond)
        return Judgement(good, None if good else f"Value: {_fmt(v, True)} {NOT_MET}", {metric: v})

    return Compiled(rule, text, None, aggs=aggs, judge=judge)


def _entropy(rule: Rule, text: str, scope: Column | None, ctx: _Context) -> Compiled:
    c = rule.parameters[0]
    cond = rule.condition
    assert cond is not None
    count = ctx.key_count((c,), scope)
    valued = _in_scope(scope) & _col(c).isNotNull()
    n, log_sum = ctx.name("n"), ctx.name("logsum")
    # H = ln N - (1/N) * sum over values of cnt*ln(cnt); the inner sum is sum over rows of ln(cnt).
    aggs = {n: _count_if(valued), log_sum: F.sum(F.when(valued, F.log(count.cast("double"))))}
    metric = f"Column.{c}.Entropy"

    def judge(values: dict[str, Any]) -> Judgement:
        total = values[n] or 0
        if not total:
            return Judgement(False, "No values to evaluate (all NULL or none in scope)", {})
        h = math.log(total) - (values[log_sum] or 0.0) / total
        h = 0.0 if abs(h) < 1e-15 else h
        good = metric_satisfies(h, cond)
        return Judgement(good, None if good else f"Value: {_fmt(h)} {NOT_MET}", {metric: h})

    return Compiled(rule, text, None, aggs=aggs, judge=judge)


def _column_exists(rule: Rule, text: str, scope: Column | None, ctx: _Context) -> Compiled:
    c = rule.parameters[0]
    present = c in ctx.types
    reason = None if present else f"Input data does not include column {c}!"
    return Compiled(rule, text, None, judge=lambda _: Judgement(present, reason, {}))


def _column_count(rule: Rule, text: str, scope: Column | None, ctx: _Context) -> Compiled:
    cond = rule.condition
    assert cond is not None
    count = float(len(ctx.columns))
    good = metric_satisfies(count, cond)
    reason = None if good else f"Value: {_fmt(count, True)} {NOT_MET}"
    return Compiled(
        rule, text, None, judge=lambda _: Judgement(good, reason, {"Dataset.*.ColumnCount": count})
    )


def _column_names_match(rule: Rule, text: str, scope: Column | None, ctx: _Context) -> Compiled:
    pattern = re.compile(rule.parameters[0])
    names = ctx.columns
    matching = [n for n in names if pattern.fullmatch(n)]
    ratio = len(matching) / len(names) if names else 1.0
    good = ratio == 1.0
    odd = [n for n in names if n not in matching]
    reason = None if good else f"Value: {_fmt(ratio)} {NOT_MET} (not matching: {', '.join(odd)})"
    metrics = {"Dataset.*.ColumnNamesPatternMatchRatio": ratio}
    return Compiled(rule, text, None, judge=lambda _: Judgement(good, reason, metrics))


def _column_data_type(rule: Rule, text: str, scope: Column | None, ctx: _Context) -> Compiled:
    c = rule.parameters[0]
    cond = rule.condition
    assert cond is not None
    names = [str(o.value).upper() for o in cond.operands]
    source = ctx.types[c]

    def castable(type_name: str) -> Column:
        target = DATA_TYPES[type_name]
        if type_name == "STRING" or source.simpleString() == target:
            return _col(c).isNotNull()
        return _col(c).try_cast(target).isNotNull()

    any_type = F.lit(False)
    for name in names:
        any_type = any_type | castable(name)
    pred = any_type if cond.operator in ("=", "in") else _col(c).isNotNull() & ~any_type
    in_scope = _in_scope(scope)
    ok, n = ctx.name("ok"), ctx.name("n")
    threshold = rule.threshold
    metric = f"Column.{c}.ColumnDataType.Compliance"

    def test(ratio: float) -> bool:
        return metric_satisfies(ratio, threshold) if threshold is not None else ratio == 1.0

    return Compiled(
        rule,
        text,
        None,  # AWS: not judged per row
        aggs={ok: _count_if(in_scope & pred), n: _count_if(in_scope)},
        judge=_ratio_judge(metric, ok, n, test),
    )


def _data_freshness(rule: Rule, text: str, scope: Column | None, ctx: _Context) -> Compiled:
    c = rule.parameters[0]
    cond = rule.condition
    assert cond is not None
    moment = _col(c) if _is_temporal(ctx.types[c]) else _col(c).try_cast("timestamp")
    now = F.lit(ctx.now).cast("timestamp")
    age_hours = (F.unix_timestamp(now) - F.unix_timestamp(moment.cast("timestamp"))) / 3600.0
    pred = _col(c).isNotNull() & _number_predicate(age_hours, cond)
    in_scope = _in_scope(scope)
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
        aggs={ok: _count_if(in_scope & pred), n: _count_if(in_scope)},
        judge=judge,
        row_reason=_value_reason(text, _col(c)),
    )


def _custom_sql(rule: Rule, text: str, scope: Column | None, ctx: _Context) -> Compiled:
    """Scalar form (with a condition): the query's single number. Row form: the rows it returns
    pass, the others fail; the share that passes is compared with the threshold (else must be 1)."""
    sql = rule.parameters[0]
    spark = ctx.df.sparkSession
    view = f"{_INTERNAL}primary_{uuid.uuid4().hex[:8]}"
    ctx.df.select(*[_col(c) for c in ctx.columns]).createOrReplaceTempView(view)
    # AWS names the data `primary`; the view gets a unique name so concurrent evaluations don't clash.
    query = re.sub(r"\bprimary\b", view, sql)
    cond = rule.condition
    try:
        result = spark.sql(query)
        columns = result.columns
    except (PySparkException, ValueError) as exc:
        first = str(exc).strip().splitlines()[0]
        return _failed(rule, text, f"CustomSql query failed: {first}", cond is None)
    if cond is not None:
        try:
            row = result.limit(2).collect()
        except PySparkException as exc:
            return _failed(rule, text, f"CustomSql query failed: {str(exc).splitlines()[0]}", False)
        if len(row) != 1 or len(row[0]) != 1:
            return _failed(rule, text, "CustomSql must return a single number for a condition", False)
        value = _num(row[0][0]) if isinstance(row[0][0], int | float | Decimal) else None
        good = metric_satisfies(value, cond)
        reason = None if good else f"Value: {_fmt(value, True)} {NOT_MET}"
        metrics = {"Dataset.*.CustomSQL": value} if value is not None else {}
        return Compiled(rule, text, None, judge=lambda _: Judgement(good, reason, metrics))
    unknown = [c for c in columns if c not in ctx.types]
    if unknown:
        return _failed(
            rule, text, f"CustomSql must select columns of primary (unknown: {', '.join(unknown)})", True
        )
    marker = ctx.name("sqlrow")
    ctx.joins.append((marker, result.distinct().withColumn(marker, F.lit(True)), columns))
    pred = F.coalesce(F.col(marker), F.lit(False))
    ok, n = ctx.name("ok"), ctx.name("n")
    threshold = rule.threshold
    metric = "Dataset.*.CustomSQL.Compliance"

    def test(ratio: float) -> bool:
        return metric_satisfies(ratio, threshold) if threshold is not None else ratio == 1.0

    return Compiled(
        rule,
        text,
        pred,
        aggs={ok: _count_if(pred), n: F.count(F.lit(1))},
        judge=_ratio_judge(metric, ok, n, test),
        row_reason=F.lit(f"{text}: the row is not returned by the query"),
    )


_COMPILERS: dict[str, Callable[[Rule, str, Column | None, _Context], Compiled]] = {
    "IsComplete": _complete,
    "Completeness": _complete,
    "ColumnValues": _column_values,
    "ColumnLength": _column_length,
    "IsUnique": _unique,
    "Uniqueness": _unique,
    "IsPrimaryKey": _unique,
    "UniqueValueRatio": _unique_value_ratio,
    "ColumnExists": _column_exists,
    "ColumnCount": _column_count,
    "ColumnDataType": _column_data_type,
    "ColumnNamesMatchPattern": _column_names_match,
    "RowCount": _metric_rule("Dataset.*.RowCount", lambda scope: _count_if(scope), integral=True),
    "Mean": _metric_rule("Column.{0}.Mean", F.avg),
    "Sum": _metric_rule("Column.{0}.Sum", F.sum),
    "StandardDeviation": _metric_rule("Column.{0}.StandardDeviation", F.stddev_pop),
    "Variance": _metric_rule("Column.{0}.Variance", F.var_pop),
    "DistinctValuesCount": _distinct_values,
    "Entropy": _entropy,
    "ColumnCorrelation": _metric_rule("Multicolumn.{0},{1}.ColumnCorrelation", F.corr),
    "CustomSql": _custom_sql,
    "DataFreshness": _data_freshness,
}


# -- composites ---------------------------------------------------------------------------------


def _effective(c: Compiled) -> Column | None:
    """A rule's per-row result with its where clause applied (out-of-scope rows pass)."""
    if c.row_pass is None:
        return None
    return c.row_pass if c.scope is None else (~c.scope) | c.row_pass


def compile_node(node: Node, ctx: _Context) -> Compiled:
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
        aggs = {bad: _count_if(~row_pass), n: F.count(F.lit(1))}

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


# -- public API -----------------------------------------------------------------------------------


@dataclass
class Evaluation:
    """What compiling a ruleset against a DataFrame gives: the prepared frame and the rules."""

    frame: DataFrame  # the input plus window / join helper columns
    compiled: list[Compiled]
    ruleset: Ruleset
    options: EvaluationOptions
    windows: dict[str, Column] = field(default_factory=dict)  # the window helper columns added


def prepare(
    df: DataFrame,
    ruleset: Ruleset,
    options: EvaluationOptions | None = None,
    columns: Sequence[str] | None = None,
) -> Evaluation:
    """Compile the ruleset against ``df``. ``columns`` are the dataset's columns as the rules see
    them (default: all of ``df``'s); other columns ride along untouched."""
    options = options or EvaluationOptions()
    ctx = _Context(df, options, columns)
    compiled = [compile_node(node, ctx) for node in ruleset.rules]
    frame = df
    for marker, result, columns in ctx.joins:  # CustomSql row form: mark the rows the query returns
        keys = [f"{marker}_{i}" for i in range(len(columns))]
        returned = result.select(*[_col(c).alias(k) for c, k in zip(columns, keys, strict=True)], marker)
        on = [frame[c].eqNullSafe(returned[k]) for c, k in zip(columns, keys, strict=True)]
        frame = frame.join(returned, on=on, how="left").drop(*keys)
    if ctx.windows:
        frame = frame.withColumns(ctx.windows)
    return Evaluation(frame, compiled, ruleset, options, dict(ctx.windows))


def row_level_columns(evaluation: Evaluation) -> tuple[dict[str, Column], dict[str, Column]]:
    """Glue's row-level columns, plus one human reason per failed rule.

    Returns (helpers, columns): ``helpers`` are per-rule verdict columns to add first (each rule's
    predicate is computed once per row, not once per output column; Spark keeps the two
    projections apart because inlining would repeat the predicates), ``columns`` the outputs.
    Built for speed, since every row pays for them: each array is ``array_remove`` of an array
    whose unused slots hold the empty string (no rule text is empty), which Spark compiles to
    generated code, unlike ``array_compact``'s lambda; and a row that fails no rule (most rows)
    takes constant arrays instead of assembling them.
    """
    skip_filtered = evaluation.options.filtered_row_label == "SKIPPED"
    helpers: dict[str, Column] = {}
    passed, failed, skipped, reasons = [], [], [], []
    all_passed_labels: list[str] = []  # the Pass array of a row that fails nothing
    shortcut = True
    any_failed = F.lit(False)
    for i, c in enumerate(evaluation.compiled):
        label = F.lit(c.text)
        if c.row_pass is None:
            skipped.append(label)
            continue
        # 0 passed, 1 failed, 2 out of the rule's scope (its where clause)
        verdict = f"{_INTERNAL}verdict{i}"
        helpers[verdict] = F.when(~_in_scope(c.scope), 2).when(c.row_pass, 0).otherwise(1)
        v = F.col(verdict)
        fails = v == 1
        any_failed = any_failed | fails
        passed.append(_slot((v == 0) if skip_filtered else (v != 1), label))
        all_passed_labels.append(c.text)
        failed.append(_slot(fails, label))
        if skip_filtered and c.scope is not None:
            skipped.append(_slot(v == 2, label))
            shortcut = False  # a row that fails nothing may still have rules out of scope
        if row_decisive(c.node):
            reasons.append(_slot(fails, c.row_reason if c.row_reason is not None else label))
    any_name = f"{_INTERNAL}any_failed"
    helpers[any_name] = any_failed
    any_failed = F.col(any_name)
    empty = F.array().cast("array<string>")

    def array(items: list[Column]) -> Column:
        return F.array_remove(F.array(*items), "") if items else empty

    pass_col = array(passed)
    if shortcut and passed:
        constant = F.array(*[F.lit(t) for t in all_passed_labels])
        pass_col = F.when(any_failed, pass_col).otherwise(constant)
    return helpers, {
        ROW_PASS: pass_col,
        ROW_FAIL: F.when(any_failed, array(failed)).otherwise(empty),
        ROW_SKIP: array(skipped),
        ROW_RESULT: F.when(any_failed, F.lit("Failed")).otherwise(F.lit("Passed")),
        ROW_REASONS: F.when(any_failed, array(reasons)).otherwise(empty),
    }


def _slot(condition: Column, value: Column) -> Column:
    """``value`` where ``condition`` holds, else the empty string that ``array_remove`` drops."""
    return F.when(condition, value).otherwise(F.lit(""))


def add_row_level_results(
    df: DataFrame,
    ruleset: Ruleset,
    options: EvaluationOptions | None = None,
    columns: Sequence[str] | None = None,
) -> DataFrame:
    """The input rows with Glue's row-level columns and DataQualityFailureReasons appended."""
    evaluation = prepare(df, ruleset, options, columns)
    return _with_row_level(evaluation, df.columns)


def _with_row_level(
    evaluation: Evaluation,
    keep: Sequence[str],
    between: Callable[[DataFrame], DataFrame] = lambda frame: frame,
) -> DataFrame:
    """The prepared frame with the row-level columns; helper columns dropped. ``between`` is
    applied after the per-rule verdicts and before the outputs (where observe() goes: it also
    ends Spark's generated-code stage there, so neither half grows past the size the JVM
    compiles to native code)."""
    verdicts, outputs = row_level_columns(evaluation)
    frame = between(evaluation.frame.withColumns(verdicts))
    helpers = [c for c in frame.columns if c not in keep]
    return frame.withColumns(outputs).drop(*helpers)


def _collected_alone(alias: str) -> bool:
    """Aggregates Spark cannot observe (DISTINCT ones) run as their own aggregation."""
    return alias.startswith(f"{_INTERNAL}{_DISTINCT}")


@dataclass
class OnePassEvaluation:
    """Row-level results whose rule metrics Spark gathers while it computes the rows.

    ``frame`` carries the row-level columns; the first action that reads all of it (a write, a
    count, materialising a persist) also computes every rule's metrics, through
    ``DataFrame.observe``, so rows and outcomes cost one pass over the data instead of two.
    ``outcomes()`` waits for that action. Only DISTINCT counts (DistinctValuesCount,
    UniqueValueRatio), which Spark cannot observe, take a second aggregation.
    """

    frame: DataFrame
    evaluation: Evaluation
    observation: Observation | None
    separate: dict[str, Column]

    def outcomes(self) -> list[dict[str, Any]]:
        values = dict(self.observation.get) if self.observation is not None else {}
        if self.separate:
            query = self.evaluation.frame.agg(*[a.alias(k) for k, a in self.separate.items()])
            values.update(query.collect()[0].asDict())
        return _outcomes(self.evaluation, values)


def evaluate_in_one_pass(
    df: DataFrame,
    ruleset: Ruleset,
    options: EvaluationOptions | None = None,
    columns: Sequence[str] | None = None,
) -> OnePassEvaluation:
    """Row-level results and the rule outcomes from one pass over ``df`` (see OnePassEvaluation)."""
    evaluation = prepare(df, ruleset, options, columns)
    aggs = _all_aggs(evaluation)
    observed = {k: a for k, a in aggs.items() if not _collected_alone(k)}
    separate = {k: a for k, a in aggs.items() if _collected_alone(k)}
    if not observed:
        return OnePassEvaluation(_with_row_level(evaluation, df.columns), evaluation, None, separate)
    observation = Observation(f"{_INTERNAL}metrics_{uuid.uuid4().hex}")
    metrics = [a.alias(k) for k, a in observed.items()]
    frame = _with_row_level(evaluation, df.columns, lambda f: f.observe(observation, *metrics))
    return OnePassEvaluation(frame, evaluation, observation, separate)


def _all_aggs(evaluation: Evaluation) -> dict[str, Column]:
    aggs: dict[str, Column] = {}
    for c in evaluation.compiled:
        aggs.update(c.aggs)
    return aggs


def outcomes_from(evaluation: Evaluation) -> list[dict[str, Any]]:
    """Rule outcomes from ONE aggregation over the prepared frame (CustomSql queries aside)."""
    aggs = _all_aggs(evaluation)
    values = (
        evaluation.frame.agg(*[a.alias(k) for k, a in aggs.items()]).collect()[0].asDict() if aggs else {}
    )
    return _outcomes(evaluation, values)


def _outcomes(evaluation: Evaluation, values: dict[str, Any]) -> list[dict[str, Any]]:
    outcomes = []
    for c in evaluation.compiled:
        result = c.judge(values)
        outcomes.append(
            {
                "Rule": c.text,
                "Outcome": "Passed" if result.passed else "Failed",
                "FailureReason": result.reason,
                "EvaluatedMetrics": {k: v for k, v in result.metrics.items() if v is not None},
                "EvaluatedRule": c.text,
                "Labels": evaluation.ruleset.labels_of(c.node),
            }
        )
    return outcomes


def rule_outcomes(
    df: DataFrame,
    ruleset: Ruleset,
    options: EvaluationOptions | None = None,
    columns: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """Dataset-level outcome of every rule, Glue's shape (Rule, Outcome, FailureReason, ...)."""
    return outcomes_from(prepare(df, ruleset, options, columns))


# -- compiled once, applied to many frames ----------------------------------------------------


def reads_data_or_clock(ruleset: Ruleset) -> bool:
    """Whether compiling the ruleset reads the data (CustomSql runs its query then) or the clock
    (DataFreshness, ``now()``): such a ruleset is compiled for each frame it judges."""

    def uses_now(cond: Condition | None) -> bool:
        return cond is not None and any(
            isinstance(o.value, DateValue) and o.value.base == "now" for o in cond.operands
        )

    leaves = [
        leaf for node in ruleset.rules for leaf in (node.leaves() if isinstance(node, Composite) else [node])
    ]
    return any(
        r.rule_type in ("CustomSql", "DataFreshness") or uses_now(r.condition) or uses_now(r.threshold)
        for r in leaves
    )


class CompiledRuleset:
    """A ruleset compiled once for one schema, then applied to many frames of it.

    Building a ruleset's Columns costs a few thousand calls into the JVM (a few hundred ms);
    a streaming job judges every micro-batch with the same rules and schema, so it pays that
    once here instead of per batch. Rulesets for which ``reads_data_or_clock`` holds are
    compiled again for every frame, exactly as ``prepare`` would.
    """

    def __init__(
        self,
        template: DataFrame,
        ruleset: Ruleset,
        options: EvaluationOptions | None = None,
        columns: Sequence[str] | None = None,
    ) -> None:
        self.ruleset = ruleset
        self.options = options or EvaluationOptions()
        self.columns = columns
        self.per_frame = reads_data_or_clock(ruleset)
        if not self.per_frame:
            evaluation = prepare(template.limit(0), ruleset, self.options, columns)
            self._evaluation = evaluation
            self._verdicts, self._outputs = row_level_columns(evaluation)
            self._aggs = [a.alias(k) for k, a in _all_aggs(evaluation).items()]

    def _for(self, df: DataFrame) -> Evaluation:
        if self.per_frame:
            return prepare(df, self.ruleset, self.options, self.columns)
        e = self._evaluation
        return Evaluation(df.withColumns(e.windows) if e.windows else df, e.compiled, e.ruleset, e.options)

    def add_row_level_results(self, df: DataFrame) -> DataFrame:
        """As the module's ``add_row_level_results``."""
        if self.per_frame:
            return _with_row_level(self._for(df), df.columns)
        helpers = [*self._evaluation.windows, *self._verdicts]
        return self._for(df).frame.withColumns(self._verdicts).withColumns(self._outputs).drop(*helpers)

    def outcomes(self, df: DataFrame) -> list[dict[str, Any]]:
        """As ``rule_outcomes``: every rule's dataset-level outcome over ``df``, one aggregation."""
        if self.per_frame:
            return outcomes_from(self._for(df))
        evaluation = self._for(df)
        values = evaluation.frame.agg(*self._aggs).collect()[0].asDict() if self._aggs else {}
        return _outcomes(evaluation, values)
